"""The boundary-model interface and registry, and the pieces every variant shares.

A model sees one window (4 s around an initial boundary) and says where the speaker change is:

``forward(batch) -> (offset_s [B], confidence [B])``

* ``batch["features"]`` [B, T, D] float32 frame features (T = 200 at 50 frames/s),
  ``batch["mask"]`` [B, T] bool (False: frame outside the file, zero-padded),
  ``batch["left_emb"]`` / ``batch["right_emb"]`` [B, E] float32 speaker embeddings.
* ``offset_s`` in [-max_offset_s, max_offset_s]: refined boundary minus window centre (s).
* ``confidence`` in [0, 1]: that the window holds a change at that place (no-change windows
  are the negatives every variant learns from).

The classical refiners (``classical/``: ``bic``, ``similarity``, ``silence-snap``) share this
interface and registry with ``trainable = False``; some need ``extra_inputs`` the caller adds.

Training adds ``batch["offset_s"]`` [B] (true offset; 0 where none) and ``batch["has_change"]``
[B] bool. ``losses(batch)`` returns named scalar terms whose sum is ``"loss"``; ``loss(batch)``
is that sum. Models are plain ``nn.Module``s; only ``training/`` knows Lightning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ..config import from_dict, to_dict
from ..registry import Registry
from ..units import FRAME_RATE, WINDOW_FRAMES

MODELS: Registry[type["BoundaryModel"]] = Registry("model variant", section="model")
Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class ModelConfig:
    """Input sizes and output range every variant shares (variants extend this dataclass).

    ``feature_dim`` and ``embedding_dim`` are normally filled in from the training cache.
    """

    feature_dim: int = 80
    embedding_dim: int = 256
    n_frames: int = WINDOW_FRAMES
    max_offset_s: float = 2.0

    def __post_init__(self) -> None:
        if min(self.feature_dim, self.embedding_dim, self.n_frames) < 1:
            raise ValueError("feature_dim, embedding_dim and n_frames must be positive")
        if self.max_offset_s <= 0:
            raise ValueError("max_offset_s must be positive")


class BoundaryModel(nn.Module):
    """Base class: a variant sets ``Config``, builds layers in ``__init__`` and implements
    ``predict`` (offset and confidence) and ``losses``."""

    name: ClassVar[str]
    Config: ClassVar[type[ModelConfig]] = ModelConfig
    #: False for the classical refiners: nothing to learn, `train` refuses them.
    trainable: ClassVar[bool] = True
    #: Inputs beyond features / mask / embeddings that the caller must add to the batch:
    #: ``"waves"`` (``waves`` [B, N] float32 16 kHz and ``wave_mask`` [B, N] bool) and
    #: ``"sliding_emb"`` ([B, K, E] embeddings of short analysis windows across the window).
    extra_inputs: ClassVar[tuple[str, ...]] = ()
    #: False for a variant that never reads ``left_emb`` / ``right_emb``: `refine` then skips the speakers'
    #: profiles (CAM++ over each speaker's speech) and gives it zeros.
    reads_speaker_embeddings: ClassVar[bool] = True

    @property
    def extra_context_s(self) -> float:
        """Audio (s) beyond each side of the window that the extra inputs are computed from (0: the window)."""
        return 0.0

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config

    @classmethod
    def from_config(cls, data: dict | ModelConfig | None = None) -> "BoundaryModel":
        """This variant from its settings (``MODELS.build`` does the same from a name)."""
        return cls(from_dict(cls.Config, data or {}, f"model.{cls.name}"))

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """features [B, T, D], mask [B, T], left_emb / right_emb [B, E] (+ ``extra_inputs``) ->
        (offset_s [B] in seconds from the window centre, confidence [B] in [0, 1]); see the module docstring."""
        raise NotImplementedError

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Named scalar loss terms; ``"loss"`` is their weighted sum (what is minimised)."""
        raise NotImplementedError

    def loss(self, batch: Batch) -> torch.Tensor:
        return self.losses(batch)["loss"]

    def describe(self) -> dict[str, Any]:
        """``{"name": ..., **config}``: what a checkpoint records to rebuild this model."""
        return {"name": self.name, **to_dict(self.config)}

    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # -- helpers shared by the variants ---------------------------------------------------

    def frame_offsets_s(self, device: torch.device | None = None) -> torch.Tensor:
        """[T] offset (s) of each frame centre from the window centre (see `frame_offsets_s`)."""
        return frame_offsets_s(self.config.n_frames, device)

    def bounded_offset(self, raw: torch.Tensor) -> torch.Tensor:
        """Map an unbounded regression output (s) into [-max, max]; near identity close to 0."""
        m = self.config.max_offset_s
        return m * torch.tanh(raw / m)

    def confidence_loss(self, logit: torch.Tensor, batch: Batch) -> torch.Tensor:
        """BCE of a has-change logit [B] against ``batch["has_change"]``."""
        return F.binary_cross_entropy_with_logits(logit, batch["has_change"].float())


def frame_offsets_s(n_frames: int, device: torch.device | None = None) -> torch.Tensor:
    """[T] offset (s) of each frame centre from the window centre: (t + 0.5) / 50 - T / 100.

    >>> [round(x, 3) for x in frame_offsets_s(4).tolist()]
    [-0.03, -0.01, 0.01, 0.03]
    """
    t = torch.arange(n_frames, device=device, dtype=torch.float32)
    return (t + 0.5) / FRAME_RATE - n_frames / (2 * FRAME_RATE)


def masked_mean(values: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` [B] over entries with weight 1 (0 when there are none, keeping the graph)."""
    weights = weights.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp(min=1.0)


def masked_frame_mean(features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over valid frames: features [B, T, C], mask [B, T] bool -> [B, C]."""
    w = mask.to(features.dtype).unsqueeze(-1)
    return (features * w).sum(1) / w.sum(1).clamp(min=1.0)


def sinusoidal_embedding(x: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """Sinusoidal features of scalars: x [...] -> [..., dim] (transformer positions, diffusion steps)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=x.device, dtype=torch.float32) / half)
    angles = x.float().unsqueeze(-1) * freqs
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


@dataclass(frozen=True)
class RegressionConfig(ModelConfig):
    """Settings of variants that regress the offset directly."""

    huber_beta_s: float = 0.1  # Smooth L1: quadratic below this error (s), linear above
    confidence_weight: float = 1.0  # weight of the has-change BCE in the loss


class DirectRegressor(BoundaryModel):
    """A variant with two heads, offset (s) and has-change logit: Smooth L1 on the offset of
    windows with a change, plus BCE on the confidence. Subclasses implement ``heads``."""

    Config: ClassVar[type[ModelConfig]] = RegressionConfig

    def heads(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(offset_s [B] bounded, has-change logit [B])."""
        raise NotImplementedError

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """features [B, T, D], mask [B, T], left_emb / right_emb [B, E] -> (offset_s [B], s from the
        window centre, within +/-max_offset_s; confidence [B] in [0, 1]: sigmoid of the has-change logit)."""
        offset_s, logit = self.heads(batch)
        return offset_s, torch.sigmoid(logit)

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.regression_losses(*self.heads(batch), batch)

    def regression_losses(self, offset_s: torch.Tensor, logit: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """Smooth L1 on the offsets [B] of change windows + weighted BCE on the has-change logits [B]."""
        per_window = F.smooth_l1_loss(offset_s, batch["offset_s"], reduction="none", beta=self.config.huber_beta_s)
        regression = masked_mean(per_window, batch["has_change"])
        confidence = self.confidence_loss(logit, batch)
        return {"loss": regression + self.config.confidence_weight * confidence,
                "regression": regression, "confidence": confidence}
