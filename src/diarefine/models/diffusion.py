"""Variant 3: denoising diffusion over the boundary coordinate (in the manner of DiffSED).

The boundary x0 = signal_scale * offset_s / max_offset_s is noised, x_t = sqrt(abar_t) x0 +
sqrt(1 - abar_t) eps, with a cosine schedule, and a denoiser (`unet1d.BoundaryUNet1D`)
predicts eps from the window, both speaker embeddings, the noisy boundary and the step t.
This module holds what is diffusion rather than network, as denoising-diffusion-pytorch
splits ``Unet1D`` from ``GaussianDiffusion1D``: the schedule, the coordinate, the loss and
the sampler. Inference is DDIM (deterministic) from the initial position: sample 0 starts
exactly there (x_T = 0, the window centre), the others from seeded noise around it; their
mean is the offset, and their spread lowers the confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .base import MODELS, Batch, BoundaryModel, masked_mean
from .unet1d import BoundaryUNet1D, Encoding, UNet1DConfig


def cosine_alpha_bar(n_steps: int, s: float = 0.008) -> torch.Tensor:
    """[n_steps] cumulative signal share abar_t of the cosine schedule (Nichol & Dhariwal 2021)."""
    t = torch.arange(n_steps + 1, dtype=torch.float64) / n_steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, 0).float()


def ddim_steps(n_train_steps: int, n_sample_steps: int) -> list[int]:
    """Evenly spaced steps from the noisiest to 0, e.g. (1000, 5) -> [999, 749, 500, 250, 0]."""
    n = max(1, min(n_sample_steps, n_train_steps))
    return sorted({round(x) for x in torch.linspace(n_train_steps - 1, 0, n).tolist()}, reverse=True)


@dataclass(frozen=True)
class DiffusionConfig(UNet1DConfig):
    """The denoiser's sizes plus the diffusion's settings (one flat table in TOML and checkpoints)."""

    n_train_steps: int = 1000
    n_sample_steps: int = 10
    n_samples: int = 2  # 2 keeps 10-step sampling above 200 windows/s on 2 CPU cores
    signal_scale: float = 4.0  # x0 = scale * offset_s / max_offset_s (DiffusionDet-style signal scaling)
    sample_seed: int = 0
    spread_scale_s: float = 0.1  # confidence *= exp(-std of the samples / this)
    confidence_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if min(self.n_sample_steps, self.n_samples, self.n_train_steps) < 1:
            raise ValueError("n_train_steps, n_sample_steps and n_samples must be at least 1")


def _nest_denoiser_keys(state_dict: dict, prefix: str, *args) -> None:
    """Load-state-dict pre-hook: checkpoints written before the denoiser was its own module kept
    its tensors at the top level (``proj.weight``); move them under ``denoiser.``."""
    for key in [k for k in state_dict if k.startswith(prefix) and not k.startswith(prefix + "denoiser.")]:
        state_dict[prefix + "denoiser." + key[len(prefix):]] = state_dict.pop(key)


@MODELS.register("diffusion")
class BoundaryDiffusion(BoundaryModel):
    """DDIM over the boundary coordinate with a `BoundaryUNet1D` denoiser; has-change head from its down path."""

    Config = DiffusionConfig

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__(config)
        self.register_buffer("alpha_bar", cosine_alpha_bar(config.n_train_steps), persistent=False)
        self.denoiser = BoundaryUNet1D(config)
        self._register_load_state_dict_pre_hook(_nest_denoiser_keys)

    def to_coordinate(self, offset_s: torch.Tensor) -> torch.Tensor:
        """Offsets (s) [B] -> diffusion coordinates [B] in [-signal_scale, signal_scale]."""
        c = self.config
        return (offset_s / c.max_offset_s).clamp(-1, 1) * c.signal_scale

    def to_offset_s(self, x: torch.Tensor) -> torch.Tensor:
        """Diffusion coordinates [...] -> offsets (s) [...] in [-max_offset_s, max_offset_s]."""
        c = self.config
        return (x / c.signal_scale).clamp(-1, 1) * c.max_offset_s

    def predict_noise(self, encoding: Encoding, x_t: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """eps [B] predicted for noisy coordinates x_t [B] at steps [B] (long)."""
        return self.denoiser.denoise(encoding, self.to_offset_s(x_t), step)

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Noise-prediction MSE on change windows + has-change BCE."""
        encoding = self.denoiser.encode(batch)
        b = encoding.cond.shape[0]
        x0 = self.to_coordinate(batch["offset_s"])
        t = torch.randint(0, self.config.n_train_steps, (b,), device=x0.device)
        eps = torch.randn(b, device=x0.device)
        abar = self.alpha_bar[t]
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        denoising = masked_mean((self.predict_noise(encoding, x_t, t) - eps) ** 2, batch["has_change"])
        confidence = self.confidence_loss(encoding.change_logit, batch)
        return {"loss": denoising + self.config.confidence_weight * confidence, "denoising": denoising,
                "confidence": confidence}

    def sample(self, batch: Batch, n_steps: int | None = None,
               n_samples: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(boundaries (s) [B, S] from S deterministic DDIM runs of ``n_steps`` steps, has-change logit [B])."""
        c = self.config
        n_steps, n_samples = n_steps or c.n_sample_steps, n_samples or c.n_samples
        once = self.denoiser.encode(batch)
        b = once.cond.shape[0]
        encoding = once.repeat(n_samples)
        noise = torch.randn(b, n_samples, generator=torch.Generator().manual_seed(c.sample_seed))
        noise[:, 0] = 0.0  # sample 0 starts exactly at the initial boundary
        steps = ddim_steps(c.n_train_steps, n_steps)
        x = ((1 - self.alpha_bar[steps[0]]).sqrt() * noise.to(once.cond.device)).reshape(-1)
        for i, step in enumerate(steps):
            abar = self.alpha_bar[step]
            eps = self.predict_noise(encoding, x, torch.full_like(x, step, dtype=torch.long))
            x0 = ((x - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-c.signal_scale, c.signal_scale)
            if i == len(steps) - 1:
                x = x0
            else:  # DDIM (eta = 0): re-noise the estimate to the next, less noisy step
                eps = (x - abar.sqrt() * x0) / (1 - abar).sqrt()
                abar_next = self.alpha_bar[steps[i + 1]]
                x = abar_next.sqrt() * x0 + (1 - abar_next).sqrt() * eps
        return x.reshape(b, n_samples) / c.signal_scale * c.max_offset_s, once.change_logit

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """features [B, T, D], mask [B, T], left_emb / right_emb [B, E] -> (offset_s [B], s from the
        window centre: the mean of the samples; confidence [B] in [0, 1]: sigmoid(has-change logit)
        * exp(-spread of the samples / spread_scale_s))."""
        samples, logit = self.sample(batch)  # [B, S], [B]
        spread_s = samples.std(-1, unbiased=False)
        confidence = torch.sigmoid(logit) * torch.exp(-spread_s / self.config.spread_scale_s)
        return samples.mean(-1), confidence
