"""Frame features of 4 s windows: a registry of extractors (``fbank`` default, ``wavlm`` optional)."""

from . import fbank, wavlm  # noqa: F401  (register "fbank" and "wavlm"; transformers is imported lazily)
from .base import DEFAULT_FEATURES, FEATURES, FRAME_RATE, FeatureExtractor, build_feature_extractor

__all__ = ["DEFAULT_FEATURES", "FEATURES", "FRAME_RATE", "FeatureExtractor", "build_feature_extractor"]
