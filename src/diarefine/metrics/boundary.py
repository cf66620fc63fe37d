"""Boundary metrics (numpy only): per-window errors, and hypothesis-vs-reference change matching.

Two families, with the definitions of ARCHITECTURE.md:

* `window_metrics`: a model predicted an offset for each window; the error of a window with
  a true change is |predicted - true| (s). Windows without a true change count as "moved"
  when the prediction moved them by more than a threshold.
* `boundary_metrics`: no windows, just two sets of change points per file. Hypothesis and
  reference changes are matched one to one **on time only** (speaker labels of the two sides
  are unrelated), maximising the number of pairs within a tolerance and then minimising
  their total distance (Hungarian). Unmatched reference changes are misses, unmatched
  hypothesis changes false alarms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..types import Change, Seconds
from ..units import quantize_times

#: acc@X thresholds (s): share of errors at or below X.
ACCURACY_THRESHOLDS_S: tuple[Seconds, ...] = (0.05, 0.1, 0.2)
#: Tolerances (s) of change-point detection precision / recall / F1.
DETECTION_TOLERANCES_S: tuple[Seconds, ...] = (0.05, 0.1, 0.25, 0.5)
#: Tolerance (s) of the one-to-one matching behind matched-error statistics.
MATCH_TOLERANCE_S: Seconds = 2.0
#: A no-change window counts as moved when its prediction is further than this (s).
MOVED_THRESHOLD_S: Seconds = 0.1


def ms_label(threshold_s: Seconds) -> str:
    """``0.05 -> '50ms'``, used in metric names such as ``acc@50ms``."""
    return f"{round(threshold_s * 1000)}ms"


def _nan_to_none(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


@dataclass(frozen=True)
class ErrorSummary:
    """Summary of absolute boundary errors (s): MAE, median, RMSE and acc@X."""

    n: int
    mae_s: float
    median_s: float
    rmse_s: float
    accuracy: dict[Seconds, float]  # threshold (s) -> share of errors <= threshold

    @classmethod
    def of(cls, errors_s, thresholds_s: Sequence[Seconds] = ACCURACY_THRESHOLDS_S) -> "ErrorSummary":
        """Summarise absolute errors (any array-like of seconds; NaN summaries when empty).

        >>> s = ErrorSummary.of([0.0, 0.04, 0.1, 0.3])
        >>> round(s.mae_s, 3), round(s.median_s, 3), s.accuracy[0.05], s.accuracy[0.1]
        (0.11, 0.07, 0.5, 0.75)
        """
        errors = np.abs(np.asarray(errors_s, dtype=np.float64))
        if errors.size == 0:
            nan = float("nan")
            return cls(0, nan, nan, nan, {t: nan for t in thresholds_s})
        # A tiny epsilon keeps errors that are exactly X in binary floating point at acc@X.
        accuracy = {t: float(np.mean(errors <= t + 1e-9)) for t in thresholds_s}
        return cls(
            n=int(errors.size),
            mae_s=float(errors.mean()),
            median_s=float(np.median(errors)),
            rmse_s=float(np.sqrt(np.mean(errors**2))),
            accuracy=accuracy,
        )

    def to_dict(self) -> dict:
        out = {"n": self.n, "mae_s": _nan_to_none(self.mae_s), "median_s": _nan_to_none(self.median_s),
               "rmse_s": _nan_to_none(self.rmse_s)}
        out.update({f"acc@{ms_label(t)}": _nan_to_none(v) for t, v in self.accuracy.items()})
        return out


@dataclass(frozen=True)
class WindowMetrics:
    """Metrics of per-window predictions (see `window_metrics`)."""

    errors: ErrorSummary  # over windows that contain a true change
    n_no_change: int
    no_change_moved: float  # share of no-change windows moved by more than moved_threshold_s
    moved_threshold_s: Seconds

    def to_dict(self) -> dict:
        return {**self.errors.to_dict(), "n_no_change": self.n_no_change,
                f"no_change_moved@{ms_label(self.moved_threshold_s)}": _nan_to_none(self.no_change_moved)}


def window_metrics(
    pred_offset_s,
    true_offset_s,
    has_change,
    moved_threshold_s: Seconds = MOVED_THRESHOLD_S,
    thresholds_s: Sequence[Seconds] = ACCURACY_THRESHOLDS_S,
) -> WindowMetrics:
    """Boundary metrics of predicted offsets [N] against true offsets [N] (seconds).

    ``has_change`` [N] (bool) says which windows contain a true change; ``true_offset_s`` is
    ignored elsewhere. The "no refinement" baseline is ``pred_offset_s = 0``.

    >>> m = window_metrics([0.1, -0.2, 0.5], [0.0, 0.0, 0.0], [True, True, False])
    >>> round(m.errors.mae_s, 3), m.n_no_change, m.no_change_moved
    (0.15, 1, 1.0)
    """
    pred = np.asarray(pred_offset_s, dtype=np.float64)
    true = np.asarray(true_offset_s, dtype=np.float64)
    change = np.asarray(has_change, dtype=bool)
    if not (pred.shape == true.shape == change.shape) or pred.ndim != 1:
        raise ValueError(f"expected three [N] arrays, got shapes {pred.shape}, {true.shape}, {change.shape}")
    errors = ErrorSummary.of(np.abs(pred[change] - true[change]), thresholds_s)
    no_change = pred[~change]
    moved = float(np.mean(np.abs(no_change) > moved_threshold_s)) if no_change.size else float("nan")
    return WindowMetrics(errors, int(no_change.size), moved, moved_threshold_s)


def match_change_times(ref_s, hyp_s, tolerance_s: Seconds) -> tuple[np.ndarray, np.ndarray]:
    """Optimal one-to-one matching of two sets of times within a tolerance.

    Maximises the number of pairs with distance <= ``tolerance_s``, then minimises their
    summed distance. Times further apart than the tolerance never interact, so the problem
    splits into small connected groups, each solved by the Hungarian algorithm.
    Returns index arrays ``(ref_index, hyp_index)`` of the matched pairs, sorted by ref index.

    >>> match_change_times([1.0, 2.0], [1.9, 1.05, 7.0], 0.5)
    (array([0, 1]), array([1, 0]))
    """
    ref = np.asarray(ref_s, dtype=np.float64)
    hyp = np.asarray(hyp_s, dtype=np.float64)
    if ref.size == 0 or hyp.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    times = np.concatenate([ref, hyp])
    is_hyp = np.concatenate([np.zeros(ref.size, bool), np.ones(hyp.size, bool)])
    index = np.concatenate([np.arange(ref.size), np.arange(hyp.size)])
    order = np.argsort(times, kind="stable")
    times, is_hyp, index = times[order], is_hyp[order], index[order]
    breaks = np.flatnonzero(np.diff(times) > tolerance_s + 1e-9) + 1
    ref_out: list[int] = []
    hyp_out: list[int] = []
    for lo, hi in zip(np.concatenate([[0], breaks]), np.concatenate([breaks, [times.size]])):
        group_is_hyp = is_hyp[lo:hi]
        n_hyp = int(group_is_hyp.sum())
        if n_hyp == 0 or n_hyp == hi - lo:
            continue
        r_idx, h_idx = index[lo:hi][~group_is_hyp], index[lo:hi][group_is_hyp]
        if r_idx.size == 1 and h_idx.size == 1:
            ref_out.append(int(r_idx[0]))
            hyp_out.append(int(h_idx[0]))
            continue
        distance = np.abs(ref[r_idx][:, None] - hyp[h_idx][None, :])
        allowed = distance <= tolerance_s + 1e-9
        # Every allowed pair is worth more than any total distance saving: maximum cardinality first.
        bonus = tolerance_s * (min(r_idx.size, h_idx.size) + 1) + 1.0
        rows, cols = linear_sum_assignment(np.where(allowed, distance - bonus, 0.0))
        ok = allowed[rows, cols]
        ref_out.extend(r_idx[rows[ok]].tolist())
        hyp_out.extend(h_idx[cols[ok]].tolist())
    ref_arr = np.asarray(ref_out, dtype=np.int64)
    hyp_arr = np.asarray(hyp_out, dtype=np.int64)
    order = np.argsort(ref_arr, kind="stable")
    return ref_arr[order], hyp_arr[order]


def nearest_distances(from_s, to_s) -> np.ndarray:
    """Distance (s) from each time of ``from_s`` to the nearest time of ``to_s`` (inf if none).

    >>> nearest_distances([0.0, 5.0], [1.0, 4.5]).tolist()
    [1.0, 0.5]
    """
    src = np.asarray(from_s, dtype=np.float64)
    dst = np.sort(np.asarray(to_s, dtype=np.float64))
    if dst.size == 0:
        return np.full(src.shape, np.inf)
    pos = np.searchsorted(dst, src)
    before = dst[np.clip(pos - 1, 0, dst.size - 1)]
    after = dst[np.clip(pos, 0, dst.size - 1)]
    return np.minimum(np.abs(src - before), np.abs(src - after))


@dataclass(frozen=True)
class Detection:
    """Change-point detection at one tolerance: hits are one-to-one matches within it."""

    tolerance_s: Seconds
    n_hits: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class BoundaryMetrics:
    """Hypothesis-vs-reference change-point metrics, pooled over files."""

    n_ref: int
    n_hyp: int
    n_matched: int  # pairs within match_tolerance_s
    match_tolerance_s: Seconds
    matched: ErrorSummary  # |hyp - ref| of the matched pairs
    detection: tuple[Detection, ...]
    offsets_s: np.ndarray = field(repr=False)  # hyp - ref of matched pairs (signed)

    @property
    def n_missed(self) -> int:
        return self.n_ref - self.n_matched

    @property
    def n_false_alarm(self) -> int:
        return self.n_hyp - self.n_matched

    def to_dict(self) -> dict:
        out = {"n_ref": self.n_ref, "n_hyp": self.n_hyp, "n_matched": self.n_matched,
               "n_missed": self.n_missed, "n_false_alarm": self.n_false_alarm,
               "match_tolerance_s": self.match_tolerance_s,
               "matched": self.matched.to_dict()}
        for d in self.detection:
            key = ms_label(d.tolerance_s)
            out[f"precision@{key}"] = _nan_to_none(d.precision)
            out[f"recall@{key}"] = _nan_to_none(d.recall)
            out[f"f1@{key}"] = _nan_to_none(d.f1)
        return out


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def boundary_metrics(
    ref_changes: Mapping[str, Sequence[Change]],
    hyp_changes: Mapping[str, Sequence[Change]],
    match_tolerance_s: Seconds = MATCH_TOLERANCE_S,
    detection_tolerances_s: Sequence[Seconds] = DETECTION_TOLERANCES_S,
    thresholds_s: Sequence[Seconds] = ACCURACY_THRESHOLDS_S,
) -> BoundaryMetrics:
    """Match hypothesis to reference change points file by file (time only) and pool the results.

    Files present on one side only contribute all their changes as misses / false alarms.
    Each detection tolerance gets its own one-to-one matching.

    >>> ref = {"f": [Change("f", 10.0, "A", "B", 10.0, 10.0)]}
    >>> hyp = {"f": [Change("f", 10.08, "x", "y", 10.08, 10.08), Change("f", 20.0, "y", "x", 20.0, 20.0)]}
    >>> m = boundary_metrics(ref, hyp)
    >>> m.n_matched, m.n_false_alarm, round(m.matched.mae_s, 3), m.detection[0].recall, m.detection[1].recall
    (1, 1, 0.08, 0.0, 1.0)
    """
    n_ref = n_hyp = 0
    hits = dict.fromkeys(detection_tolerances_s, 0)
    offsets: list[np.ndarray] = []
    for file_id in sorted(set(ref_changes) | set(hyp_changes)):
        ref = np.array([c.time for c in ref_changes.get(file_id, ())], dtype=np.float64)
        hyp = np.array([c.time for c in hyp_changes.get(file_id, ())], dtype=np.float64)
        n_ref += ref.size
        n_hyp += hyp.size
        r, h = match_change_times(ref, hyp, match_tolerance_s)
        offsets.append(hyp[h] - ref[r])
        for tol in detection_tolerances_s:
            hits[tol] += len(match_change_times(ref, hyp, tol)[0])
    offsets_s = np.concatenate(offsets) if offsets else np.zeros(0)
    detection = []
    for tol in detection_tolerances_s:
        precision, recall = _ratio(hits[tol], n_hyp), _ratio(hits[tol], n_ref)
        f1 = 2 * hits[tol] / (n_ref + n_hyp) if n_ref + n_hyp else float("nan")
        detection.append(Detection(tol, hits[tol], precision, recall, f1))
    return BoundaryMetrics(
        n_ref=n_ref, n_hyp=n_hyp, n_matched=int(offsets_s.size), match_tolerance_s=match_tolerance_s,
        matched=ErrorSummary.of(np.abs(offsets_s), thresholds_s), detection=tuple(detection), offsets_s=offsets_s,
    )


#: Offset histogram: 20 ms bins over [-2, 2] s (the matching tolerance).
HISTOGRAM_BIN_S: Seconds = 0.02
HISTOGRAM_SCHEMA = "diarefine.offset_histogram/1"
HISTOGRAM_QUANTILES = (0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95)


def offset_histogram(offsets_s: np.ndarray, ref_to_hyp_s: np.ndarray, hyp_to_ref_s: np.ndarray,
                     tolerance_s: Seconds = MATCH_TOLERANCE_S) -> dict:
    """The ``diarefine.offset_histogram/1`` record: matched (hyp - ref) offsets in 20 ms bins over
    [-tolerance, tolerance], the share of hypothesis changes with no reference change within the
    tolerance (``false_change_rate``), the share of reference changes with no hypothesis change
    within it (``miss_rate``), and quantiles. ``*_to_*_s`` are nearest-change distances."""
    offsets_s = np.round(np.asarray(offsets_s, dtype=float), 6)  # the 1 us time grid: exact bin edges
    edges = quantize_times(np.arange(-tolerance_s, tolerance_s + HISTOGRAM_BIN_S / 2, HISTOGRAM_BIN_S))
    counts, _ = np.histogram(offsets_s, bins=edges)

    def quantiles(x: np.ndarray) -> dict:
        return {f"{q:g}": float(np.quantile(x, q)) if x.size else None for q in HISTOGRAM_QUANTILES}

    def share_beyond(d: np.ndarray) -> float:
        return float(np.mean(d > tolerance_s)) if d.size else float("nan")

    return {
        "schema": HISTOGRAM_SCHEMA,
        "offset_definition": "hypothesis change time - matched reference change time (s); "
                             f"one-to-one matching within {tolerance_s:g} s",
        "bin_edges_s": edges.tolist(),
        "counts": counts.astype(int).tolist(),
        "n_matched": int(offsets_s.size),
        "n_reference_changes": int(np.size(ref_to_hyp_s)),
        "n_hypothesis_changes": int(np.size(hyp_to_ref_s)),
        "false_change_rate": share_beyond(np.asarray(hyp_to_ref_s)),
        "miss_rate": share_beyond(np.asarray(ref_to_hyp_s)),
        "offset_quantiles_s": quantiles(offsets_s),
        "abs_offset_quantiles_s": quantiles(np.abs(offsets_s)),
    }
