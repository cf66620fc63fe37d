"""Boundary models: one file per learned variant, the classical refiners in ``classical/``, all behind
`BoundaryModel` and the `MODELS` registry (``MODELS.build(spec)``), and the checkpoint format."""

from . import classical, contrastive, diffusion, mlp, transformer  # noqa: F401  (register them)
from .base import MODELS, BoundaryModel, ModelConfig
from .checkpoint import (
                         CHECKPOINT_FORMAT,
                         Checkpoint,
                         classical_checkpoint,
                         classical_like,
                         load_checkpoint,
                         save_checkpoint,
)

__all__ = ["CHECKPOINT_FORMAT", "MODELS", "BoundaryModel", "Checkpoint", "ModelConfig", "classical_checkpoint",
           "classical_like", "load_checkpoint", "save_checkpoint"]
