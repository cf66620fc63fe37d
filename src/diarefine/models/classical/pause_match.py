"""``pause-match``: slide the hypothesis's own pause between the two speakers onto the pause that
segmentation-3.0 hears.

The template (`template_match`) is speech | pause | speech: P(anyone speaks) on ``margin_s`` each
side, P(nobody) across the hypothesis's pause (``pause_s``, `types.Change.pause_s`: the right speaker
starts that long after the left one ends, nobody speaking in between). Abutting speakers and those
overlapping in between are left alone. Settings chosen on ami-debug/train (``benchmarks/bench_real.py``).
"""

from __future__ import annotations

from ..base import MODELS
from .template_match import NOBODY, ONE, SEVERAL, TemplateMatchRefiner


@MODELS.register("pause-match")
class PauseMatchRefiner(TemplateMatchRefiner):
    """Lay the hypothesis's pause over segmentation-3.0's; no parameters."""

    extra_inputs = ("seg_count", "pause")
    separation_key = "pause_s"
    outer, middle = (ONE, SEVERAL), (NOBODY,)
