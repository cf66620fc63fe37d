"""``bic``: the classical speaker-change detector (Chen & Gopalakrishnan, 1998) inside the window.

The window's log filterbank features become cepstra (DCT-II, c1..cN); for every split frame
leaving at least ``min_segment_s`` on each side, the Bayesian Information Criterion gain of
modelling the two sides by two Gaussians rather than one is

    dBIC(t) = N/2 log|S| - N1/2 log|S1| - N2/2 log|S2| - penalty * P/2 * log N,

with P the parameters of one Gaussian (full or diagonal covariance). The boundary is the
split with the largest gain; the confidence is a calibrated sigmoid of that gain. All splits
are scored at once from cumulative sums of x and x x^T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ...units import FRAME_RATE
from ..base import MODELS, Batch
from .base import CalibratedConfig, ClassicalRefiner


def dct_matrix(n_in: int, n_out: int, skip_c0: bool = True) -> torch.Tensor:
    """[n_in, n_out] orthonormal DCT-II basis: log filterbank energies [.., n_in] @ it -> cepstra."""
    k = torch.arange(1 if skip_c0 else 0, n_out + (1 if skip_c0 else 0), dtype=torch.float64)
    n = torch.arange(n_in, dtype=torch.float64)
    return torch.cos(math.pi / n_in * (n[:, None] + 0.5) * k[None, :]) * math.sqrt(2.0 / n_in)


@dataclass(frozen=True)
class BicConfig(CalibratedConfig):
    covariance: str = "full"  # "full" or "diagonal"
    n_cepstra: int = 13  # c1..c13 of the log filterbank features (at most feature_dim - 1)
    min_segment_s: float = 0.5  # shortest side a split may leave
    penalty: float = 1.0  # lambda of the model-size term
    ridge: float = 1e-3  # added to covariance diagonals (short segments)
    confidence_bias: float = 456.0  # fitted on dev windows (benchmarks/calibrate_baselines.py)
    confidence_scale: float = 362.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.covariance not in ("full", "diagonal"):
            raise ValueError(f"covariance must be 'full' or 'diagonal', not {self.covariance!r}")
        if self.n_cepstra < 1 or self.feature_dim < 2:
            raise ValueError("need n_cepstra >= 1 and feature_dim >= 2")


def _log_det(cov: torch.Tensor, diagonal: bool, ridge: float) -> torch.Tensor:
    """log-determinant of covariances [..., C, C] (only their diagonals when ``diagonal``)."""
    eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device)
    if diagonal:
        return torch.log(torch.diagonal(cov, dim1=-2, dim2=-1).clamp(min=0) + ridge).sum(-1)
    return torch.linalg.slogdet(cov + ridge * eye)[1]


@MODELS.register("bic")
class BicRefiner(ClassicalRefiner):
    """Largest-BIC-gain split of the window; no parameters."""

    Config = BicConfig
    reads_speaker_embeddings = False

    def __init__(self, config: BicConfig) -> None:
        super().__init__(config)
        self.n_cepstra = min(config.n_cepstra, config.feature_dim - 1)
        self.register_buffer("dct", dct_matrix(config.feature_dim, self.n_cepstra), persistent=False)

    def gains(self, batch: Batch) -> torch.Tensor:
        """dBIC of every split [B, T + 1] (-inf where a side would be shorter than min_segment_s)."""
        c = self.config
        x = batch["features"].double() @ self.dct  # [B, T, C]
        w = batch["mask"].double()  # [B, T]
        zero = lambda t: torch.cat([torch.zeros_like(t[:, :1]), t], dim=1)  # noqa: E731
        n1 = zero(w.cumsum(1))  # [B, T + 1] valid frames left of each split
        s1 = zero((w[..., None] * x).cumsum(1))  # [B, T + 1, C]
        s2 = zero((w[..., None, None] * x[..., :, None] * x[..., None, :]).cumsum(1))  # [B, T + 1, C, C]
        n, total1, total2 = n1[:, -1:], s1[:, -1:], s2[:, -1:]

        def log_det(count, sums, squares):
            count = count.clamp(min=1)[..., None, None]
            mean = sums[..., :, None] / count
            return _log_det(squares / count - mean * mean.transpose(-1, -2), c.covariance == "diagonal", c.ridge)

        n2 = n - n1
        gain = 0.5 * (n * log_det(n, total1, total2) - n1 * log_det(n1, s1, s2) - n2 * log_det(n2, total1 - s1, total2 - s2))
        dims = self.n_cepstra
        params = dims + (dims if c.covariance == "diagonal" else dims * (dims + 1) / 2)
        gain = gain - c.penalty * 0.5 * params * torch.log(n.clamp(min=2))
        shortest = c.min_segment_s * FRAME_RATE
        return gain.masked_fill((n1 < shortest) | (n2 < shortest), float("-inf"))

    def predict_with_score(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        gains = self.gains(batch)
        best, split = gains.max(dim=1)  # split t: boundary between frames t - 1 and t
        offset_s = split.double() / FRAME_RATE - self.config.n_frames / (2 * FRAME_RATE)
        return torch.where(torch.isfinite(best), offset_s, 0.0), best
