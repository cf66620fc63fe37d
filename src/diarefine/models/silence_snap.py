"""``silence-snap``: move the boundary to the centre of the nearest low-energy stretch.

From the window's waveform (``batch["waves"]``), frame energies in dB (25 ms every 10 ms); a
frame is low-energy when it is below ``floor + ratio * (peak - floor)`` (5th and 95th
percentiles of the window's valid frames: a window whose only pause is shorter than 5% of it,
0.2 s, may show too little range and be left alone). Runs of at least ``min_silence_s`` whose
centre lies within ``radius_s`` of the window centre are candidates; the nearest wins. No candidate,
or a window without ``min_dynamic_db`` of dynamic range, leaves the boundary alone (confidence
0). The confidence grows with the stretch's length (calibrated sigmoid).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import MODELS, Batch
from .classical import CalibratedConfig, ClassicalRefiner

SAMPLE_RATE = 16_000  # audio.SAMPLE_RATE (models import torch only)
ENERGY_HOP_S, ENERGY_FRAME_S = 0.01, 0.025


@dataclass(frozen=True)
class SilenceSnapConfig(CalibratedConfig):
    radius_s: float = 1.0
    min_silence_s: float = 0.1
    ratio: float = 0.25
    min_dynamic_db: float = 15.0
    confidence_bias: float = 0.151  # stretch length (s); fitted on dev windows (benchmarks/calibrate_baselines.py)
    confidence_scale: float = 0.742


def frame_energy_db(waves: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """waves [B, N] -> energies [B, F] dB and frame validity [B, F] (25 ms frames every 10 ms)."""
    hop, size = int(ENERGY_HOP_S * SAMPLE_RATE), int(ENERGY_FRAME_S * SAMPLE_RATE)
    pad = size - hop
    frames = torch.nn.functional.pad(waves, (pad // 2, pad - pad // 2)).unfold(1, size, hop)  # [B, F, size]
    energy = 10 * torch.log10(frames.pow(2).mean(-1) + 1e-10)
    centres = (torch.arange(energy.shape[1], device=waves.device) * hop + hop // 2).clamp(max=valid.shape[1] - 1)
    return energy, valid[:, centres]


def low_energy_runs(low: torch.Tensor) -> list[tuple[int, int]]:
    """(start, end) frame indices of the runs of True in a 1-D bool tensor.

    >>> low_energy_runs(torch.tensor([True, False, True, True, False]))
    [(0, 1), (2, 4)]
    """
    padded = torch.cat([torch.tensor([False]), low.cpu(), torch.tensor([False])]).int()
    edges = torch.diff(padded)
    return list(zip(torch.nonzero(edges == 1).flatten().tolist(), torch.nonzero(edges == -1).flatten().tolist()))


@MODELS.register("silence-snap")
class SilenceSnapRefiner(ClassicalRefiner):
    """Snap to the nearest pause within the radius; no parameters."""

    Config = SilenceSnapConfig
    extra_inputs = ("waves",)

    def predict_with_score(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        energy, valid = frame_energy_db(batch["waves"].float(), batch["wave_mask"])
        half_s = batch["waves"].shape[1] / SAMPLE_RATE / 2
        offsets, scores = [], []
        for e, ok in zip(energy, valid):
            offset, score = 0.0, float("-inf")
            if ok.sum() > 10:
                floor, peak = torch.quantile(e[ok], torch.tensor([0.05, 0.95], device=e.device)).tolist()
                if peak - floor >= c.min_dynamic_db:
                    runs = low_energy_runs((e < floor + c.ratio * (peak - floor)) & ok)
                    runs = [((s + t) / 2 * ENERGY_HOP_S - half_s, (t - s) * ENERGY_HOP_S) for s, t in runs]
                    runs = [(centre, length) for centre, length in runs
                            if length >= c.min_silence_s and abs(centre) <= c.radius_s]
                    if runs:
                        offset, score = min(runs, key=lambda r: abs(r[0]))
            offsets.append(offset)
            scores.append(score)
        device = batch["waves"].device
        return torch.tensor(offsets, device=device), torch.tensor(scores, device=device)
