"""Frame features of 4 s windows: a registry of extractors (``fbank`` default, ``wavlm`` optional);
``FEATURES.build(spec)`` makes one."""

from . import fbank, wavlm  # noqa: F401  (register "fbank" and "wavlm"; transformers is imported lazily)
from .base import DEFAULT_FEATURES, FEATURES, FeatureExtractor

__all__ = ["DEFAULT_FEATURES", "FEATURES", "FeatureExtractor"]
