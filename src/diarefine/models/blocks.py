"""Layers the variants share: MLPs, speaker-pair conditioning (FiLM), residual dilated conv
blocks over frame sequences, and masked attention pooling.

Frame sequences are frames-last, [B, T, C], so every channel mix is one GEMM.
"""

from __future__ import annotations

from collections.abc import Sequence

import math

import torch
import torch.nn.functional as F
from torch import nn


def mlp(dims: Sequence[int], dropout: float = 0.0, final_activation: bool = False) -> nn.Sequential:
    """Linear layers dims[0] -> dims[1] -> ... with GELU (and dropout) between them."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(dims) - 2 or final_activation:
            layers += [nn.GELU(), nn.Dropout(dropout)] if dropout else [nn.GELU()]
    return nn.Sequential(*layers)


class SpeakerPair(nn.Module):
    """Left and right speaker embeddings [B, E] each -> one conditioning vector [B, out_dim].

    The order matters (left then right): the model must know who speaks before the change.
    """

    def __init__(self, embedding_dim: int, out_dim: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(2 * embedding_dim, out_dim), nn.SiLU())

    def forward(self, left_emb: torch.Tensor, right_emb: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([left_emb, right_emb], dim=-1))


class FiLM(nn.Module):
    """Feature-wise scale and shift of frames [B, T, C] from a conditioning vector [B, cond_dim].

    Initialised to the identity (scale 1, shift 0) so conditioning is learnt gradually.
    """

    def __init__(self, cond_dim: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.proj(cond).unsqueeze(1).chunk(2, dim=-1)  # [B, 1, C] each
        return torch.addcmul(shift, x, 1 + scale)


class DepthwiseConv(nn.Module):
    """Per-channel ("depthwise") dilated temporal convolution of frames [B, T, C], same length out.

    Written as a sum of shifted, channel-scaled copies: on CPUs this is several times faster
    than ``nn.Conv1d(groups=C)`` and needs no transposes in the frames-last layout.
    """

    def __init__(self, channels: int, kernel_size: int = 5, dilation: int = 1) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd (the output is centred on each frame)")
        self.kernel_size, self.dilation = kernel_size, dilation
        bound = 1 / math.sqrt(kernel_size)  # as nn.Conv1d initialises a depthwise kernel
        self.weight = nn.Parameter(torch.empty(kernel_size, channels).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(channels).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, half = x.shape[1], (self.kernel_size // 2) * self.dilation
        padded = F.pad(x, (0, 0, half, half))
        out = torch.addcmul(self.bias, padded[:, :t], self.weight[0])
        for k in range(1, self.kernel_size):
            out = out + padded[:, k * self.dilation:k * self.dilation + t] * self.weight[k]
        return out


class ConvBlock(nn.Module):
    """Residual block on frames [B, T, C]: depthwise dilated conv -> LayerNorm -> FiLM(cond) ->
    pointwise MLP (C -> expansion C -> C).

    ConvNeXt-style: the depthwise conv gives temporal context cheaply (receptive field grows
    with the dilation), the pointwise MLP mixes channels. Padded frames are zeroed first.
    """

    def __init__(self, channels: int, cond_dim: int, kernel_size: int = 5, dilation: int = 1,
                 expansion: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.dwconv = DepthwiseConv(channels, kernel_size, dilation)
        self.norm = nn.LayerNorm(channels)
        self.film = FiLM(cond_dim, channels)
        self.pw = mlp([channels, expansion * channels, channels], dropout)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, T, C], cond [B, cond_dim], mask [B, T] bool or None -> [B, T, C]."""
        if mask is not None:
            x = x * mask.unsqueeze(-1).to(x.dtype)
        return x + self.pw(self.film(self.norm(self.dwconv(x)), cond))


class AttentionPool(nn.Module):
    """Masked softmax pooling of frames [B, T, C] over time -> [B, C] (a learnt per-frame relevance)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.score = nn.Linear(channels, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        logits = self.score(x).squeeze(-1).masked_fill(~mask, float("-inf"))  # [B, T]
        weights = torch.softmax(logits, dim=-1).nan_to_num(0.0)  # all-masked rows -> zero vector
        return torch.einsum("btc,bt->bc", x, weights)


def group_frames(x: torch.Tensor, factor: int) -> torch.Tensor:
    """[B, T, C] -> [B, T / factor, factor * C]: consecutive frames side by side (no information lost)."""
    b, t, c = x.shape
    return x.reshape(b, t // factor, factor * c)


def group_mask(mask: torch.Tensor, factor: int) -> torch.Tensor:
    """[B, T] -> [B, T / factor]: a group is valid when any of its frames is."""
    return mask.reshape(mask.shape[0], -1, factor).any(-1)
