"""Training-time augmentation of cache batches: frequency masking of the features and noise on
the speaker embeddings.

Why: a cache holds each reference change a few times (one window per drawn initial boundary),
so a model can memorise a change's audio; on held-out speakers the validation loss then rises
after a few epochs while the training loss keeps falling. Masking random feature bands
(SpecAugment, Park et al. 2019) and jittering the embeddings (as if taken from other stretches
of the speaker) make every pass over a window differ. Neither moves anything in time, so the
labels (``offset_s``, ``has_change``) stay exact. Applied to training batches only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class AugmentConfig:
    """What `augment_batch` does; the defaults do nothing (a config opts in)."""

    freq_masks: int = 0  # feature bands zeroed per window (0 = mean of mean-normalised features)
    freq_mask_width: int = 8  # each band is 0 .. this many feature dimensions wide (uniform)
    embedding_noise: float = 0.0  # Gaussian noise on each embedding, as a share of its norm

    def __post_init__(self) -> None:
        if self.freq_masks < 0 or self.freq_mask_width < 0 or self.embedding_noise < 0:
            raise ValueError("freq_masks, freq_mask_width and embedding_noise must be non-negative")

    @property
    def active(self) -> bool:
        return (self.freq_masks > 0 and self.freq_mask_width > 0) or self.embedding_noise > 0


def frequency_mask(features: torch.Tensor, n_masks: int, max_width: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """features [B, T, D] with ``n_masks`` random bands of 0..``max_width`` dimensions zeroed per
    window (the same band over all frames of a window); a new tensor."""
    b, _, d = features.shape
    dims = torch.arange(d, device=features.device)
    keep = torch.ones(b, d, dtype=torch.bool, device=features.device)
    for _ in range(n_masks):
        width = torch.randint(0, max_width + 1, (b, 1), generator=generator).to(features.device)
        start = (torch.rand(b, 1, generator=generator).to(features.device) * (d - width + 1)).long()
        keep &= ~((dims >= start) & (dims < start + width))
    return features * keep.unsqueeze(1).to(features.dtype)


def jitter_embeddings(emb: torch.Tensor, scale: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """emb [B, E] plus isotropic Gaussian noise whose expected norm is ``scale`` times each
    embedding's norm, rescaled to the original norm (embedders give fixed-norm vectors)."""
    norm = emb.norm(dim=-1, keepdim=True)
    noise = torch.randn(emb.shape, generator=generator).to(emb.device, emb.dtype) / emb.shape[-1] ** 0.5
    noisy = emb + scale * norm * noise
    return noisy * norm / noisy.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def augment_batch(batch: Batch, config: AugmentConfig, generator: torch.Generator | None = None) -> Batch:
    """A copy of ``batch`` with the augmentations of ``config`` applied (labels untouched)."""
    if not config.active:
        return batch
    out = dict(batch)
    if config.freq_masks and config.freq_mask_width:
        out["features"] = frequency_mask(batch["features"], config.freq_masks, config.freq_mask_width, generator)
    if config.embedding_noise:
        for key in ("left_emb", "right_emb"):
            out[key] = jitter_embeddings(batch[key], config.embedding_noise, generator)
    return out
