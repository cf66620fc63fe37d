"""Boundary models: one file per variant, all behind `BoundaryModel` and the `MODELS` registry."""

from . import bic, contrastive, diffusion, mlp, silence_snap, similarity, transformer  # noqa: F401  (register them)
from .base import MODELS, BoundaryModel, ModelConfig, build_model
from .checkpoint import CHECKPOINT_FORMAT, Checkpoint, classical_checkpoint, classical_like, load_checkpoint, save_checkpoint

__all__ = ["CHECKPOINT_FORMAT", "MODELS", "BoundaryModel", "Checkpoint", "ModelConfig", "build_model", "classical_checkpoint", "classical_like",
           "load_checkpoint", "save_checkpoint"]
