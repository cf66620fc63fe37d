"""Hardened input and output: the RTTM domain (impossible times, line splitting, encodings, bounded
messages, 9-field lines, files with no speech), outputs checked before the work and written all
or nothing, turns a little past the audio, killed runs; with property-based tests that keep it so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
from fixtures import tiny_contrastive_checkpoint, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diarefine.audio import load_audio
from diarefine.changes import find_changes, move_changes
from diarefine.cli import main
from diarefine.errors import InputFileError
from diarefine.refine import Refiner
from diarefine.rttm import format_rttm, parse_rttm, parse_rttm_with_files, read_rttm
from diarefine.samples import bundled_sample
from diarefine.types import Turn
from diarefine.units import MAX_RECORDING_S
from diarefine.workers import remove_stale_partials

SAMPLE = bundled_sample()
LINE = "SPEAKER f 1 {} {} <NA> <NA> A <NA> <NA>"


# Reading: the domain ------------------------------------------------------------------------------

@pytest.mark.parametrize("start, duration, reason", [
    ("1e308", "1e308", "beyond 604800 s"),          # end = inf once added
    ("1e20", "1", "beyond 604800 s"),
    ("1e15", "1", "beyond 604800 s"),
    ("0", "1e12", "beyond 604800 s"),
    ("600000", "5000", "the turn ends at 605000 s"),  # each time fine, the end not
    ("inf", "1", "is not finite"),
    ("1_0", "1", "is not a number"),
    ("\u0661\u0662", "1", "is not a number"),         # Arabic-Indic digits
    ("\uff11\uff12", "1", "is not a number"),         # full-width digits
    ("0x10", "1", "is not a number"),
    ("-1", "1", "is negative"),
])
def test_impossible_times_are_refused_with_the_reason(start: str, duration: str, reason: str) -> None:
    with pytest.raises(InputFileError, match=reason):
        parse_rttm([LINE.format(start, duration)], "x.rttm")


def test_negative_zero_durations_that_vanish_and_exponents_read_sanely(caplog) -> None:
    turns = parse_rttm([LINE.format("-0.0", "1"), LINE.format("12", "1e-9"), LINE.format("2e0", "5E-1")])
    assert [(t.start, t.end) for t in turns] == [(0.0, 1.0), (2.0, 2.5)]
    assert format_rttm(turns).split()[3] == "0.000"  # not -0.000
    assert "zero duration" in caplog.text


def test_lines_split_at_newlines_only_and_name_the_right_line() -> None:
    text = (LINE.format(0, 1) + "\n" + "SPEAKER f 1 1 1 <NA> <NA> B\x0c <NA> <NA>\n"
            + LINE.format(3, 1) + "\u2028x\n")
    with pytest.raises(InputFileError, match=r"x.rttm:2: speaker label 'B\\x0c' holds the unprintable character U\+000C"):
        parse_rttm(text.split("\n")[:-1], "x.rttm")


@pytest.mark.parametrize("label", ["a\x00b", "a\u202eb", "a\u200db", "a\x07", "a\u00a0b"])
def test_control_and_invisible_characters_in_labels_are_refused(label: str) -> None:
    with pytest.raises(InputFileError, match="unprintable character"):
        parse_rttm([f"SPEAKER {label} 1 0 1 <NA> <NA> A <NA> <NA>"])
    with pytest.raises(InputFileError, match="unprintable character"):
        parse_rttm([f"SPEAKER f 1 0 1 <NA> <NA> {label} <NA> <NA>"])


def test_a_byte_order_mark_and_windows_line_ends_are_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.rttm"
    path.write_bytes(b"\xef\xbb\xbf" + (LINE.format(0, 1) + "\r\n" + LINE.format(2, 1) + "\r\n").encode())
    assert [t.start for t in read_rttm(path)["f"]] == [0.0, 2.0]


def test_error_messages_are_bounded() -> None:
    with pytest.raises(InputFileError) as info:
        parse_rttm([LINE.format("9" * 1_000_000 + "x", 1)])
    assert len(str(info.value)) < 300 and "(1000001 characters)" in str(info.value)
    with pytest.raises(InputFileError) as info:
        parse_rttm(["X" * 100_000 + " f 1 0 1"])
    assert len(str(info.value)) < 300


def test_nine_field_lines_are_read() -> None:
    assert parse_rttm(["SPEAKER f 1 0.5 1 <NA> <NA> A <NA>"]) == [Turn("f", 0.5, 1.5, "A")]


def test_a_file_with_no_speech_is_written_so_that_it_reads_back(tmp_path: Path) -> None:
    path = write(tmp_path / "silent.rttm", format_rttm([Turn("g", 0, 1, "A")], ["f", "g"]))
    assert read_rttm(path) == {"f": [], "g": [Turn("g", 0, 1, "A")]}
    assert read_rttm(write(tmp_path / "only.rttm", format_rttm([], ["f"]))) == {"f": []}
    with pytest.raises(InputFileError, match="the RTTM is empty"):
        read_rttm(write(tmp_path / "empty.rttm", "# nothing\n"))


def test_diarize_on_silence_writes_an_rttm_that_reads_back(tmp_path: Path, capsys) -> None:
    sf.write(tmp_path / "quiet.wav", [0.0] * 16_000, 16_000)
    assert main(["diarize", str(tmp_path / "quiet.wav"), "-o", str(tmp_path / "hyp.rttm")]) == 0
    assert read_rttm(tmp_path / "hyp.rttm") == {"quiet": []}
    assert main(["score", str(tmp_path / "hyp.rttm"), str(tmp_path / "hyp.rttm")]) == 0


# Writing and running ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def blocker(tmp_path_factory) -> Path:
    """A plain file, so that 'blocker/x' can never be created, even by root."""
    return write(tmp_path_factory.mktemp("out") / "blocker", "a file, not a folder\n")


def command_lines(blocker: Path, tmp: Path) -> dict[str, list[str]]:
    ref = str(SAMPLE.rttm)
    return {
        "refine": ["refine", str(SAMPLE.audio), ref, "-o", f"{blocker}/r.rttm", "--model", "bic"],
        "diarize": ["diarize", str(SAMPLE.audio), "-o", f"{blocker}/h.rttm"],
        "demo": ["demo", "--out", f"{blocker}/demo"],
        "perturb": ["perturb", ref, "-o", f"{blocker}/p.rttm"],
        "score --json": ["score", ref, ref, "--json", f"{blocker}/s.json"],
        "analyze --out (a file)": ["analyze", ref, ref, "--out", str(blocker)],
        "prepare": ["prepare", "--corpus", str(tmp), "-o", f"{blocker}/c.h5"],
        "fit-errors": ["fit-errors", ref, ref, "-o", f"{blocker}/e.json"],
        "simulate": ["simulate", str(tmp), "-o", f"{blocker}/sim"],
    }


@pytest.mark.parametrize("command", ["refine", "diarize", "demo", "perturb", "score --json", "analyze --out (a file)",
                                     "prepare", "fit-errors", "simulate"])
def test_unwritable_outputs_fail_before_the_work_with_exit_2(command: str, blocker: Path, tmp_path: Path,
                                                             capsys) -> None:
    started = time.perf_counter()
    assert main(command_lines(blocker, tmp_path)[command]) == 2
    err = capsys.readouterr().err
    assert "cannot write here" in err and str(blocker) in err and "Traceback" not in err
    assert time.perf_counter() - started < 20  # refused up front, not after diarizing or refining


def test_refine_writes_all_its_outputs_or_none(blocker: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out" / "r.rttm"
    args = ["refine", str(SAMPLE.audio), str(SAMPLE.rttm), "-o", str(out), "--model", "bic"]
    assert main([*args, "--json", f"{blocker}/r.json"]) == 2
    assert not out.exists() and not any((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True
    assert main([*args, "--json", str(tmp_path / "r.json")]) == 0
    assert out.exists() and (tmp_path / "r.json").exists()


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """The first 8 s of the bundled sample."""
    path = tmp_path_factory.mktemp("clip") / "clip.wav"
    sf.write(path, load_audio(SAMPLE.audio)[:8 * 16_000], 16_000)
    return path


def test_turns_a_little_past_the_audio_are_clipped_and_far_past_refused(clip: Path, caplog) -> None:
    turns = [Turn("clip", 0.5, 4.0, "A"), Turn("clip", 4.2, 8.6, "B")]  # labels rounded up past 8.0 s
    refined = Refiner("bic").refine_file(clip, turns).turns
    assert max(t.end for t in refined) == 8.0 and "clipped" in caplog.text
    with pytest.raises(InputFileError, match="audio lasts 8.00 s but the RTTM of 'clip' has speech until 9.50 s"):
        Refiner("bic").refine_file(clip, [Turn("clip", 0.5, 4.0, "A"), Turn("clip", 4.2, 9.5, "B")])


def test_demo_refuses_audio_shorter_than_its_reference(clip: Path, tmp_path: Path, capsys) -> None:
    assert main(["demo", "--audio", str(clip), "--ref", str(SAMPLE.rttm), "--out", str(tmp_path / "d")]) == 2
    assert "audio lasts 8.00 s" in capsys.readouterr().err and not (tmp_path / "d").exists()


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_partial_files_of_killed_runs_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "train.h5"
    stale = write(tmp_path / f"train.h5.partial-{dead_pid()}", "left by a killed run")
    live = write(tmp_path / f"train.h5.partial-{os.getppid()}", "another run, still going")
    assert remove_stale_partials(out) == [stale]
    assert not stale.exists() and live.exists()


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its new parent to reap it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def children(pid: int) -> list[int]:
    """PIDs whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_workers_exit_when_their_parent_is_killed() -> None:
    script = ("import time\nfrom diarefine.workers import process_pool\npool = process_pool(2)\n"
              "[f.result() for f in [pool.submit(time.sleep, 0.3) for _ in range(4)]]\n"
              "print('ready', flush=True)\ntime.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout.readline().strip() == "ready"
    workers = children(parent.pid)
    assert len(workers) >= 1 and all(alive(pid) for pid in workers)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.time() + 10
    while any(alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers)


# Keep it so: property-based tests -----------------------------------------------------------------

TOKENS = st.sampled_from(["SPEAKER", "f", "1", "0", "0.5", "1e3", "-0", "<NA>", "A", "B", "#", ";;", "1e400",
                          "\t", "nan", "7e5", "\x0c", "\u2028", "\ufeff", "SEGMENT", "", "9" * 90])


def in_domain(turns: list[Turn]) -> bool:
    return all(0 <= t.start < t.end <= MAX_RECORDING_S and t.file_id.isprintable() and t.speaker.isprintable()
               and " " not in t.file_id + t.speaker for t in turns)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=60), st.lists(TOKENS, max_size=12).map(" ".join)), max_size=6))
def test_the_reader_returns_turns_in_the_domain_or_an_input_error(lines: list[str]) -> None:
    try:
        turns, _ = parse_rttm_with_files(lines)
    except InputFileError as exc:
        assert len(str(exc)) < 400
        return
    assert in_domain(turns)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200))
def test_any_bytes_read_as_turns_or_an_input_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.rttm"
    path.write_bytes(data)
    try:
        grouped = read_rttm(path)
    except InputFileError:
        return
    assert in_domain([t for turns in grouped.values() for t in turns])


LABELS = st.text(st.characters(codec="ascii", categories=["L", "N", "P"]), min_size=1, max_size=8).filter(
    lambda s: not s.startswith(("#", ";;")) and s != "<NA>")
TIMES = st.integers(0, 10**9).map(lambda us: us / 1e6)  # on the 1 microsecond storage grid


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(LABELS, TIMES, st.integers(1, 10**8).map(lambda us: us / 1e6), LABELS), max_size=8),
       st.lists(LABELS, max_size=3))
def test_write_then_read_round_trips_exactly(rows, silent: list[str]) -> None:
    turns = sorted(Turn(f, s, s + d, spk) for f, s, d, spk in rows)
    silent = [f"{name}_silent" for name in silent]
    text = format_rttm(turns, silent)
    read, files = parse_rttm_with_files(text.split("\n"))
    assert sorted(read) == turns and set(files) == set(silent) - {t.file_id for t in turns}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 760), st.integers(1, 300), st.sampled_from("ABC")), min_size=1, max_size=7),
       st.lists(st.floats(-2.0, 2.0), min_size=7, max_size=7))
def test_moving_changes_anywhere_keeps_every_change(rows, shifts: list[float]) -> None:
    turns = [Turn("f", s / 100, min(8.0, (s + d) / 100), spk) for s, d, spk in rows]
    changes = find_changes(turns)
    moved = move_changes(turns, changes, [c.time + shift for c, shift in zip(changes, shifts)]).turns
    assert all(t.end > t.start >= 0 for t in moved)
    assert len(find_changes(moved)) == len(changes)  # none swallowed, none crossed a neighbour


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_contrastive_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


HYPOTHESES = st.lists(st.tuples(st.integers(0, 760), st.integers(5, 300), st.sampled_from("ABC")),
                      min_size=1, max_size=6).map(
    lambda rows: [Turn("clip", s / 100, min(8.0, (s + d) / 100), spk) for s, d, spk in rows])


@pytest.mark.parametrize("model", ["tiny", "silence-snap", "bic"])
def test_refine_returns_valid_turns_inside_the_audio(model: str, tiny_model: Path, clip: Path) -> None:
    refiner = Refiner(tiny_model if model == "tiny" else model, threshold=0.0)

    @settings(max_examples=25 if model == "tiny" else 10, deadline=None)
    @given(HYPOTHESES)
    def check(hypothesis: list[Turn]) -> None:
        refined = refiner.refine_file(clip, hypothesis).turns
        assert {t.file_id for t in refined} == {"clip"}
        assert {t.speaker for t in refined} == {t.speaker for t in hypothesis}
        assert all(0 <= t.start < t.end <= 8.0 for t in refined)
        assert len(find_changes(refined)) == len(find_changes(hypothesis))  # no change moved past a neighbour

    check()


def test_prepare_warns_about_recordings_with_no_usable_change(tmp_path: Path, caplog) -> None:
    from diarefine.data import PrepareConfig, prepare_cache
    from diarefine.data.corpus import Recording

    sf.write(tmp_path / "silent.wav", [0.0] * 30 * 16_000, 16_000)
    turns = read_rttm(SAMPLE.rttm)["sample"]
    recordings = [Recording("sample", SAMPLE.audio, tuple(turns)),
                  Recording("silent", tmp_path / "silent.wav", tuple(Turn("silent", t.start, t.end, t.speaker)
                                                                     for t in turns))]
    config = PrepareConfig(embeddings={"name": "dummy"}, error_model="gaussian-0.5", draws_per_change=2)
    _, n = prepare_cache(recordings, tmp_path / "c.h5", config)
    assert n > 0 and "1 of 2 recording(s) gave no training window" in caplog.text and "silent" in caplog.text
