"""``overlap-match``: slide the hypothesis's own overlap between the two speakers onto the overlapped
speech that segmentation-3.0 hears.

The template (`template_match`) is one speaker | both | one speaker: P(exactly one speaker) on
``margin_s`` each side, P(two or more) across the hypothesis's overlap (``clean_overlap_s``,
`types.Change.clean_overlap_s`: the right speaker starts that long before the left one stops).
Changes with a pause or an exact hand-over are left alone. Settings chosen on ami-debug/train
(``benchmarks/bench_real.py``): a 0.5 s margin, and confidence 0.5 at a log-likelihood ratio of 1
(overlap detection is less sure than speech detection; below that it helped as often as it hurt).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..base import MODELS
from .template_match import ONE, SEVERAL, TemplateMatchConfig, TemplateMatchRefiner


@dataclass(frozen=True)
class OverlapMatchConfig(TemplateMatchConfig):
    margin_s: float = 0.5
    confidence_bias: float = 1.0


@MODELS.register("overlap-match")
class OverlapMatchRefiner(TemplateMatchRefiner):
    """Lay the hypothesis's overlap over segmentation-3.0's; no parameters."""

    Config = OverlapMatchConfig
    extra_inputs = ("seg_count", "overlap")
    separation_key = "clean_overlap_s"
    outer, middle = (ONE,), (SEVERAL,)
