"""Speaker embeddings: a registry (``resemblyzer`` default, ``campplus`` shipped, ``wespeaker-onnx``, ``dummy``) and the
per-file speaker profiles that give each window its left / right speaker embeddings;
``EMBEDDERS.build(spec)`` makes one."""

from . import campplus, dummy, resemblyzer, wespeaker_onnx  # noqa: F401  (register; heavy imports are lazy)
from .base import (
                   DEFAULT_EMBEDDER,
                   EMBEDDERS,
                   ProfileConfig,
                   SpeakerChunks,
                   SpeakerEmbedder,
                   SpeakerEmbedding,
                   window_embedding,
)

__all__ = ["DEFAULT_EMBEDDER", "EMBEDDERS", "ProfileConfig", "SpeakerChunks", "SpeakerEmbedder",
           "SpeakerEmbedding", "window_embedding"]
