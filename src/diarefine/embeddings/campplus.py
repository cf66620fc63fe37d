"""``campplus``: CAM++ speaker embeddings (3D-Speaker, trained on about 200k Chinese and English
speakers; 192-d), from the shipped weights or a user's own CAM++ state dict.

The Kaldi fbank (`networks.campplus.kaldi_fbank`) is computed once over the whole audio block, or
per span when the spans cover less of it (`span_fbanks`; the frames are the same); each span takes
the frames that lie inside it (frame f covers samples [160 f, 160 f + 400)),
mean-normalised over the span as CAM++ was trained, and spans of equal length go through the
network together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..networks.campplus import FBANK_HOP, FBANK_WINDOW, batch_size_for, kaldi_fbank, n_fbank_frames, shared_campplus
from ..networks.parallel import map_batches
from ..networks.weights import CAMPPLUS_ZH_EN, weights_path
from ..units import SAMPLE_RATE
from .base import EMBEDDERS, SpeakerEmbedder, l2_normalize

#: Fewest fbank frames CAM++ gets (its TDNN strides by 2; statistics pooling needs 2 frames).
MIN_FRAMES = 8


def span_frames(spans: np.ndarray, n_available: int) -> tuple[np.ndarray, np.ndarray]:
    """(first frame [K], frame count [K]) of the fbank frames inside each span [K, 2] (s), at least
    `MIN_FRAMES` and within the ``n_available`` frames.

    >>> [x.tolist() for x in span_frames(np.array([[0.0, 1.6], [1.0, 1.02]]), 1000)]
    [[0, 100], [158, 8]]
    """
    first = np.round(spans[:, 0] * SAMPLE_RATE / FBANK_HOP).astype(int)
    n_samples = np.round((spans[:, 1] - spans[:, 0]) * SAMPLE_RATE).astype(int)
    count = np.minimum(np.maximum(MIN_FRAMES, n_fbank_frames(n_samples)), n_available)
    return np.minimum(np.maximum(first, 0), n_available - count), count


def span_fbanks(audio: np.ndarray, first: np.ndarray, count: np.ndarray) -> list[np.ndarray]:
    """The fbank frames [count_k, 80] of each span (`span_frames`) of ``audio`` [N]. Kaldi frames are
    independent of each other (no dither), so a span's frames computed from its own samples equal
    those of the whole audio; whichever computes fewer frames is used (spans that cover little of
    a long file, e.g. capped speaker profiles, skip the rest of it; spans then go side by side on the cores)."""
    if count.sum() >= n_fbank_frames(len(audio)):
        fbank = kaldi_fbank(audio)
        return [fbank[f:f + n] for f, n in zip(first, count)]

    def own_frames(span: tuple[int, int]) -> np.ndarray:  # (first frame, frame count)
        f, n = span
        return kaldi_fbank(audio[f * FBANK_HOP:(f + n - 1) * FBANK_HOP + FBANK_WINDOW])

    return map_batches(own_frames, list(zip(first, count)))


@EMBEDDERS.register("campplus")
class CampplusEmbedder(SpeakerEmbedder):
    """CAM++ over mean-normalised Kaldi fbank of each span; L2-normalised 192-d embeddings."""

    @dataclass(frozen=True)
    class Config:
        weights: str = ""  # a CAM++ state dict (3D-Speaker layout); empty: the shipped zh-en advanced model
        batch_size: int = 32  # most spans per network call (fewer when long: `networks.campplus.batch_size_for`)

    def __init__(self, config: "CampplusEmbedder.Config | None" = None) -> None:
        super().__init__(config)
        self.network = shared_campplus(str(weights_path(self.config.weights, CAMPPLUS_ZH_EN)))

    @property
    def dim(self) -> int:
        return self.network.config.embedding_size

    @torch.inference_mode()
    def embed_spans(self, audio: np.ndarray, spans: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(spans), self.dim), np.float32)
        n_available = n_fbank_frames(len(audio))
        if len(spans) == 0 or n_available < MIN_FRAMES:
            return out
        first, count = span_frames(np.asarray(spans, dtype=np.float64), n_available)
        frames = span_fbanks(audio, first, count)
        batches = []  # spans of one length, about BATCH_FRAMES frames per batch
        for n in np.unique(count):
            idx = np.flatnonzero(count == n)
            size = batch_size_for(int(n), self.config.batch_size)
            batches += [idx[lo:lo + size] for lo in range(0, len(idx), size)]

        def embed(batch: np.ndarray) -> np.ndarray:
            feats = np.stack([frames[i] for i in batch])  # [B, n, 80]
            return self.network(torch.from_numpy(feats - feats.mean(axis=1, keepdims=True))).float().numpy()

        for batch, embeddings in zip(batches, map_batches(embed, batches)):  # side by side on the cores
            out[batch] = embeddings
        return l2_normalize(out)
