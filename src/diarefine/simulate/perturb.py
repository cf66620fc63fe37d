"""Make a realistic hypothesis from reference turns with an error model (for end-to-end tests).

Per file: (1) each reference change is missed with probability ``miss_rate``: the shorter of
its two turns is absorbed by the other speaker, as clustering does with short turns; (2) every
remaining change is moved by an offset drawn from the model (clamped so no turn vanishes or
crosses a neighbour); (3) spurious short segments of another speaker are cut into long turns
until about ``false_change_rate`` of the hypothesis changes are false ones (each segment makes
two changes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..changes import find_changes, move_changes
from ..rttm import group_by_file, merge_turns
from ..types import Seconds, Turn
from ..units import quantize_time
from .error_models import ErrorModel

#: Spurious segments: duration range (s) and the least room left on each side inside the host turn.
SPURIOUS_DURATION_S: tuple[Seconds, Seconds] = (0.3, 1.5)
SPURIOUS_MARGIN_S: Seconds = 0.5
SPURIOUS_LABEL = "spurious"


@dataclass(frozen=True)
class PerturbStats:
    n_reference_changes: int
    n_missed: int
    n_moved: int
    n_spurious_segments: int

    def summary_line(self) -> str:
        return (f"{self.n_reference_changes} reference changes: {self.n_missed} missed, {self.n_moved} moved, "
                f"{self.n_spurious_segments} spurious segments added")


def _absorb_missed(turns: list[Turn], model: ErrorModel, rng: np.random.Generator) -> tuple[list[Turn], int]:
    changes = find_changes(turns)
    missed = [c for c in changes if rng.random() < model.miss_rate]
    turns = list(turns)
    for change in missed:
        left = next((i for i, t in enumerate(turns) if t.speaker == change.left_speaker
                     and abs(t.end - change.left_end) < 1e-6), None)
        right = next((i for i, t in enumerate(turns) if t.speaker == change.right_speaker
                      and abs(t.start - change.right_start) < 1e-6), None)
        if left is None or right is None:  # already absorbed by an earlier miss
            continue
        short, long_ = (left, right) if turns[left].duration <= turns[right].duration else (right, left)
        turns[short] = replace(turns[short], speaker=turns[long_].speaker)
    return merge_turns(turns), len(missed)


def _add_spurious(turns: list[Turn], n_segments: int, rng: np.random.Generator) -> tuple[list[Turn], int]:
    turns = list(turns)  # a copy to edit (merged turns are read-only)
    speakers = sorted({t.speaker for t in turns})
    added = 0
    for _ in range(n_segments):
        lo_d, hi_d = SPURIOUS_DURATION_S
        hosts = [i for i, t in enumerate(turns) if t.duration >= lo_d + 2 * SPURIOUS_MARGIN_S]
        if not hosts:
            break
        weights = np.array([turns[i].duration for i in hosts])
        i = hosts[rng.choice(len(hosts), p=weights / weights.sum())]
        host = turns[i]
        duration = min(rng.uniform(lo_d, hi_d), host.duration - 2 * SPURIOUS_MARGIN_S)
        earliest = host.start + SPURIOUS_MARGIN_S
        start = quantize_time(rng.uniform(earliest, max(earliest, host.end - SPURIOUS_MARGIN_S - duration)))
        end = quantize_time(start + duration)
        others = [s for s in speakers if s != host.speaker] or [SPURIOUS_LABEL]
        label = others[rng.integers(len(others))]
        turns[i:i + 1] = [replace(host, end=start), replace(host, start=start, end=end, speaker=label),
                          replace(host, start=end)]
        added += 1
    return merge_turns(turns), added


def perturb_file(turns: Sequence[Turn], model: ErrorModel, rng: np.random.Generator) -> tuple[list[Turn], PerturbStats]:
    """A hypothesis for one file's reference turns (see the module docstring)."""
    turns = merge_turns(list(turns))
    n_ref = len(find_changes(turns))
    turns, n_missed = _absorb_missed(turns, model, rng)
    changes = find_changes(turns)
    offsets = model.sample_offsets(len(changes), rng)
    moved = move_changes(turns, changes, [c.time + o for c, o in zip(changes, offsets)])
    turns = moved.turns
    rate = model.false_change_rate
    expected_false = rate / (1 - rate) * len(changes) if rate > 0 else 0.0
    n_segments = int(rng.poisson(expected_false / 2)) if expected_false > 0 else 0
    turns, added = _add_spurious(turns, n_segments, rng)
    return turns, PerturbStats(n_ref, n_missed, moved.n_moved, added)


def perturb(reference: Sequence[Turn], model: ErrorModel, seed: int = 0) -> tuple[list[Turn], PerturbStats]:
    """Perturb turns of any number of files; each file gets its own stream seeded by (seed, file id)."""
    out: list[Turn] = []
    totals = np.zeros(4, dtype=int)
    for file_id, file_turns in sorted(group_by_file(reference).items()):
        rng = np.random.default_rng([seed, *file_id.encode()])
        turns, stats = perturb_file(file_turns, model, rng)
        out += turns
        totals += [stats.n_reference_changes, stats.n_missed, stats.n_moved, stats.n_spurious_segments]
    return out, PerturbStats(*map(int, totals))
