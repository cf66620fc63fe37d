"""``similarity``: where the right speaker's embedding overtakes the left speaker's.

The caller embeds short analysis windows sliding across the 4 s window (``analysis_s`` long,
every ``hop_s``; `sliding_spans`) with the same embedder as the two speaker embeddings and
passes them as ``batch["sliding_emb"]`` [B, K, E]. Per analysis window,
d_k = cos(e_k, right) - cos(e_k, left); the split that best separates negative from positive d
(maximising sum_{k >= j} d_k - sum_{k < j} d_k) is taken, and the boundary is the zero crossing
of d interpolated linearly between the two analysis-window centres around it. The confidence
is a calibrated sigmoid of the contrast mean(d after) - mean(d before); 0 when a side has no
embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...dsp import sliding_spans
from ...units import FRAME_RATE
from ..base import MODELS, Batch
from .base import CalibratedConfig, ClassicalRefiner


@dataclass(frozen=True)
class SimilarityConfig(CalibratedConfig):
    analysis_s: float = 1.0
    hop_s: float = 0.1
    confidence_bias: float = 0.253  # fitted on dev windows (benchmarks/calibrate_baselines.py)
    confidence_scale: float = 0.093

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.hop_s <= self.analysis_s < self.n_frames / FRAME_RATE:
            raise ValueError("need 0 < hop_s <= analysis_s < window length")


@MODELS.register("similarity")
class SimilarityRefiner(ClassicalRefiner):
    """Zero crossing of (right - left) cosine similarity along sliding embeddings; no parameters."""

    Config = SimilarityConfig
    extra_inputs = ("sliding_emb",)

    def centres_s(self) -> torch.Tensor:
        """[K] centre of each analysis window, seconds from the window centre."""
        c = self.config
        spans = sliding_spans(c.n_frames / FRAME_RATE, c.analysis_s, c.hop_s)
        return torch.from_numpy(spans.mean(axis=1) - c.n_frames / (2 * FRAME_RATE)).float()

    def predict_with_score(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        e = F.normalize(batch["sliding_emb"].float(), dim=-1)  # [B, K, E]
        left, right = batch["left_emb"].float(), batch["right_emb"].float()
        d = (e @ F.normalize(right, dim=-1)[..., None] - e @ F.normalize(left, dim=-1)[..., None]).squeeze(-1)
        k = d.shape[1]
        before = torch.cat([torch.zeros_like(d[:, :1]), d.cumsum(1)], dim=1)  # [B, K + 1] sum of d[:j]
        after = before[:, -1:] - before
        j = (after - before)[:, 1:k].argmax(dim=1) + 1  # split between analysis windows j - 1 and j
        rows = torch.arange(d.shape[0], device=d.device)
        d0, d1 = d[rows, j - 1], d[rows, j]
        centres = self.centres_s().to(d.device)
        c0, c1 = centres[j - 1], centres[j]
        crosses = (d0 <= 0) & (d1 >= 0) & (d1 > d0)
        crossing = torch.where(crosses, (-d0) / (d1 - d0).clamp(min=1e-6), torch.full_like(d0, 0.5))
        offset_s = c0 + (c1 - c0) * crossing
        n_before = j.float()
        contrast = after[rows, j] / (k - n_before) - before[rows, j] / n_before
        has_sides = (left.norm(dim=-1) > 0) & (right.norm(dim=-1) > 0)
        return offset_s, torch.where(has_sides, contrast, float("-inf"))
