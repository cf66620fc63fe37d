"""Speaker change points of a set of turns, and the inverse: moving changes back into turns.

Definition (ARCHITECTURE.md): on a 10 ms grid, find the runs where exactly one speaker is
active. Two consecutive single-speaker runs of different speakers, separated by at most
2 s of silence or overlap, make one change at the midpoint of what separates them (the
exact instant if nothing does). Same-speaker turns that touch or overlap are merged first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .rttm import group_by_file, merge_turns
from .types import Change, Seconds, Turn
from .units import GRID_S, quantize_time

#: Longest silence or overlap between two runs that still makes a change.
MAX_SEPARATION_S: Seconds = 2.0


def to_frame(t: Seconds, frame_s: Seconds = GRID_S) -> int:
    """Index of the grid point nearest to ``t`` (halves round up).

    >>> to_frame(6.69), to_frame(0.005), to_frame(0.0049)
    (669, 1, 0)
    """
    return int(np.floor(t / frame_s + 0.5 + 1e-9))


def _single_speaker_runs(turns: Sequence[Turn], speakers: list[str], frame_s: Seconds):
    """Runs of grid frames where exactly one speaker is active, and how much overlap lies before each point.

    Works on the points where some turn starts or ends, not on every frame, so memory grows with
    the number of turns whatever the times (a file in milliseconds by mistake cannot make it huge).
    Returns ``(runs, points, overlap_before)``: ``runs`` an int array [n_runs, 3] of (first_frame,
    end_frame_exclusive, speaker_index); ``points`` [P] the sorted frames where the active set
    changes (every run boundary is one); ``overlap_before`` [P] the frames with two or more active
    speakers before each point.
    """
    index = {speaker: i for i, speaker in enumerate(speakers)}
    starts = np.array([to_frame(t.start, frame_s) for t in turns], dtype=np.int64)
    ends = np.array([to_frame(t.end, frame_s) for t in turns], dtype=np.int64)
    ids = np.array([index[t.speaker] + 1 for t in turns], dtype=np.int64)
    points = np.unique(np.concatenate([starts, ends]))
    at_start, at_end = np.searchsorted(points, starts), np.searchsorted(points, ends)
    count_delta = np.zeros(points.size, dtype=np.int64)
    id_delta = np.zeros(points.size, dtype=np.int64)
    np.add.at(count_delta, at_start, 1)
    np.add.at(count_delta, at_end, -1)
    np.add.at(id_delta, at_start, ids)
    np.add.at(id_delta, at_end, -ids)
    count = np.cumsum(count_delta)[:-1]  # [P - 1]: active speakers on [points[k], points[k + 1])
    id_sum = np.cumsum(id_delta)[:-1]
    lengths = np.diff(points)
    overlap_before = np.concatenate([[0], np.cumsum(np.where(count >= 2, lengths, 0))])
    label = np.where(count == 1, id_sum - 1, -1)
    # Runs: maximal stretches of segments with the same label (segments are contiguous).
    edges = np.flatnonzero(np.diff(label)) + 1
    first = np.concatenate([[0], edges]).astype(np.int64)
    last = np.concatenate([edges, [label.size]]).astype(np.int64)
    keep = label[first] >= 0 if label.size else np.zeros(0, bool)
    runs = np.stack([points[first[keep]], points[last[keep]], label[first[keep]]], axis=1) if label.size \
        else np.zeros((0, 3), np.int64)
    return runs, points, overlap_before


def file_changes(
    turns: Sequence[Turn],
    max_separation_s: Seconds = MAX_SEPARATION_S,
    frame_s: Seconds = GRID_S,
) -> list[Change]:
    """Change points of one file's turns (merged here), sorted by time."""
    turns = merge_turns(turns)
    if not turns:
        return []
    file_ids = {t.file_id for t in turns}
    if len(file_ids) != 1:
        raise ValueError(f"file_changes expects the turns of one file, got {sorted(file_ids)}")
    file_id = turns[0].file_id
    speakers = sorted({t.speaker for t in turns})
    runs, points, overlap_before = _single_speaker_runs(turns, speakers, frame_s)
    max_sep_frames = max_separation_s / frame_s + 1e-6
    changes = []
    for (_, left_end, left_id), (right_start, _, right_id) in zip(runs[:-1], runs[1:]):
        if left_id == right_id or right_start - left_end > max_sep_frames:
            continue
        n_overlap = int(overlap_before[np.searchsorted(points, right_start)]
                        - overlap_before[np.searchsorted(points, left_end)])
        changes.append(
            Change(
                file_id=file_id,
                time=quantize_time((left_end + right_start) / 2 * frame_s),
                left_speaker=speakers[left_id],
                right_speaker=speakers[right_id],
                left_end=quantize_time(left_end * frame_s),
                right_start=quantize_time(right_start * frame_s),
                overlap_s=quantize_time(n_overlap * frame_s),
            )
        )
    return changes


def find_changes(
    turns: Iterable[Turn],
    max_separation_s: Seconds = MAX_SEPARATION_S,
    frame_s: Seconds = GRID_S,
) -> list[Change]:
    """Change points of turns from any number of files, sorted by (file id, time).

    >>> [(c.time, c.left_speaker, c.right_speaker) for c in find_changes(
    ...     [Turn("f", 0, 5, "A"), Turn("f", 6, 9, "B"), Turn("f", 8, 12, "A")])]
    [(5.5, 'A', 'B'), (8.5, 'B', 'A')]
    """
    changes: list[Change] = []
    for file_turns in group_by_file(turns).values():
        changes.extend(file_changes(file_turns, max_separation_s, frame_s))
    return changes


@dataclass(frozen=True)
class MoveResult:
    """Outcome of `move_changes`: the new turns and what happened to each change."""

    turns: list[Turn]
    applied_times: list[Seconds]  # final time of each change, aligned with the input changes
    n_moved: int  # changes whose time changed
    n_clamped: int  # changes that could not go all the way to the requested time


def _turn_covering_frame(spans, frame: int, candidates: list[int]) -> int | None:
    for i in candidates:
        if spans[i][0] <= frame < spans[i][1]:
            return i
    return None


def _sides(change: Change, frames: list[tuple[int, int]], by_speaker: dict[str, list[int]],
           frame_s: Seconds) -> tuple[int, int]:
    """Indices of the two turns that make ``change``: the left speaker's turn covering the frame before
    ``left_end`` and the right speaker's covering ``right_start``."""
    left = _turn_covering_frame(frames, to_frame(change.left_end, frame_s) - 1, by_speaker[change.left_speaker])
    right = _turn_covering_frame(frames, to_frame(change.right_start, frame_s), by_speaker[change.right_speaker])
    if left is None or right is None:
        raise ValueError(f"change at {change.time:.3f} s of {change.file_id!r} does not match these turns")
    return left, right


def _move_in_file(file_turns: Sequence[Turn], changes: Sequence[Change], order: list[int],
                  new_times: Sequence[Seconds], applied: list[Seconds], min_duration_s: Seconds,
                  min_spacing_s: Seconds, frame_s: Seconds) -> tuple[list[Turn], tuple[int, int]]:
    """`move_changes` within one file: ``order`` lists its changes' indices in time order; fills
    ``applied`` and returns the moved turns and (changes moved, changes clamped)."""
    spans = [[t.start, t.end] for t in file_turns]
    frames = [(to_frame(t.start, frame_s), to_frame(t.end, frame_s)) for t in file_turns]
    by_speaker: dict[str, list[int]] = defaultdict(list)
    for i, t in enumerate(file_turns):
        by_speaker[t.speaker].append(i)
    # Each change must keep some of its two single-speaker runs: a move that swallowed the left run
    # into an overlap (or the right one) would delete the change instead of moving it.
    speakers = sorted({t.speaker for t in file_turns})
    runs = _single_speaker_runs(file_turns, speakers, frame_s)[0] if file_turns else np.zeros((0, 3), np.int64)
    run_start_by_end = {int(end): int(start) for start, end, _ in runs}
    run_end_by_start = {int(start): int(end) for start, end, _ in runs}
    n_moved = n_clamped = 0
    for rank, ci in enumerate(order):
        change = changes[ci]
        left, right = _sides(change, frames, by_speaker, frame_s)
        lo = spans[left][0] + min_duration_s - spans[left][1]
        hi = spans[right][1] - min_duration_s - spans[right][0]
        left_end, right_start = to_frame(change.left_end, frame_s), to_frame(change.right_start, frame_s)
        left_run_start = run_start_by_end.get(left_end, left_end) * frame_s
        if rank > 0 and to_frame(changes[order[rank - 1]].right_start, frame_s) * frame_s == left_run_start:
            left_run_start += applied[order[rank - 1]] - changes[order[rank - 1]].time  # moved with its change
        lo = max(lo, left_run_start + min_duration_s - change.left_end)
        hi = min(hi, run_end_by_start.get(right_start, right_start) * frame_s - min_duration_s - change.right_start)
        if any(f0 < right_start and f1 > left_end for i, (f0, f1) in enumerate(frames) if i not in (left, right)):
            lo, hi = 1.0, 0.0  # a third speaker overlaps the separation: shifting these two turns would not move it
        if rank > 0:
            lo = max(lo, applied[order[rank - 1]] + min_spacing_s - change.time)
        if rank + 1 < len(order):
            hi = min(hi, changes[order[rank + 1]].time - min_spacing_s - change.time)
        wanted = float(new_times[ci]) - change.time
        delta = 0.0 if lo > hi else min(max(wanted, lo), hi)
        n_clamped += abs(delta - wanted) > 1e-9
        if delta != 0.0:
            n_moved += 1
            spans[left][1] += delta
            spans[right][0] += delta
        applied[ci] = quantize_time(change.time + delta)
    moved = [Turn(t.file_id, s, e, t.speaker, t.channel) for (s, e), t in zip(spans, file_turns)]
    return moved, (n_moved, int(n_clamped))


def move_changes(
    turns: Iterable[Turn],
    changes: Sequence[Change],
    new_times: Sequence[Seconds],
    min_duration_s: Seconds = GRID_S,
    min_spacing_s: Seconds = GRID_S,
    frame_s: Seconds = GRID_S,
) -> MoveResult:
    """Move each change to its new time by shifting the left turn's end and the right turn's start.

    Moving a change by ``delta`` keeps the gap or overlap between the two turns. A move is
    clamped (and counted) where it would give a turn a duration below ``min_duration_s`` or
    bring the change within ``min_spacing_s`` of (or past) a neighbouring change of the same
    file, or swallow either single-speaker run of the change into an overlap (which would delete
    the change); a change whose separating overlap holds a third speaker is not moved.
    ``changes`` must be change points of ``turns`` (as from `find_changes`). Changes are applied
    in time order, each checked against its neighbours' final positions.

    >>> turns = [Turn("f", 0, 5, "A"), Turn("f", 6, 9, "B")]
    >>> result = move_changes(turns, find_changes(turns), [5.8])
    >>> [(t.start, t.end) for t in result.turns], result.n_clamped
    ([(0.0, 5.3), (6.3, 9.0)], 0)
    """
    if len(changes) != len(new_times):
        raise ValueError(f"{len(changes)} changes but {len(new_times)} new times")
    merged = group_by_file(merge_turns(turns))
    order_by_file: dict[str, list[int]] = defaultdict(list)
    for i in sorted(range(len(changes)), key=lambda i: (changes[i].file_id, changes[i].time)):
        order_by_file[changes[i].file_id].append(i)

    applied = [float(c.time) for c in changes]
    n_moved = n_clamped = 0
    out: list[Turn] = []
    for file_id, file_turns in merged.items():
        moved, clamped = _move_in_file(file_turns, changes, order_by_file.pop(file_id, []), new_times, applied,
                                       min_duration_s, min_spacing_s, frame_s)
        out += moved
        n_moved, n_clamped = n_moved + clamped[0], n_clamped + clamped[1]
    if order_by_file:
        raise ValueError(f"changes given for file ids with no turns: {sorted(order_by_file)}")
    return MoveResult(merge_turns(out), applied, n_moved, n_clamped)
