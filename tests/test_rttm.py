"""RTTM / UEM parsing, writing, merging and pyannote.core conversion."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures import write
from pyannote.core import Annotation, Segment

from diarefine.errors import InputFileError
from diarefine.rttm import (
    cap_speakers,
    format_rttm,
    from_annotation,
    from_timeline,
    group_by_file,
    load_rttms,
    load_uems,
    merge_turns,
    parse_rttm,
    read_rttm,
    read_uem,
    to_annotation,
    to_timeline,
    write_rttm,
    write_uem,
)
from diarefine.types import Region, Turn


def test_reads_interleaved_files_grouped_and_sorted(rttm_file: Path) -> None:
    turns = read_rttm(rttm_file)
    assert list(turns) == ["conv", "other"]
    assert [(t.start, t.end, t.speaker) for t in turns["conv"]] == [
        (0.0, 5.0, "A"), (6.0, 9.0, "B"), (8.5, 10.0, "A"), (10.0, 12.0, "A"), (15.0, 17.0, "B")]
    assert [(t.start, t.end, t.speaker) for t in turns["other"]] == [(1.0, 3.0, "X"), (3.0, 7.0, "Y")]


@pytest.mark.parametrize(
    "line, reason",
    [
        ("SPEAKER f 1 0.0 1.0 <NA> <NA> A", "expected 10 fields"),
        ("SPEAKER f 1 0.0 1.0 <NA> <NA> A <NA> <NA> extra", "expected 10 fields"),
        ("SPEAKER f 1 zero 1.0 <NA> <NA> A <NA> <NA>", "start time 'zero' is not a number"),
        ("SPEAKER f 1 0.0 -1.0 <NA> <NA> A <NA> <NA>", "duration '-1.0' is negative"),
        ("SPEAKER f 1 -2.0 1.0 <NA> <NA> A <NA> <NA>", "start time '-2.0' is negative"),
        ("SPEAKER f 1 nan 1.0 <NA> <NA> A <NA> <NA>", "is not finite"),
        ("SPEAKER f 1 0.0 inf <NA> <NA> A <NA> <NA>", "is not finite"),
        ("SPEAKR f 1 0.0 1.0 <NA> <NA> A <NA> <NA>", "unknown RTTM type 'SPEAKR'"),
        ("SPEAKER f 1 0.0 1.0 <NA> <NA> <NA> <NA> <NA>", "speaker label"),
        ("f 1 0.0 1.0", "unknown RTTM type"),
    ],
)
def test_malformed_line_names_path_line_and_reason(tmp_path: Path, line: str, reason: str) -> None:
    path = write(tmp_path / "bad.rttm", "SPEAKER f 1 5.0 1.0 <NA> <NA> A <NA> <NA>\n\n" + line + "\n")
    with pytest.raises(InputFileError) as info:
        read_rttm(path)
    message = str(info.value)
    assert message.startswith(f"{path}:3: ")
    assert reason in message


def test_other_nist_types_are_skipped_and_zero_durations_dropped(tmp_path: Path) -> None:
    path = write(tmp_path / "nist.rttm",
                 "SPKR-INFO f 1 <NA> <NA> <NA> unknown A <NA> <NA>\n"
                 "SPEAKER f 1 0.0 0.0 <NA> <NA> A <NA> <NA>\n"
                 "SPEAKER f 1 1.0 2.0 <NA> <NA> A <NA> <NA>\n")
    assert read_rttm(path) == {"f": [Turn("f", 1.0, 3.0, "A")]}


def test_empty_or_missing_or_binary_files_are_clear_errors(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.rttm", "# only a comment\n\n")
    with pytest.raises(InputFileError, match="empty"):
        read_rttm(empty)
    assert read_rttm(empty, allow_empty=True) == {}
    with pytest.raises(InputFileError, match="file not found"):
        read_rttm(tmp_path / "nope.rttm")
    binary = tmp_path / "binary.rttm"
    binary.write_bytes(b"\xff\xfe\x00\x81RIFF")
    with pytest.raises(InputFileError, match="not a UTF-8 text file"):
        read_rttm(binary)
    with pytest.raises(InputFileError, match="is a folder"):
        read_rttm(tmp_path)


def test_write_then_read_gives_the_same_turns(tmp_path: Path, rttm_file: Path) -> None:
    original = read_rttm(rttm_file)
    path = tmp_path / "out" / "copy.rttm"
    write_rttm([t for turns in original.values() for t in turns], path)
    assert read_rttm(path) == original
    # Times with floating-point noise and sub-millisecond precision survive exactly too.
    noisy = [Turn("f", 0.1 + 0.2, 0.1 + 0.2 + 0.43, "A"), Turn("f", 1.234567, 2.0000004, "B", channel="2")]
    write_rttm(noisy, path)
    back = read_rttm(path)["f"]
    assert back == sorted(noisy)
    assert [t.channel for t in back] == ["1", "2"]
    assert "SPEAKER f 1 0.300 0.430 <NA> <NA> A <NA> <NA>" in path.read_text()


def test_format_matches_the_usual_rttm_layout() -> None:
    text = format_rttm(parse_rttm(["SPEAKER rec 1 6.69 0.43 <NA> <NA> spk1 <NA> <NA>"]))
    assert text == "SPEAKER rec 1 6.690 0.430 <NA> <NA> spk1 <NA> <NA>\n"


def test_failed_write_leaves_no_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "out.rttm"

    class Boom:
        file_id = "f"

    with pytest.raises(Exception):
        write_rttm([Turn("f", 0, 1, "A"), Boom()], path)  # type: ignore[list-item]
    assert list(tmp_path.iterdir()) == []


def test_merge_touching_and_overlapping_same_speaker_turns(rttm_file: Path) -> None:
    merged = merge_turns(read_rttm(rttm_file)["conv"])
    assert [(t.start, t.end, t.speaker) for t in merged] == [
        (0.0, 5.0, "A"), (6.0, 9.0, "B"), (8.5, 12.0, "A"), (15.0, 17.0, "B")]


def test_load_folder_matches_by_file_id_and_refuses_duplicates(tmp_path: Path) -> None:
    folder = tmp_path / "rttms"
    folder.mkdir()
    write(folder / "a.rttm", "SPEAKER one 1 0 1 <NA> <NA> A <NA> <NA>\n")
    write(folder / "b.rttm", "SPEAKER two 1 0 1 <NA> <NA> A <NA> <NA>\nSPEAKER three 1 0 1 <NA> <NA> B <NA> <NA>\n")
    write(folder / "notes.txt", "not an rttm")
    assert list(load_rttms(folder)) == ["one", "three", "two"]
    write(folder / "c.rttm", "SPEAKER one 1 5 1 <NA> <NA> A <NA> <NA>\n")
    with pytest.raises(InputFileError, match="file id 'one' is also in"):
        load_rttms(folder)
    (tmp_path / "none").mkdir()
    with pytest.raises(InputFileError, match=r"folder holds no \*.rttm file"):
        load_rttms(tmp_path / "none")


def test_uem_read_write_and_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "a.uem", "f 1 0.0 10.0\nf 1 20.0 30.5\ng 1 0 5\n")
    uem = read_uem(path)
    assert uem["f"] == [Region("f", 0.0, 10.0), Region("f", 20.0, 30.5)]
    write_uem([r for rs in uem.values() for r in rs], tmp_path / "b.uem")
    assert load_uems(tmp_path / "b.uem") == uem
    bad = write(tmp_path / "bad.uem", "f 1 10.0 5.0\n")
    with pytest.raises(InputFileError, match=r"bad.uem:1: end time 5.0 is not after start time 10.0"):
        read_uem(bad)
    with pytest.raises(InputFileError, match="expected 4 UEM fields"):
        read_uem(write(tmp_path / "bad2.uem", "f 0.0 5.0\n"))


def test_pyannote_conversion_both_ways() -> None:
    turns = [Turn("f", 0.0, 5.0, "A"), Turn("f", 4.0, 9.0, "B"), Turn("f", 10.0, 12.0, "A")]
    annotation = to_annotation(turns)
    assert isinstance(annotation, Annotation)
    assert annotation.uri == "f"
    assert annotation.label_duration("A") == pytest.approx(7.0)
    assert from_annotation(annotation) == turns
    other = Annotation(uri="g")
    other[Segment(1, 2)] = 7
    assert from_annotation(other) == [Turn("g", 1, 2, "7")]
    regions = [Region("f", 0, 10), Region("f", 20, 30)]
    assert from_timeline(to_timeline(regions)) == regions


def test_merged_turns_are_read_only_and_merging_them_again_is_free() -> None:
    import copy
    import pickle

    merged = merge_turns([Turn("f", 0, 1, "A"), Turn("f", 1, 2, "A"), Turn("g", 0, 1, "B")])
    assert merged == [Turn("f", 0, 2, "A"), Turn("g", 0, 1, "B")] and merge_turns(merged) is merged
    for edit in (lambda t: t.append(t[0]), lambda t: t.sort(), lambda t: t.__setitem__(0, t[1])):
        with pytest.raises(TypeError, match="read-only"):
            edit(merged)
    assert pickle.loads(pickle.dumps(merged)) == merged and merge_turns(copy.deepcopy(merged)) == merged
    assert all(merge_turns(group) is group for group in group_by_file(merged).values())
    assert list(merged) + [Turn("h", 0, 1, "C")] != merged  # copies are plain lists to edit


def test_cap_speakers_drops_the_latest_comers_beyond_the_cap_and_keeps_the_rest() -> None:
    turns = [Turn("f", 0, 4, "A"), Turn("f", 1, 3, "B"), Turn("f", 2, 5, "C"), Turn("f", 6, 7, "C")]
    capped = cap_speakers(turns, 2)
    assert capped == [Turn("f", 0, 4, "A"), Turn("f", 1, 3, "B"), Turn("f", 3, 5, "C"), Turn("f", 6, 7, "C")]
    speech = lambda ts: sum(t.end - t.start for t in ts)  # noqa: E731
    assert speech(turns) - speech(capped) == pytest.approx(1.0)  # the one second when three talked
    assert cap_speakers(turns, 3) == merge_turns(turns) and cap_speakers([], 2) == []
    other_file = [Turn("g", 0, 5, "D"), Turn("g", 0, 5, "E")]  # files do not talk over each other
    assert cap_speakers(turns + other_file, 2) == sorted(capped + other_file)
    assert cap_speakers(turns, 1) == [Turn("f", 0, 4, "A"), Turn("f", 4, 5, "C"), Turn("f", 6, 7, "C")]
    with pytest.raises(ValueError, match="at least 1"):
        cap_speakers(turns, 0)
