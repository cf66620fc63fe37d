"""The command line: exit codes, messages on bad input, outputs written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures import write

from diarefine.cli import main
from diarefine.rttm import read_rttm, write_rttm
from diarefine.samples import bundled_sample, jitter_changes
from diarefine.types import Turn

REF = "SPEAKER f 1 0.0 5.0 <NA> <NA> A <NA> <NA>\nSPEAKER f 1 5.0 5.0 <NA> <NA> B <NA> <NA>\n" \
      "SPEAKER f 1 10.5 4.0 <NA> <NA> A <NA> <NA>\n"
HYP = "SPEAKER f 1 0.0 5.3 <NA> <NA> x <NA> <NA>\nSPEAKER f 1 5.3 4.5 <NA> <NA> y <NA> <NA>\n" \
      "SPEAKER f 1 10.2 4.3 <NA> <NA> x <NA> <NA>\n"


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    return write(tmp_path / "ref.rttm", REF), write(tmp_path / "hyp.rttm", HYP)


def test_score_prints_table_and_writes_json(pair, tmp_path: Path, capsys) -> None:
    ref, hyp = pair
    out = tmp_path / "score.json"
    assert main(["score", str(ref), str(hyp), str(ref), "--json", str(out), "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert "DER (collar 0, overlap scored)" in printed and "md-eval +/-250 ms" in printed
    data = json.loads(out.read_text())
    first, perfect = data["hypotheses"]
    assert perfect["der"]["collar 0"]["der"] == 0.0
    from diarefine.metrics.der import file_der

    expected = file_der(read_rttm(ref)["f"], read_rttm(hyp)["f"])
    assert first["der"]["collar 0"]["der"] == pytest.approx(expected.der)
    assert first["boundary"]["n_matched"] == 2
    assert first["boundary"]["matched"]["mae_s"] == pytest.approx(0.275)  # |5.3 - 5.0|, |10.0 - 10.25|


def test_analyze_writes_report_files(pair, tmp_path: Path) -> None:
    ref, hyp = pair
    out = tmp_path / "analysis"
    assert main(["analyze", str(ref), str(hyp), "--out", str(out), "--jobs", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["report.md", "report.json", "offset_histogram.json", "offset_histogram.png", "distance_cdf.png"])
    report = json.loads((out / "report.json").read_text())
    assert report["n_reference_changes"] == 2
    assert report["reference_to_nearest_hypothesis"]["median_s"] == pytest.approx(0.275)
    hist = json.loads((out / "offset_histogram.json").read_text())
    assert sum(hist["counts"]) == hist["n_matched"] == 2
    assert len(hist["bin_edges_s"]) == len(hist["counts"]) + 1
    assert (out / "offset_histogram.png").read_bytes()[:4] == b"\x89PNG"


def test_analyze_without_arguments_uses_the_bundled_sample(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", "--jobs", "1"]) == 0
    report = json.loads((tmp_path / "diarefine_analysis" / "report.json").read_text())
    assert report["n_reference_changes"] == report["n_hypothesis_changes"] > 0
    assert 0 < report["der"]["collar 0"]["der"] < 0.3
    assert "bundled pyannote sample" in capsys.readouterr().out


def test_bundled_sample_and_its_licence_ship_with_the_package() -> None:
    sample = bundled_sample()
    for path in (sample.audio, sample.rttm, sample.uem, sample.stm, sample.audio.parent / "LICENSE"):
        assert path.is_file(), path
    assert "MIT License" in (sample.audio.parent / "LICENSE").read_text()
    turns = read_rttm(sample.rttm)["sample"]
    jittered = jitter_changes(turns, seed=1)
    assert jittered != turns and jitter_changes(turns, seed=1) == jittered
    assert {t.speaker for t in jittered} == {t.speaker for t in turns}


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda d: ["score", str(write(d / "bad.rttm", "SPEAKER f 1 x 1 <NA> <NA> A <NA> <NA>\n")), str(d / "hyp.rttm")],
         "bad.rttm:1: start time 'x' is not a number"),
        (lambda d: ["score", str(d / "ref.rttm"), str(d / "missing.rttm")], "missing.rttm: file not found"),
        (lambda d: ["score", str(d / "ref.rttm"), str(write(d / "empty.rttm", ""))], "empty.rttm: no SPEAKER lines"),
        (lambda d: ["score", str(d / "ref.rttm"),
                    str(write(d / "other.rttm", "SPEAKER g 1 0 1 <NA> <NA> x <NA> <NA>\n"))], "--allow-missing"),
        (lambda d: ["score", str(d / "ref.rttm"), str(d / "hyp.rttm"), "--uem", str(write(d / "u.uem", "f 1 3\n"))],
         "u.uem:1: expected 4 UEM fields"),
        (lambda d: ["analyze", str(d / "ref.rttm")], "give both REF and HYP"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message_and_no_output(pair, tmp_path: Path, capsys, make_args, message) -> None:
    args = make_args(tmp_path) + ["--json" if make_args(tmp_path)[0] == "score" else "--out",
                                  str(tmp_path / "result")]
    before = set(tmp_path.iterdir())
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("diarefine: error: ") and message in err
    assert not (tmp_path / "result").exists()
    assert set(tmp_path.iterdir()) == before


def test_allow_missing_scores_reference_files_anyway(pair, tmp_path: Path) -> None:
    ref, hyp = pair
    write_rttm([Turn("f", 0, 5, "A"), Turn("g", 0, 4, "B")], tmp_path / "ref2.rttm")
    out = tmp_path / "s.json"
    assert main(["score", str(tmp_path / "ref2.rttm"), str(hyp), "--allow-missing", "--json", str(out)]) == 0
    result = json.loads(out.read_text())["hypotheses"][0]
    assert result["missing_hypothesis"] == ["g"]
    assert result["per_file"]["g"]["collar 0"]["missed"] == 1.0


def test_console_script_runs_as_a_module() -> None:
    done = subprocess.run([sys.executable, "-m", "diarefine.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("diarefine ")
    done = subprocess.run([sys.executable, "-m", "diarefine.cli", "score"], capture_output=True, text=True)
    assert done.returncode == 2 and "REF" in done.stderr


def test_building_the_parser_imports_neither_torch_nor_pyannote() -> None:
    code = ("import sys; from diarefine.cli import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'pyannote.metrics', 'lightning', 'h5py') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
