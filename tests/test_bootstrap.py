"""Bootstrap intervals over groups (`diarefine.metrics.bootstrap`)."""

from __future__ import annotations

import numpy as np

from diarefine.metrics.bootstrap import relative_change_interval, resampled_ratios


def test_resamples_draw_whole_groups() -> None:
    # group 0: ratio 0 (numerator 0), group 1: ratio 1; a resample is a mix of whole groups only
    numerator = np.array([0.0, 0.0, 3.0, 3.0])
    denominator = np.array([1.0, 1.0, 3.0, 3.0])
    ratios = resampled_ratios(numerator, denominator, np.array([0, 0, 1, 1]), n_resamples=500)
    assert set(np.round(ratios, 6)) <= {0.0, 0.75, 1.0}  # 0+0 / 2, (0 + 6) / (2 + 6), 6 / 6
    assert {0.0, 0.75, 1.0} <= set(np.round(ratios, 6))


def test_the_interval_holds_the_pooled_change_and_widens_with_disagreement() -> None:
    g = np.repeat(np.arange(8), 5)
    before = np.ones(40)
    agree = np.full(40, 0.8)  # every recording -20%
    disagree = np.where(g % 2 == 0, 0.4, 1.2)  # half -60%, half +20%: pooled -20%
    low_a, high_a = relative_change_interval(before, agree, g)
    low_d, high_d = relative_change_interval(before, disagree, g)
    assert np.isclose(low_a, -0.2) and np.isclose(high_a, -0.2)
    assert low_d < -0.2 < high_d and high_d - low_d > 0.3


def test_the_interval_is_deterministic_and_undefined_for_one_recording() -> None:
    g = np.repeat(np.arange(5), 3)
    rng = np.random.default_rng(1)
    before, after = rng.uniform(1, 2, 15), rng.uniform(0.5, 2, 15)
    assert relative_change_interval(before, after, g) == relative_change_interval(before, after, g)
    assert all(np.isnan(relative_change_interval(before, after, np.zeros(15))))
