"""Speech edges (onsets after silence, offsets before it): finding and moving them (pure functions
on `Turn`s, like `changes.py`), and the edge refiner behind ``--refine-edges``.

An edge is where the union of all speakers' speech starts or stops: one side is a speaker,
the other "no speaker". Speaker changes (`changes.py`) keep the silence or overlap between
their two turns when they move; edges are what moves that silence's borders.

The boundary models (trained on speaker pairs) never saw an edge, so edges get their own
refiner built on two independent cues read from the 4 s window around each edge:

* **VAD**: silero-vad's speech probability (32 ms frames) crossing ``vad_threshold``;
* **energy**: frame energy (25 ms every 10 ms, as ``silence-snap``) crossing
  ``floor + energy_ratio * (peak - floor)`` (5th / 95th percentiles of the window), with at
  least ``min_silence_s`` quiet on the silent side and ``min_speech_s`` active on the other.

Each cue proposes its crossing of the right direction (quiet -> active for an onset) nearest
the edge within ``radius_s``, minus that cue's lag (its median delay behind reference edges,
measured with ``benchmarks/calibrate_edges.py``). The edge moves to the two proposals' mean
only when they agree within ``agree_s`` and the move is at least ``min_move_s``: one cue alone
errs too often (a soft onset, a breath, a noise burst), and edges already right stay put.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..audio import AudioInfo, read_window
from ..changes import MoveResult
from ..dsp import ENERGY_HOP_S, VAD_FRAME_S, crossings, energy_range, frame_energy_db, speech_probabilities
from ..intervals import union
from ..rttm import group_by_file, merge_turns
from ..types import Seconds, Turn
from ..units import GRID_S, WINDOW_S, quantize_time

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


def file_edges(turns: Sequence[Turn], min_duration_s: Seconds = GRID_S,
               min_gap_s: Seconds = GRID_S) -> list[SpeechEdge]:
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


def find_edges(turns: Iterable[Turn], min_duration_s: Seconds = GRID_S,
               min_gap_s: Seconds = GRID_S) -> list[SpeechEdge]:
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
            lo = max(lo, previous_offset[edge.file_id] + GRID_S)
        if edge.kind == OFFSET:  # a turn ending here may have had its start moved by this region's onset
            lo = max([lo] + [new_start.get((edge.file_id, s), s) + GRID_S for s in starts_of_turns_ending[key]])
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


@dataclass(frozen=True)
class EdgeConfig:
    """Settings of the edge refiner (lags fitted and gates chosen on simulated dev conversations 20-49)."""

    window_s: Seconds = WINDOW_S
    radius_s: Seconds = 0.5  # farthest an edge may move
    vad_threshold: float = 0.5
    energy_ratio: float = 0.3
    min_dynamic_db: float = 15.0  # a window with less energy range gives no energy proposal
    min_silence_s: Seconds = 0.1
    min_speech_s: Seconds = 0.05
    agree_s: Seconds = 0.05  # the two cues must propose within this of each other
    min_move_s: Seconds = 0.04  # smaller moves are left alone
    vad_lag_s: tuple[Seconds, Seconds] = (0.027, 0.055)  # (onset, offset): crossing minus reference edge
    energy_lag_s: tuple[Seconds, Seconds] = (0.016, -0.017)
    batch_size: int = 64

    def __post_init__(self) -> None:
        if not 0 < self.radius_s < self.window_s / 2:
            raise ValueError("need 0 < radius_s < window_s / 2")
        if self.agree_s < 0 or self.min_move_s < 0:
            raise ValueError("agree_s and min_move_s must be >= 0")


def nearest(times_s: np.ndarray, radius_s: Seconds) -> float | None:
    """The time nearest 0 within ``radius_s`` (window-centred seconds), None if there is none."""
    times_s = times_s[np.abs(times_s) <= radius_s]
    return float(times_s[np.argmin(np.abs(times_s))]) if len(times_s) else None


def vad_proposals(probabilities: np.ndarray, onsets: Sequence[bool], config: EdgeConfig) -> list[float | None]:
    """Speech probabilities [B, F] (32 ms frames) -> each window's lag-corrected VAD proposal (s from its centre)."""
    out = []
    for p, onset in zip(probabilities, onsets):
        times = crossings(p > config.vad_threshold, onset) * VAD_FRAME_S - config.window_s / 2
        x = nearest(times, config.radius_s)
        out.append(None if x is None else x - config.vad_lag_s[0 if onset else 1])
    return out


def energy_proposals(waves: np.ndarray, valid: np.ndarray, onsets: Sequence[bool],
                     config: EdgeConfig) -> list[float | None]:
    """Windows [B, N] -> each window's lag-corrected energy proposal (s from its centre), None without one."""
    energy, frame_ok = frame_energy_db(torch.from_numpy(waves), torch.from_numpy(valid))
    min_quiet, min_active = round(config.min_silence_s / ENERGY_HOP_S), round(config.min_speech_s / ENERGY_HOP_S)
    out: list[float | None] = []
    for e, ok, onset in zip(energy, frame_ok, onsets):
        level = energy_range(e, ok)
        if level is None or level[1] - level[0] < config.min_dynamic_db:
            out.append(None)
            continue
        floor, peak = level
        e, ok = e.numpy(), ok.numpy()
        active = (e > floor + config.energy_ratio * (peak - floor)) & ok
        times = crossings(active, onset, min_quiet, min_active) * ENERGY_HOP_S + ENERGY_HOP_S / 2 - config.window_s / 2
        x = nearest(times, config.radius_s)
        out.append(None if x is None else x - config.energy_lag_s[0 if onset else 1])
    return out


def combine(vad_s: float | None, energy_s: float | None, config: EdgeConfig) -> float | None:
    """The agreed move (s), or None: both cues must propose, within ``agree_s``, a move of at least ``min_move_s``.

    >>> c = EdgeConfig()
    >>> combine(0.10, 0.12, c), combine(0.10, 0.30, c), combine(0.01, 0.02, c), combine(None, 0.1, c)
    (0.11, None, None, None)
    """
    if vad_s is None or energy_s is None or abs(vad_s - energy_s) > config.agree_s:
        return None
    move = quantize_time((vad_s + energy_s) / 2)
    return move if abs(move) >= config.min_move_s else None


@dataclass(frozen=True)
class EdgeRefinement:
    """What `EdgeRefiner.refine_file` did: the turns and every edge's fate (arrays aligned with ``edges``)."""

    turns: list[Turn]
    edges: list[SpeechEdge]
    move_s: np.ndarray  # [E] agreed move (s), NaN where the cues did not agree
    applied_times_s: list[Seconds]
    n_moved: int
    n_clamped: int
    seconds: float = field(default=0.0, compare=False)

    @property
    def n_kept(self) -> int:
        return int(np.isnan(self.move_s).sum())


class EdgeRefiner:
    """Refines every speech edge of a file's turns (see the module docstring)."""

    def __init__(self, config: EdgeConfig = EdgeConfig()) -> None:
        self.config = config

    def propose(self, waves: np.ndarray, valid: np.ndarray, onsets: Sequence[bool]) -> np.ndarray:
        """Windows [B, N] centred on edges -> agreed moves [B] (s), NaN where the cues disagree."""
        vad = vad_proposals(speech_probabilities(waves), onsets, self.config)  # zero outside the file
        energy = energy_proposals(waves, valid, onsets, self.config)
        return np.array([np.nan if (m := combine(v, e, self.config)) is None else m for v, e in zip(vad, energy)])

    def refine_file(self, info: AudioInfo, turns: Sequence[Turn]) -> EdgeRefinement:
        """Move the edges of one file's turns where both cues agree (the audio must cover the turns)."""
        began = time.perf_counter()
        edges = find_edges(turns)
        moves = np.full(len(edges), np.nan)
        size = self.config.batch_size
        for lo in range(0, len(edges), size):
            batch = edges[lo:lo + size]
            waves, valid = zip(*(read_window(info, e.time - self.config.window_s / 2, self.config.window_s)
                                 for e in batch))
            moves[lo:lo + len(batch)] = self.propose(np.stack(waves), np.stack(valid), [e.kind == ONSET for e in batch])
        wanted = [e.time if np.isnan(m) else e.time + m for e, m in zip(edges, moves)]
        moved = move_edges(turns, edges, wanted, info.duration_s)
        return EdgeRefinement(moved.turns, edges, moves, moved.applied_times, moved.n_moved, moved.n_clamped,
                              time.perf_counter() - began)
