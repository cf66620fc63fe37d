"""Log-mel filterbank features in pure torch, batched (the default front end).

80 mel bins, 25 ms window, 20 ms hop: 50 frames/s, so a 4 s window gives 200 frames. The
same `log_mel` (with a 10 ms hop) feeds the WeSpeaker embedder, which expects Kaldi-style fbank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..units import FRAME_RATE, SAMPLE_RATE
from .base import FEATURES, FeatureExtractor, FrameConfig

LOG_FLOOR = 1e-10


def hz_to_mel(hz: float) -> float:
    """HTK mel scale: 2595 log10(1 + f / 700)."""
    return 2595.0 * math.log10(1.0 + hz / 700.0)


def mel_filterbank(n_fft: int, n_mels: int, f_min: float, f_max: float, sample_rate: int = SAMPLE_RATE) -> torch.Tensor:
    """Triangular HTK-mel filters, [n_fft // 2 + 1, n_mels] (unnormalised peaks of 1)."""
    mels = torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2, dtype=torch.float64)
    hz = 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)[:, None]
    lower, centre, upper = hz[:-2], hz[1:-1], hz[2:]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0.0).float()


def frame_signal(waves: torch.Tensor, win: int, hop: int) -> torch.Tensor:
    """[B, N] -> [B, N // hop, win]: frame t is centred on sample ``t * hop + hop // 2`` (zero padding)."""
    n_frames = waves.shape[1] // hop
    pad_left = (win - hop) // 2
    pad_right = (n_frames - 1) * hop + win - waves.shape[1] - pad_left
    padded = torch.nn.functional.pad(waves, (pad_left, max(pad_right, 0)))
    return padded.unfold(1, win, hop)[:, :n_frames]


def log_mel(waves: torch.Tensor, *, win: int, hop: int, n_fft: int, filters: torch.Tensor) -> torch.Tensor:
    """waves [B, N] -> natural-log mel energies [B, N // hop, n_mels] (DC removed, Hann window)."""
    frames = frame_signal(waves, win, hop)
    frames = frames - frames.mean(dim=-1, keepdim=True)
    window = torch.hann_window(win, periodic=False, dtype=waves.dtype, device=waves.device)
    power = torch.fft.rfft(frames * window, n=n_fft).abs().pow(2)
    return torch.log(torch.clamp(power @ filters.to(power.device), min=LOG_FLOOR))


@FEATURES.register("fbank")
class Fbank(FeatureExtractor):
    """Log-mel filterbank, optionally mean-normalised per window over its valid frames."""

    @dataclass(frozen=True)
    class Config(FrameConfig):
        n_mels: int = 80
        win_ms: float = 25.0
        hop_ms: float = 20.0
        n_fft: int = 512
        f_min: float = 20.0
        f_max: float = 7600.0
        mean_norm: bool = True  # subtract each bin's mean over the window's valid frames

    def __init__(self, config: "Fbank.Config | None" = None) -> None:
        super().__init__(config)
        c = self.config
        self.win = int(round(c.win_ms * SAMPLE_RATE / 1000))
        self.hop = int(round(c.hop_ms * SAMPLE_RATE / 1000))
        if self.hop * FRAME_RATE != SAMPLE_RATE:
            raise ValueError("fbank hop_ms must be 20 (50 frames/s, the rate every model expects)")
        if c.n_fft < self.win:
            raise ValueError(f"n_fft ({c.n_fft}) must be at least the window ({self.win} samples)")
        self.register_buffer("filters", mel_filterbank(c.n_fft, c.n_mels, c.f_min, c.f_max), persistent=False)

    @property
    def dim(self) -> int:
        return self.config.n_mels

    def frames(self, waves: torch.Tensor) -> torch.Tensor:
        return log_mel(waves, win=self.win, hop=self.hop, n_fft=self.config.n_fft, filters=self.filters)

    def forward(self, waves: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        feats, mask = super().forward(waves, valid)
        if self.config.mean_norm:
            weights = mask.unsqueeze(-1).to(feats.dtype)
            mean = (feats * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True).clamp(min=1.0)
            feats = (feats - mean) * weights
        return feats, mask
