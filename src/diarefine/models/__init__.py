"""Boundary models: one file per variant, all behind `BoundaryModel` and the `MODELS` registry."""

from . import contrastive, diffusion, mlp, transformer  # noqa: F401  (register the variants)
from .base import MODELS, BoundaryModel, ModelConfig, build_model
from .checkpoint import CHECKPOINT_FORMAT, Checkpoint, load_checkpoint, save_checkpoint

__all__ = ["CHECKPOINT_FORMAT", "MODELS", "BoundaryModel", "Checkpoint", "ModelConfig", "build_model",
           "load_checkpoint", "save_checkpoint"]
