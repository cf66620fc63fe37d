"""``segmentation-snap``: move the boundary to where segmentation-3.0's local speakers hand over.

The caller runs segmentation-3.0 on the window and ``context_s`` around it (the 10 s chunks it
was trained on) and passes its local speakers (``refine/inputs.local_speakers``):
``seg_activity`` [B, T, S] activity probabilities on the window's frames, and ``seg_emb``
[B, S, E] / ``seg_emb_ok`` [B, S] an embedding of each local speaker's solo speech in the chunk,
from the same embedder as the hypothesis speakers' ``left_emb`` / ``right_emb``.

The two local speakers that best match the left and right hypothesis speakers (the pair of
distinct local speakers with the largest sum of cosine similarities) give d_t = a_t(right) -
a_t(left). The boundary is the split that best separates negative from positive d
(maximising sum_{t >= j} d_t - sum_{t < j} d_t), searched within ``radius_s`` of the window
centre. The score is the posterior contrast mean(d after) - mean(d before) (up to 2), less
``mismatch_penalty`` when the match is ambiguous (the left speaker is closer to the right
local speaker than to its own, or the other way round); no pair of embedded local speakers,
or a side without an embedding, scores -inf (left alone).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...units import FRAME_RATE
from ..base import MODELS, Batch
from .base import CalibratedConfig, ClassicalRefiner


@dataclass(frozen=True)
class SegmentationSnapConfig(CalibratedConfig):
    weights: str = ""  # a pyannote.audio segmentation checkpoint; empty: the shipped segmentation-3.0
    context_s: float = 3.0  # audio on each side of the window the segmentation sees (4 + 2 x 3 = 10 s)
    min_speech_s: float = 0.25  # a local speaker with less solo speech in the chunk gets no embedding
    radius_s: float = 1.0  # farthest the boundary may move
    mismatch_penalty: float = 0.5
    confidence_bias: float = 0.6  # contrast at confidence 0.5; chosen on ami-debug/train (benchmarks/bench_real.py)
    confidence_scale: float = 0.15

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.radius_s < self.n_frames / FRAME_RATE / 2 or self.context_s < 0:
            raise ValueError("need 0 < radius_s < half the window and context_s >= 0")


@MODELS.register("segmentation-snap")
class SegmentationSnapRefiner(ClassicalRefiner):
    """Split between the local speakers matching the left / right speakers; no parameters."""

    Config = SegmentationSnapConfig
    extra_inputs = ("local_speakers",)
    #: Embeddings its matching works best with, when `refine` builds it on the default front end.
    embeddings = "campplus"

    @property
    def extra_context_s(self) -> float:
        return self.config.context_s

    def match(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(left local speaker [B], right local speaker [B], ambiguous [B] bool, True where no pair exists)."""
        emb = F.normalize(batch["seg_emb"].float(), dim=-1)  # [B, S, E]
        ok = batch["seg_emb_ok"]
        left = (emb @ F.normalize(batch["left_emb"].float(), dim=-1)[..., None]).squeeze(-1)  # [B, S]
        right = (emb @ F.normalize(batch["right_emb"].float(), dim=-1)[..., None]).squeeze(-1)
        s = emb.shape[1]
        pair = left[:, :, None] + right[:, None, :]  # [B, S (left), S (right)]
        usable = ok[:, :, None] & ok[:, None, :] & ~torch.eye(s, dtype=torch.bool, device=emb.device)
        best = pair.masked_fill(~usable, float("-inf")).flatten(1).argmax(1)
        li, ri = best // s, best % s
        rows = torch.arange(len(best), device=emb.device)
        ambiguous = (left[rows, ri] > left[rows, li]) | (right[rows, li] > right[rows, ri]) | ~usable.flatten(1).any(1)
        return li, ri, ambiguous

    def predict_with_score(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        activity = batch["seg_activity"].float()  # [B, T, S]
        li, ri, ambiguous = self.match(batch)
        rows = torch.arange(activity.shape[0], device=activity.device)
        d = activity[rows, :, ri] - activity[rows, :, li]  # [B, T]
        t = d.shape[1]
        before = torch.cat([torch.zeros_like(d[:, :1]), d.cumsum(1)], dim=1)  # [B, T + 1] sum of d[:j]
        after = before[:, -1:] - before
        split_s = torch.arange(t + 1, device=d.device) / FRAME_RATE - t / (2 * FRAME_RATE)  # [T + 1]
        reach = (split_s.abs() <= c.radius_s) & (torch.arange(t + 1, device=d.device) % t != 0)
        j = (after - before).masked_fill(~reach, float("-inf")).argmax(1)  # split between frames j - 1 and j
        n_before = j.float()
        contrast = after[rows, j] / (t - n_before) - before[rows, j] / n_before
        score = contrast - c.mismatch_penalty * ambiguous.float()
        has_pair = batch["seg_emb_ok"].sum(1) >= 2
        has_sides = (batch["left_emb"].norm(dim=-1) > 0) & (batch["right_emb"].norm(dim=-1) > 0)
        return split_s[j], torch.where(has_pair & has_sides, score, float("-inf"))
