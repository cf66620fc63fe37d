"""Speech edges of a set of turns (onsets after silence, offsets before it), and moving them.

An edge is where the union of all speakers' speech starts or stops: one side is a speaker,
the other "no speaker". Speaker changes (`changes.py`) keep the silence or overlap between
their two turns when they move; edges are what moves that silence's borders. Pure functions
on `Turn`s, like `changes.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .changes import FRAME_S, MoveResult
from .intervals import union
from .rttm import group_by_file, merge_turns
from .types import Seconds, Turn, quantize_time

ONSET, OFFSET = "onset", "offset"


@dataclass(frozen=True)
class SpeechEdge:
    """A speech onset (silence before, ``speaker`` after) or offset (``speaker`` before, silence after).

    ``lo`` / ``hi`` bound where the edge may go without emptying a turn, crossing another
    event of its speech region, or closing the silence next to it (seconds).
    """

    file_id: str
    time: Seconds
    kind: str  # ONSET or OFFSET
    speaker: str
    lo: Seconds
    hi: Seconds

    @property
    def left_speaker(self) -> str | None:
        return None if self.kind == ONSET else self.speaker

    @property
    def right_speaker(self) -> str | None:
        return self.speaker if self.kind == ONSET else None


def file_edges(turns: Sequence[Turn], min_duration_s: Seconds = FRAME_S,
               min_gap_s: Seconds = FRAME_S) -> list[SpeechEdge]:
    """Edges of one file's turns (merged here), sorted by time.

    >>> [(e.time, e.kind, e.speaker, e.lo, e.hi) for e in file_edges(
    ...     [Turn("f", 1, 4, "A"), Turn("f", 3, 5, "B"), Turn("f", 6, 8, "A")])]
    [(1.0, 'onset', 'A', 0.0, 2.99), (5.0, 'offset', 'B', 4.01, 5.99), (6.0, 'onset', 'A', 5.01, 7.99), (8.0, 'offset', 'A', 6.01, inf)]
    """
    turns = merge_turns(turns)
    if not turns:
        return []
    regions = union([(t.start, t.end) for t in turns])
    by_region: list[list[Turn]] = [[] for _ in regions]
    for turn, k in zip(turns, np.searchsorted(regions[:, 0], [t.start for t in turns], side="right") - 1):
        by_region[k].append(turn)
    edges = []
    for k, ((start, end), inside) in enumerate(zip(regions, by_region)):
        first = min(inside, key=lambda t: (t.start, t.speaker))
        last = max(inside, key=lambda t: (t.end, t.speaker))
        # Other events of the region: another turn's start after the onset, another turn's end before the offset.
        next_event = min([t.end for t in inside if t.start == start] + [t.start for t in inside if t.start > start])
        prev_event = max([t.start for t in inside if t.end == end] + [t.end for t in inside if t.end < end])
        before = regions[k - 1][1] + min_gap_s if k > 0 else 0.0
        after = regions[k + 1][0] - min_gap_s if k + 1 < len(regions) else float("inf")
        edges.append(SpeechEdge(first.file_id, float(start), ONSET, first.speaker, quantize_time(before),
                                quantize_time(next_event - min_duration_s)))
        edges.append(SpeechEdge(last.file_id, float(end), OFFSET, last.speaker, quantize_time(prev_event + min_duration_s),
                                after if k + 1 == len(regions) else quantize_time(after)))
    return edges


def find_edges(turns: Iterable[Turn], min_duration_s: Seconds = FRAME_S,
               min_gap_s: Seconds = FRAME_S) -> list[SpeechEdge]:
    """Edges of turns from any number of files, sorted by (file id, time)."""
    edges: list[SpeechEdge] = []
    for file_turns in group_by_file(turns).values():
        edges.extend(file_edges(file_turns, min_duration_s, min_gap_s))
    return edges


def move_edges(turns: Iterable[Turn], edges: Sequence[SpeechEdge], new_times: Sequence[Seconds],
               max_time_s: Seconds = float("inf")) -> MoveResult:
    """Move each edge to its new time, clamped to its [lo, hi] (and to ``[0, max_time_s]``).

    An onset moves the start of every turn that starts there, an offset the end of every turn
    that ends there. ``edges`` must be edges of ``turns`` (as from `find_edges`); the silence
    between an offset and the next onset, and a turn between its onset and offset, are checked
    against both edges' final positions, so neither closes.

    >>> turns = [Turn("f", 1, 4, "A"), Turn("f", 5, 8, "B")]
    >>> r = move_edges(turns, find_edges(turns), [0.8, 4.5, 4.4, 8.1])
    >>> [(t.start, t.end) for t in r.turns], r.applied_times, r.n_clamped
    ([(0.8, 4.5), (4.51, 8.1)], [0.8, 4.5, 4.51, 8.1], 1)
    """
    if len(edges) != len(new_times):
        raise ValueError(f"{len(edges)} edges but {len(new_times)} new times")
    merged = merge_turns(turns)
    starts = {(t.file_id, t.start) for t in merged}
    starts_of_turns_ending: dict[tuple[str, Seconds], list[Seconds]] = {}
    for t in merged:
        starts_of_turns_ending.setdefault((t.file_id, t.end), []).append(t.start)
    order = sorted(range(len(edges)), key=lambda i: (edges[i].file_id, edges[i].time, edges[i].kind == ONSET))
    applied = [float(e.time) for e in edges]
    new_start: dict[tuple[str, Seconds], Seconds] = {}
    new_end: dict[tuple[str, Seconds], Seconds] = {}
    n_moved = n_clamped = 0
    previous_offset: dict[str, Seconds] = {}
    for i in order:
        edge = edges[i]
        key = (edge.file_id, edge.time)
        if key not in (starts if edge.kind == ONSET else starts_of_turns_ending):
            raise ValueError(f"{edge.kind} at {edge.time:.3f} s of {edge.file_id!r} does not match these turns")
        lo, hi = max(edge.lo, 0.0), min(edge.hi, max_time_s)
        if edge.kind == ONSET and edge.file_id in previous_offset:
            lo = max(lo, previous_offset[edge.file_id] + FRAME_S)
        if edge.kind == OFFSET:  # a turn ending here may have had its start moved by this region's onset
            lo = max([lo] + [new_start.get((edge.file_id, s), s) + FRAME_S for s in starts_of_turns_ending[key]])
        wanted = float(new_times[i])
        if wanted == edge.time or lo > hi:  # left alone, or no room at all
            time = edge.time
        else:
            time = quantize_time(min(max(wanted, lo), hi))
        n_clamped += abs(time - wanted) > 1e-9
        n_moved += time != edge.time
        applied[i] = time
        (new_start if edge.kind == ONSET else new_end)[key] = time
        if edge.kind == OFFSET:
            previous_offset[edge.file_id] = time
    out = [Turn(t.file_id, new_start.get((t.file_id, t.start), t.start), new_end.get((t.file_id, t.end), t.end),
                t.speaker, t.channel) for t in merged]
    return MoveResult(merge_turns(out), applied, int(n_moved), int(n_clamped))
