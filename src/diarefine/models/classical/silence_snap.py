"""``silence-snap``: move the boundary to the centre of the nearest low-energy stretch.

From the window's waveform (``batch["waves"]``), frame energies in dB (25 ms every 10 ms); a
frame is low-energy when it is below ``floor + ratio * (peak - floor)`` (5th and 95th
percentiles of the window's valid frames: a window whose only pause is shorter than 5% of it,
0.2 s, may show too little range and be left alone). Runs of at least ``min_silence_s`` whose
centre lies within ``radius_s`` of the window centre are candidates; the nearest wins. No candidate,
or a window without ``min_dynamic_db`` of dynamic range, leaves the boundary alone (confidence
0). The confidence grows with the stretch's length (calibrated sigmoid).
Energy frames, floor / peak and runs come from `diarefine.dsp`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ...dsp import ENERGY_HOP_S, energy_range, frame_energy_db, runs
from ...units import SAMPLE_RATE
from ..base import MODELS, Batch
from .base import CalibratedConfig, ClassicalRefiner


@dataclass(frozen=True)
class SilenceSnapConfig(CalibratedConfig):
    radius_s: float = 1.0
    min_silence_s: float = 0.1
    ratio: float = 0.25
    min_dynamic_db: float = 15.0
    confidence_bias: float = 0.151  # stretch length (s); fitted on dev windows (benchmarks/calibrate_baselines.py)
    confidence_scale: float = 0.742


@MODELS.register("silence-snap")
class SilenceSnapRefiner(ClassicalRefiner):
    """Snap to the nearest pause within the radius; no parameters."""

    Config = SilenceSnapConfig
    extra_inputs = ("waves",)
    reads_speaker_embeddings = False

    def predict_with_score(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        energy, valid = frame_energy_db(batch["waves"].float(), batch["wave_mask"])
        half_s = batch["waves"].shape[1] / SAMPLE_RATE / 2
        offsets, scores = [], []
        for e, ok in zip(energy, valid):
            offset, score = 0.0, float("-inf")
            level = energy_range(e, ok)
            if level is not None and level[1] - level[0] >= c.min_dynamic_db:
                floor, peak = level
                starts, ends = runs(((e < floor + c.ratio * (peak - floor)) & ok).cpu().numpy())
                candidates = [((s + t) / 2 * ENERGY_HOP_S - half_s, (t - s) * ENERGY_HOP_S)  # (centre, length) s
                              for s, t in zip(starts.tolist(), ends.tolist())]
                candidates = [(centre, length) for centre, length in candidates
                              if length >= c.min_silence_s and abs(centre) <= c.radius_s]
                if candidates:
                    offset, score = min(candidates, key=lambda r: abs(r[0]))
            offsets.append(offset)
            scores.append(score)
        device = batch["waves"].device
        return torch.tensor(offsets, device=device), torch.tensor(scores, device=device)
