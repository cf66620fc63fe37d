"""The classical refiners: signal rules with nothing to learn, in the model registry beside the learned
variants (``bic``, ``similarity``, ``silence-snap``, ``segmentation-snap``, ``pause-match``,
``overlap-match``) so that ``refine``, ``evaluate`` and every table treat them alike."""

from . import (  # noqa: F401  (register them)
    bic,
    overlap_match,
    pause_match,
    segmentation_snap,
    silence_snap,
    similarity,
)
from .base import CalibratedConfig, ClassicalRefiner

__all__ = ["CalibratedConfig", "ClassicalRefiner"]
