"""What ``pause-match`` and ``overlap-match`` share: lay the hypothesis's own shape of a change over what
segmentation-3.0 hears.

A change whose hypothesis leaves a clean separation between its speakers (a pause, nobody speaking;
or an overlap, both speaking) has a shape: outer | middle | outer, the middle as wide as the
separation. A system that misplaces the change moves the whole shape, so the shift that best lays it
over segmentation-3.0's speaker-count posterior ``seg_count`` (P(nobody), P(one speaker),
P(two or more) per `units.FRAME_S` frame across the window and ``context_s`` on each side;
`refine.inputs.speaker_count_posterior`) is the correction. For every shift d within ``radius_s``
(one 20 ms frame per step) the template scores

    log mean p_outer over [left_end - m, left_end) + log mean p_outer over [right_start, right_start + m)
    + middle_weight x log mean p_middle over [left_end, right_start) - |d| / prior_scale_s

(everything shifted by d, m = ``margin_s``; the last term is a Laplace prior on how far systems
misplace changes). The offset is the best shift; the score is how much better it fits than not
moving (a log-likelihood ratio, 0 when staying is best). Changes without that kind of separation
score -inf: left alone. Subclasses say which separation they match (``separation_key``, a
hypothesis input of `refine.inputs`) and which count classes the outer and middle spans expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ...units import FRAME_S, MIN_SEPARATION_S
from ..base import Batch
from .base import CalibratedConfig, ClassicalRefiner

_EPS = 1e-3  # floor inside the logs: one frame that disagrees does not veto a shift

#: Channels of ``seg_count`` [B, T', 3].
NOBODY, ONE, SEVERAL = 0, 1, 2


@dataclass(frozen=True)
class TemplateMatchConfig(CalibratedConfig):
    weights: str = ""  # a pyannote.audio segmentation checkpoint; empty: the shipped segmentation-3.0
    context_s: float = 3.0  # audio on each side of the window the segmentation sees (4 + 2 x 3 = 10 s)
    radius_s: float = 1.0  # farthest the change may move
    margin_s: float = 0.3  # outer span expected on each side of the separation
    middle_weight: float = 2.0
    prior_scale_s: float = 0.5  # Laplace prior on the shift (s)
    min_separation_s: float = MIN_SEPARATION_S  # a shorter separation is none: left alone

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.radius_s <= 0 or self.margin_s <= 0 or self.prior_scale_s <= 0 or self.context_s < 0:
            raise ValueError("radius_s, margin_s and prior_scale_s must be positive, context_s >= 0")


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


class TemplateMatchRefiner(ClassicalRefiner):
    """Slide the hypothesis's separation over segmentation-3.0's speaker count; no parameters."""

    Config = TemplateMatchConfig
    reads_speaker_embeddings = False
    #: The hypothesis input with each change's separation of this kind (s; 0: none).
    separation_key: ClassVar[str]
    #: Channels of ``seg_count`` whose sum the outer spans / the middle span expect.
    outer: ClassVar[tuple[int, ...]]
    middle: ClassVar[tuple[int, ...]]

    @property
    def extra_context_s(self) -> float:
        return self.config.context_s

    def applies(self, separation_s):  # numpy [C] -> numpy [C] bool (models import only torch)
        """Which changes this refiner places [C] bool, from their separation of its kind [C] (s; a numpy
        array or a tensor)."""
        return separation_s > self.config.min_separation_s

    def template_scores(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(shifts [K] s, scores [B, K]) of the template at every shift within ``radius_s``."""
        c = self.config
        count = batch["seg_count"].float()  # [B, T', 3] across the window and its context
        first_s = -count.shape[1] * FRAME_S / 2  # the grid's start, from the window centre
        cumulative = torch.cat([torch.zeros_like(count[:, :1]), count.cumsum(1)], dim=1)  # [B, T' + 1, 3]
        outer, middle = (cumulative[..., list(channels)].sum(-1) for channels in (self.outer, self.middle))
        steps = round(c.radius_s / FRAME_S)
        shifts = torch.arange(-steps, steps + 1, device=count.device) * FRAME_S  # [K]
        half = batch[self.separation_key].float().clamp(min=0)[:, None] / 2  # [B, 1]
        left_end, right_start = shifts - half, shifts + half  # [B, K]
        left = span_means(outer, left_end - c.margin_s, left_end, first_s)
        right = span_means(outer, right_start, right_start + c.margin_s, first_s)
        inside = span_means(middle, left_end, right_start, first_s)
        scores = ((left + _EPS).log() + (right + _EPS).log() + c.middle_weight * (inside + _EPS).log()
                  - shifts.abs() / c.prior_scale_s)
        return shifts, scores

    def predict_with_score(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        shifts, scores = self.template_scores(batch)
        best = scores.argmax(1)
        rows = torch.arange(len(best), device=scores.device)
        gain = scores[rows, best] - scores[:, len(shifts) // 2]  # against staying put
        return shifts[best], torch.where(self.applies(batch[self.separation_key].float()), gain, float("-inf"))
