"""Hypothesis error models: fitting on a hand-made pair, sampling, save / load, perturb."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures import write

from diarefine.changes import find_changes
from diarefine.cli import main
from diarefine.errors import DiarefineError, InputFileError
from diarefine.rttm import merge_turns, read_rttm
from diarefine.simulate import (
    EmpiricalErrors,
    GaussianErrors,
    fit_error_model,
    load_error_model,
    perturb,
    save_error_model,
)
from diarefine.simulate.error_models import fit_histogram
from diarefine.types import Turn


def _turns(file_id: str, bounds: list[float], speakers: str) -> list[Turn]:
    return [Turn(file_id, a, b, s) for a, b, s in zip(bounds[:-1], bounds[1:], speakers)]


# reference changes at 10, 20, 30, 40; hypothesis at 10.1, 19.7, 35 (false), 40 (exact); 30 is missed
REF = {"f": _turns("f", [0, 10, 20, 30, 40, 50], "ABABA")}


def test_fitting_a_hand_made_pair() -> None:
    hyp = {"f": [Turn("f", 0, 10.1, "A"), Turn("f", 10.1, 19.7, "B"), Turn("f", 19.7, 35, "A"),
                 Turn("f", 35, 40, "B"), Turn("f", 40, 50, "A")]}
    # hyp changes 10.1, 19.7, 35, 40: 35 is 5 s from any reference change (false), 30 has none within 2 s (missed)
    hist = fit_histogram([(REF, hyp)])
    assert hist["n_matched"] == 3
    assert hist["false_change_rate"] == pytest.approx(1 / 4)
    assert hist["miss_rate"] == pytest.approx(1 / 4)
    counts = np.array(hist["counts"])
    edges = np.array(hist["bin_edges_s"])
    filled = sorted(round(edges[i], 2) for i in np.flatnonzero(counts))
    assert filled == [-0.3, 0.0, 0.1]  # offsets -0.3, 0.0, +0.1 land in their 20 ms bins
    model = EmpiricalErrors.from_histogram(hist)
    draws = model.sample_offsets(3000, np.random.default_rng(0))
    assert set(np.round(np.floor(draws / 0.02 + 1e-9) * 0.02, 2)) == {-0.3, 0.0, 0.1}


def test_fit_refuses_pairs_without_common_files() -> None:
    with pytest.raises(DiarefineError, match="no file id in common"):
        fit_histogram([(REF, {"other": REF["f"]})])


def test_models_round_trip_through_json_and_load_by_name(tmp_path: Path) -> None:
    model = fit_error_model([(REF, REF)], label="self")
    save_error_model(model, tmp_path / "m.json")
    again = load_error_model(tmp_path / "m.json")
    assert again == model and again.false_change_rate == 0.0
    assert isinstance(load_error_model("gaussian-0.5"), GaussianErrors)
    sharp = load_error_model("pyannote-like")  # the built-in diarizer's own errors: sharper, fewer false changes
    assert sharp.label == "pyannote-like" and sharp.false_change_rate < load_error_model("empirical").false_change_rate
    offsets = np.abs(sharp.sample_offsets(4000, np.random.default_rng(0)))
    assert 0.01 < np.median(offsets) < 0.08
    shipped = load_error_model("empirical")
    assert isinstance(shipped, EmpiricalErrors) and 0.1 < shipped.false_change_rate < 0.5
    with pytest.raises(InputFileError, match="gaussian-0.5"):
        load_error_model("gaussian-2")
    bad = write(tmp_path / "bad.json", '{"schema": "something else"}')
    with pytest.raises(DiarefineError, match="not a diarefine error model"):
        load_error_model(bad)


def test_gaussian_offsets_have_the_stated_spread() -> None:
    x = GaussianErrors("g", sigma_s=0.5).sample_offsets(20_000, np.random.default_rng(1))
    assert np.std(x) == pytest.approx(0.5, rel=0.03) and abs(np.mean(x)) < 0.02


def test_perturb_moves_drops_and_adds_changes_and_keeps_turns_valid() -> None:
    rng = np.random.default_rng(0)
    bounds = np.cumsum(rng.uniform(1.0, 6.0, 200))
    ref = _turns("long", list(np.round(np.concatenate([[0.0], bounds]), 3)), "ABC" * 67)
    model = EmpiricalErrors("e", false_change_rate=0.3, miss_rate=0.2, bin_edges_s=(-0.5, 0.5), counts=(1,))
    hyp, stats = perturb(ref, model, seed=1)
    again, _ = perturb(ref, model, seed=1)
    assert hyp == again
    assert all(t.end > t.start >= 0 for t in hyp) and {t.file_id for t in hyp} == {"long"}
    assert stats.n_missed > 10 and stats.n_spurious_segments > 10 and stats.n_moved > 100
    assert len(find_changes(merge_turns(hyp))) != len(find_changes(ref))
    h = fit_histogram([({"long": ref}, {"long": hyp})])
    assert max(abs(np.array(h["bin_edges_s"])[np.flatnonzero(h["counts"])])) <= 1.6


def test_fit_errors_and_perturb_cli(tmp_path: Path, capsys) -> None:
    ref = tmp_path / "ref.rttm"
    hyp = tmp_path / "hyp.rttm"
    write(ref, "".join(f"SPEAKER f 1 {t.start} {t.duration} <NA> <NA> {t.speaker} <NA> <NA>\n" for t in REF["f"]))
    write(hyp, "SPEAKER f 1 0 10.1 <NA> <NA> A <NA> <NA>\nSPEAKER f 1 10.1 40 <NA> <NA> B <NA> <NA>\n")
    assert main(["fit-errors", str(ref), str(hyp), "-o", str(tmp_path / "m.json")]) == 0
    assert load_error_model(tmp_path / "m.json").miss_rate == pytest.approx(3 / 4)
    assert main(["perturb", str(ref), "-o", str(tmp_path / "p.rttm"), "--error-model", "gaussian-0.5",
                 "--seed", "3"]) == 0
    assert set(read_rttm(tmp_path / "p.rttm")) == {"f"}
    assert main(["perturb", str(ref), "-o", str(tmp_path / "q.rttm"), "--error-model", "nope"]) == 2
    assert "error model not found" in capsys.readouterr().err and not (tmp_path / "q.rttm").exists()


def test_perturb_fits_spurious_segments_into_turns_that_are_just_long_enough() -> None:
    ref = _turns("tight", [round(1.3 * i, 6) for i in range(41)], "AB" * 20)  # every turn 1.3 s = the minimum host
    model = EmpiricalErrors("e", false_change_rate=0.6, bin_edges_s=(-0.01, 0.01), counts=(1,))
    hyp, stats = perturb(ref, model, seed=0)
    assert stats.n_spurious_segments > 5 and all(t.end > t.start for t in hyp)
