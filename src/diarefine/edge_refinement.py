"""``--refine-edges``: move speech onsets and offsets next to silence to where the audio puts them.

An edge (`edges.py`) has "no speaker" on one side, which the boundary models (trained on
speaker pairs) never saw, so edges get their own refiner built on two independent cues read
from the 4 s window around each edge:

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
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .audio import AudioInfo, read_window
from .edges import ONSET, SpeechEdge, find_edges, move_edges
from .models.silence_snap import ENERGY_HOP_S, frame_energy_db
from .types import Seconds, Turn
from .vad import VAD_FRAME_S, speech_probabilities


@dataclass(frozen=True)
class EdgeConfig:
    """Settings of the edge refiner (lags fitted and gates chosen on simulated dev conversations 20-49)."""

    window_s: Seconds = 4.0
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


def crossings(active: np.ndarray, onset: bool, min_quiet: int = 1, min_active: int = 1) -> np.ndarray:
    """Frame indices where ``active`` [F] switches on (onset) or off (offset, the first quiet frame).

    Only active runs of at least ``min_active`` frames count, with at least ``min_quiet`` quiet
    frames on the silent side (the window's border counts as quiet).

    >>> a = np.array([0, 0, 1, 1, 1, 0, 1, 0, 0], bool)
    >>> crossings(a, True).tolist(), crossings(a, False).tolist(), crossings(a, False, 2, 2).tolist()
    ([2, 6], [5, 7], [])
    """
    padded = np.concatenate([[False], active, [False]]).astype(np.int8)
    starts, ends = np.flatnonzero(np.diff(padded) == 1), np.flatnonzero(np.diff(padded) == -1)
    quiet_before = starts - np.concatenate([[0], ends[:-1]])
    quiet_after = np.concatenate([starts[1:], [len(active)]]) - ends
    long_enough = ends - starts >= min_active
    if onset:
        return starts[long_enough & (quiet_before >= min_quiet)]
    return ends[long_enough & (quiet_after >= min_quiet)]


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
    for e, ok, onset in zip(energy.numpy(), frame_ok.numpy(), onsets):
        if ok.sum() < 50:
            out.append(None)
            continue
        floor, peak = np.percentile(e[ok], [5, 95])
        if peak - floor < config.min_dynamic_db:
            out.append(None)
            continue
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
    move = round((vad_s + energy_s) / 2, 6)
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
