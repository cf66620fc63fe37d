"""The 0.1 name of `diarefine.refine.pipeline` (the `Refiner`), kept as an alias for existing code."""

from .refine import refine
from .refine.pipeline import FileRefinement, Progress, Refiner, apply_predictions

__all__ = ["FileRefinement", "Progress", "Refiner", "apply_predictions", "refine"]
