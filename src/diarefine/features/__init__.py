"""Frame features of 4 s windows: a registry of extractors (``fbank`` default, ``pyannote-seg`` from the
shipped segmentation-3.0, ``wavlm`` optional);
``FEATURES.build(spec)`` makes one."""

from . import fbank, pyannote_seg, wavlm  # noqa: F401  (register them; transformers is imported lazily)
from .base import DEFAULT_FEATURES, FEATURES, FeatureExtractor

__all__ = ["DEFAULT_FEATURES", "FEATURES", "FeatureExtractor"]
