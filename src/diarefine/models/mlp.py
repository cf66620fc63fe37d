"""Variant 1, the original baseline: mean-pooled frames + both speaker embeddings -> MLP.

Mean pooling keeps *what* is in the window but not *where*: the order of frames is lost, so
the model can only learn the average offset given the window's overall content. It is kept
as it was planned, as the reference the other variants must beat.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import MODELS, Batch, DirectRegressor, RegressionConfig, masked_frame_mean
from .blocks import mlp


@MODELS.register("mlp")
class MLPRegressor(DirectRegressor):
    """[mean_t features ; left_emb ; right_emb] (D + 2E) -> 512 -> 256 -> 128 -> offset and confidence."""

    @dataclass(frozen=True)
    class Config(RegressionConfig):
        hidden: tuple[int, ...] = (512, 256, 128)
        dropout: float = 0.1

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        c = config
        self.body = mlp([c.feature_dim + 2 * c.embedding_dim, *c.hidden], c.dropout, final_activation=True)
        self.offset_head = nn.Linear(c.hidden[-1], 1)
        self.confidence_head = nn.Linear(c.hidden[-1], 1)

    def heads(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(offset_s [B], has-change logit [B])."""
        pooled = masked_frame_mean(batch["features"], batch["mask"])  # [B, D]
        h = self.body(torch.cat([pooled, batch["left_emb"], batch["right_emb"]], dim=-1))  # [B, H]
        return self.bounded_offset(self.offset_head(h).squeeze(-1)), self.confidence_head(h).squeeze(-1)
