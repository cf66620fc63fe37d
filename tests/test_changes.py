"""Change points (hand-worked cases) and moving them back into turns."""

from __future__ import annotations

import numpy as np
import pytest

from diarefine.changes import find_changes, move_changes
from diarefine.rttm import merge_turns
from diarefine.types import Turn


def T(start, end, speaker, file_id="f"):
    return Turn(file_id, start, end, speaker)


def summary(changes):
    return [(c.time, c.left_speaker, c.right_speaker, c.separation_s, c.overlap_s) for c in changes]


@pytest.mark.parametrize(
    "turns, expected",
    [
        # exact hand-over: the change is the instant itself
        ([T(0, 5, "A"), T(5, 9, "B")], [(5.0, "A", "B", 0.0, 0.0)]),
        # 1 s of silence: midpoint of the gap
        ([T(0, 5, "A"), T(6, 9, "B")], [(5.5, "A", "B", 1.0, 0.0)]),
        # 1 s of overlap: midpoint of the overlap
        ([T(0, 5, "A"), T(4, 9, "B")], [(4.5, "A", "B", 1.0, 1.0)]),
        # exactly 2 s of silence still makes a change; 2.01 s does not
        ([T(0, 5, "A"), T(7, 9, "B")], [(6.0, "A", "B", 2.0, 0.0)]),
        ([T(0, 5, "A"), T(7.01, 9, "B")], []),
        # B inside A's turn: the single-speaker runs on both sides are A, so no change
        ([T(0, 10, "A"), T(4, 6, "B")], []),
        # same speaker either side of a pause: no change
        ([T(0, 5, "A"), T(5.5, 9, "A")], []),
        # touching same-speaker turns are merged first: one change, at 4.0
        ([T(0, 2, "A"), T(2, 4, "A"), T(4, 6, "B")], [(4.0, "A", "B", 0.0, 0.0)]),
        # A, then silence, then B+C overlap, then C alone: one change A -> C spanning silence and overlap
        ([T(0, 5, "A"), T(5.5, 6.5, "B"), T(5.5, 9, "C")], [(5.75, "A", "C", 1.5, 1.0)]),
        # but a longer separation than 2 s makes none
        ([T(0, 5, "A"), T(5.5, 8, "B"), T(5.5, 10, "C")], []),
        # times are taken on the 10 ms grid: 6.434 -> 6.43, 6.436 -> 6.44
        ([T(0, 6.434, "A"), T(6.436, 9, "B")], [(6.435, "A", "B", 0.01, 0.0)]),
    ],
)
def test_hand_worked_change_points(turns, expected) -> None:
    assert summary(find_changes(turns)) == expected


def test_changes_of_several_files_are_grouped_and_sorted() -> None:
    turns = [T(0, 5, "A", "b"), T(0, 1, "X", "a"), T(5, 8, "B", "b"), T(1, 2, "Y", "a"), T(2, 3, "X", "a")]
    assert [(c.file_id, c.time) for c in find_changes(turns)] == [("a", 1.0), ("a", 2.0), ("b", 5.0)]


def test_move_keeps_gap_and_overlap() -> None:
    gap = [T(0, 5, "A"), T(6, 9, "B")]
    result = move_changes(gap, find_changes(gap), [5.2])
    assert [(t.start, t.end) for t in result.turns] == [(0.0, 4.7), (5.7, 9.0)]
    overlap = [T(0, 5, "A"), T(4, 9, "B")]
    result = move_changes(overlap, find_changes(overlap), [4.0])
    assert [(t.start, t.end) for t in result.turns] == [(0.0, 4.5), (3.5, 9.0)]
    assert (result.n_moved, result.n_clamped, result.applied_times) == (1, 0, [4.0])
    assert summary(find_changes(result.turns)) == [(4.0, "A", "B", 1.0, 1.0)]


def test_move_clamps_instead_of_making_non_positive_turns() -> None:
    turns = [T(0, 5, "A"), T(5, 5.5, "B"), T(10, 12, "C")]  # B's turn is 0.5 s; B -> C is 4.5 s: no change
    changes = find_changes(turns)
    assert summary(changes) == [(5.0, "A", "B", 0.0, 0.0)]
    result = move_changes(turns, changes, [6.0])
    b = [t for t in result.turns if t.speaker == "B"][0]
    assert b.duration == pytest.approx(0.01)
    assert result.n_clamped == 1 and result.applied_times == [5.49]


def test_move_never_crosses_a_neighbouring_change() -> None:
    turns = [T(0, 5, "A"), T(5, 6, "B"), T(6, 10, "A")]
    changes = find_changes(turns)
    result = move_changes(turns, changes, [6.5, 5.5])  # both try to jump over each other
    assert result.n_clamped == 2
    first, second = result.applied_times
    assert first < second
    assert [c.time for c in find_changes(result.turns)] == pytest.approx([first, second])


def test_move_rejects_changes_that_do_not_belong_to_the_turns() -> None:
    turns = [T(0, 5, "A"), T(5, 9, "B")]
    foreign = find_changes([T(0, 3, "A"), T(3, 9, "B")])
    with pytest.raises(ValueError, match="does not match"):
        move_changes(turns, foreign, [3.5])
    with pytest.raises(ValueError, match="new times"):
        move_changes(turns, find_changes(turns), [])


def test_random_moves_keep_turns_valid_and_changes_in_order() -> None:
    rng = np.random.default_rng(7)
    for _ in range(30):
        turns, t = [], 0.0
        for _ in range(25):
            speaker = "ABC"[rng.integers(3)]
            start = max(0.0, t + rng.uniform(-0.6, 1.0))
            end = start + rng.uniform(0.1, 4.0)
            turns.append(T(round(start, 3), round(end, 3), speaker))
            t = end
        changes = find_changes(turns)
        wanted = [c.time + rng.normal(0, 0.8) for c in changes]
        result = move_changes(turns, changes, wanted)
        assert all(turn.duration > 0 for turn in result.turns)
        assert {t.speaker for t in result.turns} == {t.speaker for t in merge_turns(turns)}
        assert np.all(np.diff(result.applied_times) > 0)
        unclamped_error = [abs(a - w) for a, w in zip(result.applied_times, wanted)]
        assert sum(e > 1e-6 for e in unclamped_error) == result.n_clamped


def test_change_kinds_and_an_oracle_that_moves_only_some_kinds_back() -> None:
    from diarefine.refine.compare import change_oracle

    # a 0.5 s pause (A -> B), a 0.4 s overlap (B -> A), an exact hand-over (A -> C)
    reference = [T(0, 4, "A"), T(4.5, 8.2, "B"), T(7.8, 12, "A"), T(12, 15, "C")]
    changes = find_changes(reference)
    assert [c.kind for c in changes] == ["pause", "overlap", "other"]
    hypothesis = move_changes(reference, changes, [c.time + 0.3 for c in changes]).turns
    assert change_oracle(reference, hypothesis) == merge_turns(reference)
    only_pause = find_changes(change_oracle(reference, hypothesis, kinds=("pause",)))
    assert [round(c.time - r.time, 6) for c, r in zip(only_pause, changes)] == [0.0, 0.3, 0.3]
    only_other = find_changes(change_oracle(reference, hypothesis, kinds=("other",)))
    assert [round(c.time - r.time, 6) for c, r in zip(only_other, changes)] == [0.3, 0.3, 0.0]
    with pytest.raises(ValueError, match="unknown change kinds"):
        change_oracle(reference, hypothesis, kinds=("abut",))
