"""A control embedder that does not listen: a fixed random unit vector per speaker label."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .base import EMBEDDERS, SpeakerEmbedder, l2_normalize


def label_vector(speaker: str, dim: int) -> np.ndarray:
    """A deterministic unit vector [dim] seeded by a hash of the speaker label.

    >>> bool(np.allclose(label_vector("A", 8), label_vector("A", 8)))
    True
    """
    seed = int.from_bytes(hashlib.sha256(speaker.encode()).digest()[:8], "little")
    return l2_normalize(np.random.default_rng(seed).standard_normal(dim))


@EMBEDDERS.register("dummy")
class DummyEmbedder(SpeakerEmbedder):
    """Same vector for every chunk of a speaker label: tells how much a model uses real embeddings."""

    @dataclass(frozen=True)
    class Config:
        dim: int = 256

    @property
    def dim(self) -> int:
        return self.config.dim

    def embed_spans(self, audio: np.ndarray, spans: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
        vectors = {s: label_vector(s, self.dim) for s in set(speakers)}
        return np.stack([vectors[s] for s in speakers]) if speakers else np.zeros((0, self.dim), np.float32)
