"""Training with PyTorch Lightning (the only package that imports it): config, module, fit."""

from .config import TrainConfig, load_train_config, save_train_config
from .fit import FitResult, fit

__all__ = ["FitResult", "TrainConfig", "fit", "load_train_config", "save_train_config"]
