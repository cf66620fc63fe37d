"""Speech edges (onsets / offsets next to silence): finding and moving them, and the edge refiner
on a clip with known edges (a stretch of the bundled sample's speech placed in near-silence)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diarefine.audio import SAMPLE_RATE, audio_info, load_audio
from diarefine.dsp import crossings
from diarefine.refine.edges import OFFSET, ONSET, EdgeConfig, EdgeRefiner, find_edges, move_edges
from diarefine.samples import bundled_sample
from diarefine.types import Turn

TURNS = [Turn("f", 1.0, 4.0, "A"), Turn("f", 3.0, 5.0, "B"), Turn("f", 6.0, 8.0, "A"), Turn("g", 0.5, 2.0, "C")]


def test_edges_are_the_borders_of_the_speech_union_with_their_room() -> None:
    edges = find_edges(TURNS)
    assert [(e.file_id, e.time, e.kind, e.speaker) for e in edges] == [
        ("f", 1.0, ONSET, "A"), ("f", 5.0, OFFSET, "B"), ("f", 6.0, ONSET, "A"), ("f", 8.0, OFFSET, "A"),
        ("g", 0.5, ONSET, "C"), ("g", 2.0, OFFSET, "C")]
    onset_f, offset_f = edges[0], edges[1]
    assert (onset_f.lo, onset_f.hi) == (0.0, 2.99)  # up to B's start inside the same speech region
    assert (offset_f.lo, offset_f.hi) == (4.01, 5.99)  # after A's end, before the next region
    assert onset_f.left_speaker is None and onset_f.right_speaker == "A"
    assert offset_f.left_speaker == "B" and offset_f.right_speaker is None


def test_moving_edges_never_closes_a_silence_or_empties_a_turn() -> None:
    edges = find_edges(TURNS)
    wanted = [0.5, 6.5, 5.5, 8.2, 2.5, 1.5]  # f's offset and onset try to cross; g's onset passes its end
    result = move_edges(TURNS, edges, wanted)
    f = [t for t in result.turns if t.file_id == "f"]
    g = [t for t in result.turns if t.file_id == "g"]
    assert [(t.start, t.end, t.speaker) for t in f] == [(0.5, 4.0, "A"), (3.0, 5.99, "B"), (6.0, 8.2, "A")]
    assert [(t.start, t.end) for t in g] == [(1.99, 2.0)]
    assert result.n_clamped == 4 and result.n_moved == 4


def test_unmoved_edges_leave_the_turns_as_they_were() -> None:
    edges = find_edges(TURNS)
    result = move_edges(TURNS, edges, [e.time for e in edges], max_time_s=7.0)  # 8.0 lies past max_time_s
    assert result.turns == sorted(TURNS) and result.n_moved == 0 and result.n_clamped == 0


def test_edges_that_do_not_belong_to_the_turns_are_refused() -> None:
    with pytest.raises(ValueError, match="does not match"):
        move_edges(TURNS[:1], find_edges(TURNS[1:2]), [5.0, 5.0])
    with pytest.raises(ValueError, match="new times"):
        move_edges(TURNS, find_edges(TURNS), [1.0])


def test_crossings_respect_the_minimum_quiet_and_active_lengths() -> None:
    active = np.array([0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0], bool)
    assert crossings(active, True, min_quiet=2).tolist() == [3]  # the run at 8 follows a single quiet frame
    assert crossings(active, False, min_quiet=2).tolist() == [11]
    assert crossings(active, True, min_active=4).tolist() == [3]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """2.5 s of the sample's speech (11.0-13.5 s) placed at 2.0 s in 7 s of faint noise: edges at 2.0 and 4.5 s."""
    speech = load_audio(bundled_sample().audio)[int(11.0 * SAMPLE_RATE):int(13.5 * SAMPLE_RATE)]
    audio = np.random.default_rng(0).normal(0, 1e-3, 7 * SAMPLE_RATE).astype(np.float32)
    audio[2 * SAMPLE_RATE:2 * SAMPLE_RATE + len(speech)] += speech
    path = tmp_path_factory.mktemp("edges") / "clip.wav"
    sf.write(path, audio, SAMPLE_RATE)
    return path


def test_edges_placed_in_the_silence_are_pulled_back_onto_the_speech(clip: Path) -> None:
    result = EdgeRefiner().refine_file(audio_info(clip), [Turn("clip", 1.7, 4.8, "A")])
    (turn,) = result.turns
    assert abs(turn.start - 2.0) < 0.06 and abs(turn.end - 4.5) < 0.06
    assert result.n_moved == 2 and result.n_kept == 0


def test_edges_already_in_place_stay(clip: Path) -> None:
    result = EdgeRefiner().refine_file(audio_info(clip), [Turn("clip", 2.0, 4.5, "A")])
    assert result.turns == [Turn("clip", 2.0, 4.5, "A")] and result.n_moved == 0


def test_edges_stay_when_the_cues_cannot_agree(clip: Path) -> None:
    strict = EdgeConfig(agree_s=0.0)
    result = EdgeRefiner(strict).refine_file(audio_info(clip), [Turn("clip", 1.7, 4.8, "A")])
    assert result.turns == [Turn("clip", 1.7, 4.8, "A")] and result.n_kept == 2


def test_bad_edge_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="radius_s"):
        EdgeConfig(radius_s=3.0)
