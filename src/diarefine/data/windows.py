"""Which windows a training cache holds: pure functions from reference changes and an error model.

For each reference change, K initial boundaries are drawn as ``true time + offset`` (offset
from the error model, hypothesis - reference). Then "false change" windows are added at the
model's rate, centred on speech with no reference change within half a window (2 s), between
the speaker talking there and another speaker of the file. A window's label is the reference
change nearest its centre within half a window (preferring the drawn one); with none, it is a
no-change window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..types import Change, Seconds, Turn
from ..units import WINDOW_S

DIFFICULTY_NAMES = ("easy", "medium", "hard")
#: |true offset| below these (s) is easy, then medium; anything else is hard.
DIFFICULTY_EDGES_S = (0.25, 0.75)
NO_CHANGE = -1
SOURCE_TRUE, SOURCE_FALSE = 0, 1


def difficulty(offset_s: float) -> int:
    """0 easy (|offset| < 0.25 s), 1 medium (< 0.75 s), 2 hard, -1 no change (NaN).

    >>> [difficulty(x) for x in (0.1, -0.5, 1.2, float("nan"))]
    [0, 1, 2, -1]
    """
    if np.isnan(offset_s):
        return NO_CHANGE
    return int(np.searchsorted(DIFFICULTY_EDGES_S, abs(offset_s), side="right"))


@dataclass(frozen=True)
class WindowSpec:
    """One training window before any audio is read."""

    center_s: Seconds
    left_speaker: str
    right_speaker: str
    change_index: int  # index of the labelled reference change in the file, -1 if none
    true_time_s: float  # NaN when the window holds no change
    source: int  # SOURCE_TRUE (drawn around a change) or SOURCE_FALSE (a false-change window)
    pause_s: float = 0.0  # the pause of the change the window was drawn around (its hypothesis's), 0 if none
    clean_overlap_s: float = 0.0  # likewise its overlap (`types.Change.clean_overlap_s`), 0 if none

    @property
    def offset_s(self) -> float:
        """True change minus window centre (s), NaN for a no-change window."""
        return self.true_time_s - self.center_s

    @property
    def has_change(self) -> bool:
        return not np.isnan(self.true_time_s)


def _label(center: float, times: np.ndarray, preferred: int, half_s: float) -> int:
    if preferred >= 0 and abs(times[preferred] - center) <= half_s:
        return preferred
    if times.size == 0:
        return -1
    nearest = int(np.argmin(np.abs(times - center)))
    return nearest if abs(times[nearest] - center) <= half_s else -1


def draw_windows(changes: Sequence[Change], turns: Sequence[Turn], duration_s: Seconds, offsets_s: np.ndarray,
                 false_change_rate: float, rng: np.random.Generator, window_s: Seconds = WINDOW_S) -> list[WindowSpec]:
    """Windows of one file: ``offsets_s`` [n_changes, K] drawn offsets; false windows at the given rate."""
    half = window_s / 2
    times = np.array([c.time for c in changes], dtype=float)
    out = []
    for i, change in enumerate(changes):
        for offset in offsets_s[i]:
            center = float(np.clip(change.time + offset, 0.0, duration_s))
            j = _label(center, times, i, half)
            out.append(WindowSpec(center, change.left_speaker, change.right_speaker, j,
                                  float(times[j]) if j >= 0 else float("nan"), SOURCE_TRUE, change.pause_s,
                                  change.clean_overlap_s))
    speakers = sorted({t.speaker for t in turns})
    n_false = int(rng.poisson(false_change_rate / (1 - false_change_rate) * len(out))) if false_change_rate > 0 else 0
    if n_false == 0 or len(speakers) < 2:
        return out
    weights = np.array([t.duration for t in turns], dtype=float)
    for _ in range(20 * n_false):
        if sum(w.source == SOURCE_FALSE for w in out) >= n_false:
            break
        turn = turns[rng.choice(len(turns), p=weights / weights.sum())]
        center = float(rng.uniform(turn.start, turn.end))
        if times.size and np.min(np.abs(times - center)) <= half:
            continue
        others = [s for s in speakers if s != turn.speaker]
        other = others[rng.integers(len(others))]
        left, right = (turn.speaker, other) if rng.random() < 0.5 else (other, turn.speaker)
        out.append(WindowSpec(center, left, right, -1, float("nan"), SOURCE_FALSE))
    return out
