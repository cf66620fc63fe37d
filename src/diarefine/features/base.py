"""The feature-extractor interface and registry.

An extractor turns a batch of 16 kHz windows into frame features at a fixed frame count:
``forward(waves [B, N] float32, valid [B, N] bool) -> (features [B, T, D] float32, mask [B, T] bool)``,
with T = ``config.n_frames`` (200 for a 4 s window at 50 frames/s). Frame ``t`` describes the
instant ``(t + 0.5) * hop`` seconds after the window start; it is valid when that instant is
inside the file. An extractor that needs context (``context_s`` > 0) receives that much more
audio on each side (`FeatureExtractor.input_span`) and still returns the window's T frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from ..config import to_dict
from ..registry import Registry
from ..units import FRAME_RATE, SAMPLE_RATE, WINDOW_FRAMES

DEFAULT_FEATURES = "fbank"
#: ``FEATURES.build(spec)``: an extractor from a name or ``{"name": ..., **options}`` (unknown options are errors).
FEATURES: Registry[type["FeatureExtractor"]] = Registry("feature extractor", section="features",
                                                         default=DEFAULT_FEATURES)
#: Samples per frame at `units.FRAME_RATE` (every extractor delivers 50 frames/s: 4 s -> 200 frames).
HOP_SAMPLES = int(SAMPLE_RATE / FRAME_RATE)


@dataclass(frozen=True)
class FrameConfig:
    """Settings every extractor shares: the number of frames per window."""

    n_frames: int = WINDOW_FRAMES

    def __post_init__(self) -> None:
        if self.n_frames < 1:
            raise ValueError("n_frames must be positive")


class FeatureExtractor(nn.Module):
    """Base class: subclasses set ``Config`` and ``dim`` and implement `frames`."""

    name: ClassVar[str]
    Config: ClassVar[type] = FrameConfig
    #: Whether the output can be stored in a training cache (False for learned layer mixes).
    cacheable: bool = True

    def __init__(self, config: Any = None) -> None:
        super().__init__()
        self.config = config if config is not None else self.Config()
        self.n_frames = self.config.n_frames

    @property
    def dim(self) -> int:  # feature dimension D
        raise NotImplementedError

    @property
    def context_s(self) -> float:
        """Audio (s) the extractor reads on each side of the window (0: the window alone). Callers
        read `input_span` and pass it whole; features and mask still cover the window only."""
        return 0.0

    def input_span(self, center_s: float, window_s: float) -> tuple[float, float]:
        """(start_s, duration_s) of the audio to read for the window centred on ``center_s``."""
        return center_s - window_s / 2 - self.context_s, window_s + 2 * self.context_s


    def frames(self, waves: torch.Tensor) -> torch.Tensor:
        """waves [B, N] -> features [B, T', D] at 50 frames/s (T' may differ from n_frames)."""
        raise NotImplementedError

    def forward(self, waves: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """waves [B, N] float32 at 16 kHz, valid [B, N] bool -> features [B, T, D], mask [B, T] bool."""
        if waves.dim() != 2:
            raise ValueError(f"waves must be [batch, samples], got shape {tuple(waves.shape)}")
        if valid is None:
            valid = torch.ones_like(waves, dtype=torch.bool)
        feats = fit_frames(self.frames(waves), self.n_frames)
        return feats, frame_mask(valid, self.n_frames)

    def describe(self) -> dict:
        """``{"name": ..., **config}``: what a cache or checkpoint records to rebuild this extractor."""
        return {"name": self.name, **to_dict(self.config)}


def fit_frames(features: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Pad (repeating the last frame) or crop [B, T', D] to [B, n_frames, D]."""
    t = features.shape[1]
    if t >= n_frames:
        return features[:, :n_frames]
    pad = features[:, -1:].expand(-1, n_frames - t, -1)
    return torch.cat([features, pad], dim=1)


def frame_mask(valid: torch.Tensor, n_frames: int, hop: int = HOP_SAMPLES) -> torch.Tensor:
    """valid [B, N] bool -> [B, n_frames] bool: frame t is valid if the sample at its centre is.

    >>> frame_mask(torch.tensor([[False] * 320 + [True] * 320]), 2).tolist()
    [[False, True]]
    """
    centres = (torch.arange(n_frames, device=valid.device) * hop + hop // 2).clamp(max=valid.shape[1] - 1)
    return valid[:, centres]
