"""The denoiser of the ``diffusion`` variant: a 1-D U-Net over the window's frames.

It is split so that sampling stays cheap. The down path (wide, most parameters) sees only
the frames and the two speakers, so it runs once per window (`BoundaryUNet1D.encode`); it also
gives the has-change logit from the bottleneck. The up path (narrow, `BoundaryUNet1D.denoise`)
takes the down path's skip connections, a map of where the noisy boundary lies on the frame
axis, and FiLM conditioning on (step, noisy boundary, speakers), and runs at every sampling
step. The network knows seconds and steps; the diffusion coordinate, the noise schedule, the
loss and the sampler live in `diffusion.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import Batch, ModelConfig, frame_offsets_s, sinusoidal_embedding
from .blocks import AttentionPool, ConvBlock, SpeakerPair, group_frames, group_mask, mlp


@dataclass(frozen=True)
class UNet1DConfig(ModelConfig):
    """Sizes of the denoiser (the ``diffusion`` variant's config extends this)."""

    channels: tuple[int, ...] = (64, 128, 192, 256)  # down-path width per level (T, T/2, T/4, T/8)
    bottleneck_blocks: int = 1
    decoder_channels: int = 32  # up-path width (runs at every sampling step, so kept narrow)
    cond_dim: int = 160
    kernel_size: int = 5
    boundary_map_scale_s: float = 0.2  # width of the tanh ramp that marks the noisy boundary
    dropout: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_frames % 2 ** (len(self.channels) - 1):
            raise ValueError(f"n_frames must be divisible by 2^(levels - 1) = {2 ** (len(self.channels) - 1)}")


@dataclass
class Encoding:
    """What the down path gives, per window: skips [B, T / 2^i, dec] and masks [B, T / 2^i] of each
    level i, the speaker conditioning [B, cond] and the has-change logit [B]."""

    skips: list[torch.Tensor]
    masks: list[torch.Tensor]
    cond: torch.Tensor
    change_logit: torch.Tensor

    def repeat(self, n: int) -> "Encoding":
        """Each window's encoding ``n`` times in a row (B -> B * n), for several samples per window."""
        return Encoding([s.repeat_interleave(n, 0) for s in self.skips],
                        [m.repeat_interleave(n, 0) for m in self.masks],
                        self.cond.repeat_interleave(n, 0), self.change_logit.repeat_interleave(n, 0))


class BoundaryUNet1D(nn.Module):
    """Frames [B, T, D] + speaker pair -> (once) `Encoding`; + noisy boundary and step -> (per step) eps [B]."""

    def __init__(self, config: UNet1DConfig) -> None:
        super().__init__()
        c, ch, dec = config, config.channels, config.decoder_channels
        self.config = config
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
        self.register_buffer("frame_offsets_s", frame_offsets_s(c.n_frames), persistent=False)  # [T] s

    def encode(self, batch: Batch) -> Encoding:
        """Down path of ``features`` [B, T, D], ``mask`` [B, T] and ``left_emb`` / ``right_emb`` [B, E]."""
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
        return Encoding(skips, masks, cond, logit)

    def denoise(self, encoding: Encoding, position_s: torch.Tensor, step: torch.Tensor) -> torch.Tensor:
        """Up path: predicted noise [B] for noisy boundaries ``position_s`` [B] (s from the window
        centre) at diffusion steps ``step`` [B] (long)."""
        c = self.config
        step_cond = torch.cat([sinusoidal_embedding(step.float(), c.cond_dim),
                               sinusoidal_embedding(position_s * 100.0, c.cond_dim)], dim=-1)
        cond = encoding.cond + self.noise_cond(step_cond)
        boundary_map = torch.tanh((self.frame_offsets_s - position_s.unsqueeze(-1))
                                  / c.boundary_map_scale_s)  # [B, T]: -1 before the noisy boundary, +1 after
        h = None
        for i in reversed(range(len(encoding.skips))):
            level_map = boundary_map.reshape(boundary_map.shape[0], -1, 2**i).mean(-1, keepdim=True)
            x = encoding.skips[i] + self.map_proj[i](level_map)
            if h is not None:
                b, t, d = h.shape
                x = x + self.upsample[i](h).reshape(b, 2 * t, d)
            h = self.up_blocks[i](x, cond, encoding.masks[i])
        return self.eps_head(torch.cat([self.eps_pool(h, encoding.masks[0]), cond], dim=-1)).squeeze(-1)
