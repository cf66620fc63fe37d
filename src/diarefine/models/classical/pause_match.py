"""``pause-match``: slide the hypothesis's own pause between the two speakers onto the pause that
segmentation-3.0 hears.

A change whose hypothesis leaves a pause between its speakers (``pause_s`` > 0: the right speaker
starts that long after the left one ends, nobody speaking in between; `types.Change.pause_s`) has
a shape: speech | pause | speech. A system that misplaces the change moves the whole shape, so
the shift that best lays it over segmentation-3.0's speech posterior ``seg_speech`` (the window
and ``context_s`` on each side; `refine.inputs.speech_posterior`) is the correction. For every
shift d within ``radius_s`` (steps of one `units.FRAME_S` frame, 20 ms) the template scores

    log mean p(speech) over [left_end - m, left_end) + log mean p(speech) over [right_start, right_start + m)
    + pause_weight x log mean (1 - p(speech)) over [left_end, right_start) - |d| / prior_scale_s

(everything shifted by d, m = ``speech_margin_s``; the last term is a Laplace prior on how far
systems misplace changes). The offset is the best shift; the score is how much better it fits
than not moving (a log-likelihood ratio, 0 when staying is best). Changes without a pause
(abutting speakers, or speakers overlapping in between) score -inf: left alone. Settings chosen
on ami-debug/train (``benchmarks/bench_real.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...units import FRAME_S
from ..base import MODELS, Batch
from .base import CalibratedConfig, ClassicalRefiner

_EPS = 1e-3  # floor inside the logs: one silent frame does not veto a shift


@dataclass(frozen=True)
class PauseMatchConfig(CalibratedConfig):
    weights: str = ""  # a pyannote.audio segmentation checkpoint; empty: the shipped segmentation-3.0
    context_s: float = 3.0  # audio on each side of the window the segmentation sees (4 + 2 x 3 = 10 s)
    radius_s: float = 1.0  # farthest the change may move
    speech_margin_s: float = 0.3  # speech expected on each side of the pause
    pause_weight: float = 2.0
    prior_scale_s: float = 0.5  # Laplace prior on the shift (s)
    min_pause_s: float = 0.02  # a shorter pause is no pause: left alone
    confidence_bias: float = 0.0  # log-likelihood ratio at confidence 0.5
    confidence_scale: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.radius_s <= 0 or self.speech_margin_s <= 0 or self.prior_scale_s <= 0 or self.context_s < 0:
            raise ValueError("radius_s, speech_margin_s and prior_scale_s must be positive, context_s >= 0")


def span_means(cumulative: torch.Tensor, start_s: torch.Tensor, end_s: torch.Tensor, first_s: float) -> torch.Tensor:
    """Means of a signal over [start_s, end_s) from its ``cumulative`` sums [B, T + 1] on the FRAME_S grid
    (frame 0 starts at ``first_s``); spans [B, K] in seconds, clipped to the signal; an empty span is 0.

    >>> c = torch.cat([torch.zeros(1, 1), torch.tensor([[0., 1., 1., 0.]]).cumsum(1)], 1)
    >>> span_means(c, torch.tensor([[0.0, 0.02]]), torch.tensor([[0.04, 0.06]]), 0.0).tolist()  # 20 ms frames
    [[0.5, 1.0]]
    """
    n = cumulative.shape[1] - 1
    lo = torch.round((start_s - first_s) / FRAME_S).long().clamp(0, n)
    hi = torch.round((end_s - first_s) / FRAME_S).long().clamp(0, n)
    total = cumulative.gather(1, hi) - cumulative.gather(1, lo)
    return torch.where(hi > lo, total / (hi - lo).clamp(min=1), torch.zeros_like(total))


@MODELS.register("pause-match")
class PauseMatchRefiner(ClassicalRefiner):
    """Lay the hypothesis's pause over segmentation-3.0's; no parameters."""

    Config = PauseMatchConfig
    extra_inputs = ("seg_speech", "pause")

    @property
    def extra_context_s(self) -> float:
        return self.config.context_s

    def template_scores(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(shifts [K] s, scores [B, K]) of the pause template at every shift within ``radius_s``."""
        c = self.config
        speech = batch["seg_speech"].float()  # [B, T'] across the window and its context
        first_s = -speech.shape[1] * FRAME_S / 2  # the grid's start, from the window centre
        cumulative = torch.cat([torch.zeros_like(speech[:, :1]), speech.cumsum(1)], dim=1)
        steps = round(c.radius_s / FRAME_S)
        shifts = torch.arange(-steps, steps + 1, device=speech.device) * FRAME_S  # [K]
        half = batch["pause_s"].float().clamp(min=0)[:, None] / 2  # [B, 1]
        left_end, right_start = shifts - half, shifts + half  # [B, K]
        left = span_means(cumulative, left_end - c.speech_margin_s, left_end, first_s)
        right = span_means(cumulative, right_start, right_start + c.speech_margin_s, first_s)
        pause = span_means(cumulative, left_end, right_start, first_s)
        scores = ((left + _EPS).log() + (right + _EPS).log() + c.pause_weight * (1 - pause + _EPS).log()
                  - shifts.abs() / c.prior_scale_s)
        return shifts, scores

    def predict_with_score(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        shifts, scores = self.template_scores(batch)
        best = scores.argmax(1)
        rows = torch.arange(len(best), device=scores.device)
        gain = scores[rows, best] - scores[:, len(shifts) // 2]  # against staying put
        is_pause = batch["pause_s"].float() > self.config.min_pause_s
        return shifts[best], torch.where(is_pause, gain, float("-inf"))
