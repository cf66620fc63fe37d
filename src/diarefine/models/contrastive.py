"""Variant 4: a scorer over candidate positions, trained contrastively.

Every frame is a candidate "the change is here"; a dilated conv stack conditioned on the
speaker pair (FiLM) gives each a score, plus a learnt log-prior over positions (the trunk is
translation-equivariant, and true changes lie near the initial boundary more often), and a
learnt "no change" slot gets one too. InfoNCE
(cross-entropy over the T + 1 slots) makes the true frame the positive and all other frames
(and the slot) negatives; a no-change window's positive is the slot. The offset is a
soft-argmax: the softmax-weighted mean position of the frames within ``radius_frames`` of the
peak, which gives sub-frame precision; a small Smooth L1 term on it calibrates that. The
confidence is the probability mass near the peak. This is also the "is this the correct
boundary?" binary classifier, slid over the window: score every position, take the best.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..units import FRAME_RATE
from .base import MODELS, Batch, BoundaryModel, ModelConfig, masked_mean
from .blocks import AttentionPool, ConvBlock, SpeakerPair, group_frames, group_mask, mlp


@MODELS.register("contrastive")
class ContrastivePositionScorer(BoundaryModel):
    """Frames [B, T, D] + speaker pair -> scores [B, T + 1] (T positions + "no change")."""

    @dataclass(frozen=True)
    class Config(ModelConfig):
        channels: int = 64
        dilations: tuple[int, ...] = (1, 2, 4, 8, 1)  # receptive field +/- 64 frames (1.3 s) with k = 5
        kernel_size: int = 5
        expansion: int = 2
        cond_dim: int = 160
        patch_frames: int = 2  # the trunk runs on pairs of frames (40 ms); the head scores each frame
        radius_frames: int = 4  # soft-argmax and confidence use the peak +/- this many frames
        regression_weight: float = 1.0  # Smooth L1 (beta 20 ms) on the soft-argmax offset
        dropout: float = 0.1

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.n_frames % self.patch_frames:
                raise ValueError(f"n_frames ({self.n_frames}) must be a multiple of patch_frames ({self.patch_frames})")

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        c = config
        self.proj = nn.Linear(c.patch_frames * c.feature_dim, c.channels)
        self.pair = SpeakerPair(c.embedding_dim, c.cond_dim)
        self.blocks = nn.ModuleList(ConvBlock(c.channels, c.cond_dim, c.kernel_size, d, c.expansion, c.dropout)
                                    for d in c.dilations)
        self.frame_score = nn.Linear(c.channels, c.patch_frames)  # one score per frame of a group
        self.position_prior = nn.Parameter(torch.zeros(c.n_frames))
        self.pool = AttentionPool(c.channels)
        self.null_score = mlp([c.channels + c.cond_dim, c.channels, 1])

    def scores(self, batch: Batch) -> torch.Tensor:
        """Logits [B, T + 1]: one per frame (padded frames -inf), the last for "no change"."""
        p, mask = self.config.patch_frames, batch["mask"]
        group_valid = group_mask(mask, p)  # [B, T / P]
        cond = self.pair(batch["left_emb"], batch["right_emb"])  # [B, cond]
        x = self.proj(group_frames(batch["features"], p))  # [B, T / P, C]
        for block in self.blocks:
            x = block(x, cond, group_valid)
        frames = self.frame_score(x).reshape(mask.shape) + self.position_prior  # [B, T]
        frames = frames.masked_fill(~mask, float("-inf"))
        null = self.null_score(torch.cat([self.pool(x, group_valid), cond], dim=-1))  # [B, 1]
        return torch.cat([frames, null], dim=1)

    def read_out(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Soft-argmax offset (s) [B] and confidence [B] from logits [B, T + 1]."""
        probs = torch.softmax(logits, dim=-1)[:, :-1]  # [B, T], frames only (sum <= 1)
        peak = probs.argmax(dim=-1, keepdim=True)  # [B, 1]
        t = torch.arange(probs.shape[1], device=probs.device)
        near = (t.unsqueeze(0) - peak).abs() <= self.config.radius_frames  # [B, T]
        weights = probs * near
        mass = weights.sum(-1)  # [B]
        position = (weights * self.frame_offsets_s(probs.device)).sum(-1) / mass.clamp(min=1e-12)
        return position, mass

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """features [B, T, D], mask [B, T], left_emb / right_emb [B, E] -> (offset_s [B], s from the
        window centre: soft-argmax around the best frame; confidence [B] in [0, 1]: the probability
        mass within ``radius_frames`` of it)."""
        return self.read_out(self.scores(batch))

    def target_frame(self, offset_s: torch.Tensor) -> torch.Tensor:
        """Index [B] of the frame whose 20 ms span contains the true change."""
        t = torch.floor((offset_s + self.config.n_frames / (2 * FRAME_RATE)) * FRAME_RATE).long()
        return t.clamp(0, self.config.n_frames - 1)

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        logits = self.scores(batch)
        has_change = batch["has_change"]
        target = torch.where(has_change, self.target_frame(batch["offset_s"]),
                             torch.full_like(has_change, self.config.n_frames, dtype=torch.long))
        # A true frame that is padding (change at the file edge) cannot be chosen: drop such windows.
        usable = torch.isfinite(logits.gather(1, target.unsqueeze(1)).squeeze(1))
        info_nce = masked_mean(F.cross_entropy(logits.masked_fill(~usable.unsqueeze(1), 0.0), target,
                                               reduction="none"), usable)
        offset_s, mass = self.read_out(logits)
        regression = masked_mean(F.smooth_l1_loss(offset_s, batch["offset_s"], reduction="none", beta=0.02),
                                 has_change & usable)
        return {"loss": info_nce + self.config.regression_weight * regression, "info_nce": info_nce,
                "regression": regression}
