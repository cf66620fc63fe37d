"""Variant 3: denoising diffusion over the boundary coordinate (in the manner of DiffSED).

The boundary x0 = offset_s / max_offset_s (in [-1, 1]) is noised, x_t = sqrt(abar_t) x0 +
sqrt(1 - abar_t) eps, with a cosine schedule, and a 1-D U-Net over the frame sequence predicts
eps from the window, both speaker embeddings, the noisy boundary and the step t.

The U-Net is split so that sampling stays cheap: its down path (wide, most parameters)
sees only the frames and the speakers, so it runs once per window; the up path (narrow)
takes the down path's skip connections, a map of where the noisy boundary lies on the frame
axis, and FiLM conditioning on (step, noisy boundary, speakers), and runs at every step.
Inference is DDIM (deterministic) from the initial position: sample 0 starts exactly there
(x_T = 0, the window centre), the others from seeded noise around it; their mean is the
offset, and their spread lowers the confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .base import MODELS, Batch, BoundaryModel, ModelConfig, masked_mean, sinusoidal_embedding
from .blocks import AttentionPool, ConvBlock, SpeakerPair, group_frames, group_mask, mlp


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


@MODELS.register("diffusion")
class BoundaryDiffusion(BoundaryModel):
    """Down path (once per window) -> up path conditioned on (x_t, t) -> eps; has-change head."""

    @dataclass(frozen=True)
    class Config(ModelConfig):
        channels: tuple[int, ...] = (64, 128, 192, 256)  # down-path width per level (T, T/2, T/4, T/8)
        bottleneck_blocks: int = 1
        decoder_channels: int = 32  # up-path width (runs at every sampling step, so kept narrow)
        cond_dim: int = 160
        kernel_size: int = 5
        n_train_steps: int = 1000
        n_sample_steps: int = 10
        n_samples: int = 2  # 2 keeps 10-step sampling above 200 windows/s on 2 CPU cores
        signal_scale: float = 4.0  # x0 = scale * offset_s / max_offset_s (DiffusionDet-style signal scaling)
        sample_seed: int = 0
        boundary_map_scale_s: float = 0.2  # width of the tanh ramp that marks the noisy boundary
        spread_scale_s: float = 0.1  # confidence *= exp(-std of the samples / this)
        confidence_weight: float = 1.0
        dropout: float = 0.0

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.n_frames % 2 ** (len(self.channels) - 1):
                raise ValueError(f"n_frames must be divisible by 2^(levels - 1) = {2 ** (len(self.channels) - 1)}")
            if min(self.n_sample_steps, self.n_samples, self.n_train_steps) < 1:
                raise ValueError("n_train_steps, n_sample_steps and n_samples must be at least 1")

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        c, ch, dec = config, config.channels, config.decoder_channels
        self.register_buffer("alpha_bar", cosine_alpha_bar(c.n_train_steps), persistent=False)
        self.pair = SpeakerPair(c.embedding_dim, c.cond_dim)
        self.proj = nn.Linear(c.feature_dim, ch[0])
        self.down_blocks = nn.ModuleList(ConvBlock(w, c.cond_dim, c.kernel_size, dropout=c.dropout) for w in ch)
        self.downsample = nn.ModuleList(nn.Linear(2 * a, b) for a, b in zip(ch[:-1], ch[1:]))  # pairs of frames
        self.bottleneck = nn.ModuleList(ConvBlock(ch[-1], c.cond_dim, c.kernel_size, dropout=c.dropout)
                                        for _ in range(c.bottleneck_blocks))
        self.skip_proj = nn.ModuleList(nn.Linear(w, dec) for w in ch)
        self.map_proj = nn.ModuleList(nn.Linear(1, dec) for _ in ch)
        self.noise_cond = mlp([2 * c.cond_dim, c.cond_dim, c.cond_dim])
        self.up_blocks = nn.ModuleList(ConvBlock(dec, c.cond_dim, c.kernel_size) for _ in ch)
        self.upsample = nn.ModuleList(nn.Linear(dec, 2 * dec) for _ in ch[1:])  # one frame -> two
        self.eps_pool = AttentionPool(dec)
        self.eps_head = mlp([dec + c.cond_dim, dec, 1])
        self.change_pool = AttentionPool(ch[-1])
        self.change_head = mlp([ch[-1] + c.cond_dim, c.cond_dim, 1])

    # -- U-Net ------------------------------------------------------------------------------

    def encode(self, batch: Batch) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """Down path: (projected skips [B, T / 2^i, dec] per level i, masks [B, T / 2^i] per level,
        speaker cond [B, cond], has-change logit [B])."""
        mask = batch["mask"]
        cond = self.pair(batch["left_emb"], batch["right_emb"])
        x = self.proj(batch["features"])  # [B, T, C0]
        skips, masks = [], []
        for i, block in enumerate(self.down_blocks):
            if i:
                x, mask = self.downsample[i - 1](group_frames(x, 2)), group_mask(mask, 2)
            x = block(x, cond, mask)
            if i == len(self.down_blocks) - 1:
                for extra in self.bottleneck:
                    x = extra(x, cond, mask)
            skips.append(self.skip_proj[i](x))
            masks.append(mask)
        logit = self.change_head(torch.cat([self.change_pool(x, mask), cond], dim=-1)).squeeze(-1)
        return skips, masks, cond, logit

    def denoise(self, skips: list[torch.Tensor], masks: list[torch.Tensor], cond: torch.Tensor,
                x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Up path: predicted noise [B] for noisy boundaries x_t [B] at steps t [B] (long)."""
        c = self.config
        position_s = (x_t / c.signal_scale).clamp(-1, 1) * c.max_offset_s
        step_cond = torch.cat([sinusoidal_embedding(t.float(), c.cond_dim),
                               sinusoidal_embedding(position_s * 100.0, c.cond_dim)], dim=-1)
        cond = cond + self.noise_cond(step_cond)
        boundary_map = torch.tanh((self.frame_offsets_s(x_t.device) - position_s.unsqueeze(-1))
                                  / c.boundary_map_scale_s)  # [B, T]: -1 before the noisy boundary, +1 after
        h = None
        for i in reversed(range(len(skips))):
            level_map = boundary_map.reshape(boundary_map.shape[0], -1, 2**i).mean(-1, keepdim=True)
            x = skips[i] + self.map_proj[i](level_map)
            if h is not None:
                b, t, d = h.shape
                x = x + self.upsample[i](h).reshape(b, 2 * t, d)
            h = self.up_blocks[i](x, cond, masks[i])
        return self.eps_head(torch.cat([self.eps_pool(h, masks[0]), cond], dim=-1)).squeeze(-1)

    # -- training and sampling ----------------------------------------------------------------

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        skips, masks, cond, logit = self.encode(batch)
        b = logit.shape[0]
        c = self.config
        x0 = (batch["offset_s"] / c.max_offset_s).clamp(-1, 1) * c.signal_scale
        t = torch.randint(0, c.n_train_steps, (b,), device=x0.device)
        eps = torch.randn(b, device=x0.device)
        abar = self.alpha_bar[t]
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * eps
        denoising = masked_mean((self.denoise(skips, masks, cond, x_t, t) - eps) ** 2, batch["has_change"])
        confidence = self.confidence_loss(logit, batch)
        return {"loss": denoising + c.confidence_weight * confidence, "denoising": denoising,
                "confidence": confidence}

    def sample(self, batch: Batch, n_steps: int | None = None,
               n_samples: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(boundaries (s) [B, S] from S deterministic DDIM runs of ``n_steps`` steps, has-change logit [B])."""
        c = self.config
        n_steps, n_samples = n_steps or c.n_sample_steps, n_samples or c.n_samples
        skips, masks, cond, logit = self.encode(batch)
        b = cond.shape[0]
        skips = [s.repeat_interleave(n_samples, 0) for s in skips]
        masks = [m.repeat_interleave(n_samples, 0) for m in masks]
        cond = cond.repeat_interleave(n_samples, 0)
        noise = torch.randn(b, n_samples, generator=torch.Generator().manual_seed(c.sample_seed))
        noise[:, 0] = 0.0  # sample 0 starts exactly at the initial boundary
        steps = ddim_steps(c.n_train_steps, n_steps)
        x = ((1 - self.alpha_bar[steps[0]]).sqrt() * noise.to(cond.device)).reshape(-1)
        for i, step in enumerate(steps):
            abar = self.alpha_bar[step]
            eps = self.denoise(skips, masks, cond, x, torch.full_like(x, step, dtype=torch.long))
            x0 = ((x - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-c.signal_scale, c.signal_scale)
            if i == len(steps) - 1:
                x = x0
            else:  # DDIM (eta = 0): re-noise the estimate to the next, less noisy step
                eps = (x - abar.sqrt() * x0) / (1 - abar).sqrt()
                abar_next = self.alpha_bar[steps[i + 1]]
                x = abar_next.sqrt() * x0 + (1 - abar_next).sqrt() * eps
        return x.reshape(b, n_samples) / c.signal_scale * c.max_offset_s, logit

    def forward(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        samples, logit = self.sample(batch)  # [B, S], [B]
        spread_s = samples.std(-1, unbiased=False)
        confidence = torch.sigmoid(logit) * torch.exp(-spread_s / self.config.spread_scale_s)
        return samples.mean(-1), confidence
