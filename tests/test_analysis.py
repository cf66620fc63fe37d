"""The boundary-error analysis on a hand-worked pair."""

from __future__ import annotations

import numpy as np
import pytest

from diarefine.analysis import analyze_boundaries, report_markdown
from diarefine.types import Region, Turn

# Reference: A [0, 10], B [10, 20], A [20, 30]; changes at 10 and 20.
REF = {"f": [Turn("f", 0, 10, "A"), Turn("f", 10, 20, "B"), Turn("f", 20, 30, "A")]}
# Hypothesis: the first change 0.3 s late, the second exact, plus a spurious change at 25 (x -> z -> x... z at 25-27).
HYP = {"f": [Turn("f", 0, 10.3, "x"), Turn("f", 10.3, 20, "y"), Turn("f", 20, 25, "x"), Turn("f", 25, 27, "z"),
             Turn("f", 27, 30, "x")]}
UEM = {"f": [Region("f", 0, 30)]}


def test_hand_worked_analysis() -> None:
    a = analyze_boundaries(REF, HYP, UEM)
    # hypothesis changes: 10.3, 20, 25, 27; reference: 10, 20
    assert (a.ref_to_hyp.n, a.hyp_to_ref.n) == (2, 4)
    assert a.ref_to_hyp_distances_s.tolist() == pytest.approx([0.3, 0.0])
    assert a.hyp_to_ref_distances_s.tolist() == pytest.approx([0.3, 0.0, 5.0, 7.0])
    assert a.ref_to_hyp.within == {0.25: 0.5, 0.5: 1.0, 1.0: 1.0}
    assert a.no_change_share == 0.5  # 25 and 27 have no reference change within 2 s
    # collar-0 error: 0.3 s confusion after the first change + 2 s confusion (z) = 2.3 s of 30 s
    full = a.score.der["collar 0"].total
    assert (full.error_s, full.total_s) == pytest.approx((2.3, 30.0))
    near = {n.radius_s: n for n in a.near_change_error}
    # +/-0.25 s around 10 covers [10, 10.25] of the 0.3 s error; +/-0.5 s covers all of it
    assert near[0.25].change_zone_error_s == pytest.approx(0.25)
    assert near[0.5].change_zone_error_s == pytest.approx(0.3)
    assert near[0.25].to_dict()["near_changes"]["share_of_error"] == pytest.approx(0.25 / 2.3)
    hist = a.offset_histogram()
    assert hist["n_matched"] == 2 and sum(hist["counts"]) == 2
    edges = np.array(hist["bin_edges_s"])
    assert hist["counts"][int(np.searchsorted(edges, 0.3, side="right")) - 1] == 1
    assert hist["false_change_rate"] == 0.5 and hist["miss_rate"] == 0.0
    assert "| +/-0.25 s | 10.9%" in report_markdown(a)
