"""Bootstrap over groups: how much a pooled ratio (a DER, a mean cost) could move had other recordings
been drawn. Items of one group (the seeds of one recording, the windows of one change) are not
independent, so whole groups are resampled. Pure functions, numpy only."""

from __future__ import annotations

import numpy as np


def resampled_ratios(numerator: np.ndarray, denominator: np.ndarray, groups: np.ndarray, n_resamples: int = 2000,
                     seed: int = 0) -> np.ndarray:
    """sum(numerator) / sum(denominator) [R] over ``n_resamples`` draws, with replacement, of as many
    ``groups`` as there are (items [N] summed per group first); empty when there are no items.

    >>> resampled_ratios(np.array([1.0, 1.0]), np.array([2.0, 2.0]), np.array([0, 1]), 3).tolist()
    [0.5, 0.5, 0.5]
    """
    _, index = np.unique(groups, return_inverse=True)
    if not len(index):
        return np.zeros(0)
    n_groups = int(index.max()) + 1
    top = np.bincount(index, weights=numerator, minlength=n_groups)  # [G]
    bottom = np.bincount(index, weights=denominator, minlength=n_groups)
    picks = np.random.default_rng(seed).integers(0, n_groups, size=(n_resamples, n_groups))  # [R, G]
    total = bottom[picks].sum(axis=1)
    return np.divide(top[picks].sum(axis=1), total, out=np.full(n_resamples, np.nan), where=total != 0)


def relative_change_interval(before: np.ndarray, after: np.ndarray, groups: np.ndarray, level: float = 0.9,
                             n_resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile interval (``level``) of the pooled relative change sum(after) / sum(before) - 1 over
    bootstrap resamples of the ``groups`` [N]: e.g. ``before`` / ``after`` [N] are each hypothesis's
    DER error seconds (DER x scored seconds) before / after refinement, ``groups`` its recording.
    (nan, nan) with fewer than two groups: one recording says nothing about another.

    >>> g = np.repeat(np.arange(10), 5)
    >>> low, high = relative_change_interval(np.ones(50), np.full(50, 0.8), g)
    >>> round(low, 3), round(high, 3)
    (-0.2, -0.2)
    >>> low, high = relative_change_interval(np.ones(50), np.r_[np.full(25, 0.5), np.full(25, 1.5)], g)
    >>> bool(low < 0 < high)
    True
    """
    if len(np.unique(groups)) < 2:
        return float("nan"), float("nan")
    ratios = resampled_ratios(np.asarray(after, float), np.asarray(before, float), groups, n_resamples, seed) - 1
    ratios = ratios[np.isfinite(ratios)]
    if not len(ratios):
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(low), float(high)
