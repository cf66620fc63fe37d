"""Boundary metrics on tiny hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from diarefine.metrics.boundary import (
    ErrorSummary,
    boundary_metrics,
    match_change_times,
    nearest_distances,
    window_metrics,
)
from diarefine.types import Change


def C(t, file_id="f"):
    return Change(file_id, t, "L", "R", t, t)


def test_error_summary_by_hand() -> None:
    s = ErrorSummary.of([-0.3, 0.05, 0.1, 0.0])  # signs are dropped
    assert s.n == 4
    assert s.mae_s == pytest.approx(0.1125)
    assert s.median_s == pytest.approx(0.075)
    assert s.rmse_s == pytest.approx(math.sqrt((0.09 + 0.0025 + 0.01) / 4))
    assert s.accuracy == {0.05: 0.5, 0.1: 0.75, 0.2: 0.75}
    empty = ErrorSummary.of([])
    assert empty.n == 0 and math.isnan(empty.mae_s)
    assert empty.to_dict()["mae_s"] is None


def test_window_metrics_by_hand() -> None:
    pred = [0.10, -0.30, 0.00, 0.05, 0.50]
    true = [0.00, -0.10, 1.00, 0.00, 0.00]
    has_change = [True, True, True, False, False]
    m = window_metrics(pred, true, has_change)
    # errors: 0.1, 0.2, 1.0 -> MAE 0.4333, median 0.2
    assert m.errors.n == 3
    assert m.errors.mae_s == pytest.approx(1.3 / 3)
    assert m.errors.median_s == pytest.approx(0.2)
    assert m.errors.accuracy[0.1] == pytest.approx(1 / 3)
    assert m.errors.accuracy[0.2] == pytest.approx(2 / 3)
    # no-change windows: 0.05 (not moved at 100 ms), 0.5 (moved)
    assert (m.n_no_change, m.no_change_moved) == (2, 0.5)
    assert m.to_dict()["no_change_moved@100ms"] == 0.5
    with pytest.raises(ValueError, match="shapes"):
        window_metrics([0.0], [0.0, 1.0], [True])


def test_matching_is_optimal_not_greedy() -> None:
    # Greedy nearest-first pairs 1.6 with 2.0 and then cannot match 1.0 or 2.7;
    # the optimal matching pairs (1.0, 1.6) and (2.0, 2.7).
    ref, hyp = match_change_times([1.0, 2.0], [1.6, 2.7], tolerance_s=0.75)
    assert ref.tolist() == [0, 1] and hyp.tolist() == [0, 1]


def test_matching_minimises_distance_among_maximal_matchings() -> None:
    ref, hyp = match_change_times([1.0, 1.2], [1.1, 1.25], tolerance_s=0.5)
    assert list(zip(ref.tolist(), hyp.tolist())) == [(0, 0), (1, 1)]
    ref, hyp = match_change_times([5.0], [4.0, 5.3, 6.0], tolerance_s=2.0)
    assert list(zip(ref.tolist(), hyp.tolist())) == [(0, 1)]
    assert match_change_times([], [1.0], 1.0)[0].size == 0


def test_matching_agrees_with_brute_force_on_random_sets() -> None:
    from itertools import permutations

    rng = np.random.default_rng(3)
    for _ in range(40):
        ref = np.sort(rng.uniform(0, 6, rng.integers(1, 5)))
        hyp = np.sort(rng.uniform(0, 6, rng.integers(1, 5)))
        r, h = match_change_times(ref, hyp, 0.8)
        best = (0, 0.0)
        small, large, swap = (ref, hyp, False) if ref.size <= hyp.size else (hyp, ref, True)
        for perm in permutations(range(large.size), small.size):
            d = np.abs(small - large[list(perm)])
            ok = d <= 0.8
            best = max(best, (int(ok.sum()), -float(d[ok].sum())))
        assert r.size == best[0]
        assert np.abs(ref[r] - hyp[h]).sum() == pytest.approx(-best[1])


def test_boundary_metrics_by_hand() -> None:
    ref = {"a": [C(10.0, "a"), C(20.0, "a"), C(30.0, "a")], "b": [C(5.0, "b")]}
    hyp = {"a": [C(10.04, "a"), C(20.3, "a"), C(45.0, "a")], "c": [C(1.0, "c")]}
    m = boundary_metrics(ref, hyp)
    # matched within 2 s: (10, 10.04), (20, 20.3); misses 30, 5; false alarms 45, c@1
    assert (m.n_ref, m.n_hyp, m.n_matched, m.n_missed, m.n_false_alarm) == (4, 4, 2, 2, 2)
    assert m.matched.mae_s == pytest.approx(0.17)
    assert sorted(m.offsets_s.tolist()) == pytest.approx([0.04, 0.3])
    at = {d.tolerance_s: d for d in m.detection}
    assert (at[0.05].n_hits, at[0.05].precision, at[0.05].recall, at[0.05].f1) == (1, 0.25, 0.25, 0.25)
    assert at[0.5].n_hits == 2 and at[0.5].f1 == pytest.approx(0.5)
    assert m.to_dict()["f1@500ms"] == pytest.approx(0.5)


def test_nearest_distances() -> None:
    assert nearest_distances([0.0, 2.0, 9.0], [1.5, 3.0]).tolist() == [1.5, 0.5, 6.0]
    assert np.isinf(nearest_distances([1.0], [])).all()
