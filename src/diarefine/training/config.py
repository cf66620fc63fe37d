"""Training configuration: TOML -> dataclasses, ``--set key=value`` overrides, and the resolved
config written next to the checkpoints.

A config file has a top-level ``seed`` (and optionally ``init``, a checkpoint to fine-tune) and five tables: ``[model]`` (``name`` plus that
variant's settings, checked against its ``Config``), ``[data]``, ``[optim]``, ``[trainer]``
and the optional ``[augment]`` (training-time augmentation, see `augment.AugmentConfig`).
Unknown keys and wrong types are errors naming the key.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..config import from_dict, parse_override, read_toml, to_dict
from ..errors import ConfigError
from ..fileio import atomic_write_text
from .augment import AugmentConfig


@dataclass(frozen=True)
class DataConfig:
    """Which caches to train and validate on (lists of shards), and how to batch them."""

    train: tuple[str, ...] = ()
    val: tuple[str, ...] = ()
    batch_size: int = 32
    num_workers: int = 0
    in_memory: bool = True  # read the caches into RAM once (fast random batches)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.num_workers < 0:
            raise ValueError("batch_size must be positive and num_workers non-negative")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with linear warm-up then cosine decay to ``min_lr_ratio * lr``, per optimiser step."""

    lr: float = 5e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 500
    min_lr_ratio: float = 0.01
    grad_clip: float = 1.0  # max gradient norm; 0 disables clipping
    ema_decay: float = 0.0  # > 0: validate and save an exponential moving average of the weights (e.g. 0.999)

    def __post_init__(self) -> None:
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError("ema_decay must be in [0, 1) (0 disables the weight average)")


@dataclass(frozen=True)
class TrainerConfig:
    """Lightning Trainer settings. ``strategy = "ddp"`` with ``devices > 1`` trains on several GPUs."""

    max_epochs: int = 50
    max_time_min: float = 0.0  # wall-clock budget in minutes; 0: none
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: int | str = "auto"
    strategy: Literal["auto", "ddp", "ddp_spawn"] = "auto"
    precision: Literal["auto", "32", "16-mixed", "bf16-mixed"] = "auto"  # auto: 16-mixed on CUDA, else 32
    early_stopping_patience: int = 10  # validation epochs without a better MAE; 0 disables
    limit_train_batches: float = 1.0  # share (<= 1) or count (> 1) of training batches per epoch
    val_every_n_epochs: int = 1
    log_every_n_steps: int = 50
    deterministic: bool = False
    threads: int = 0  # CPU threads for torch; 0: leave torch's default


@dataclass(frozen=True)
class TrainConfig:
    """Everything ``diarefine train`` needs; ``model`` is ``{"name": variant, **settings}``."""

    model: dict[str, Any] = field(default_factory=lambda: {"name": "transformer"})
    data: DataConfig = DataConfig()
    optim: OptimConfig = OptimConfig()
    trainer: TrainerConfig = TrainerConfig()
    augment: AugmentConfig = AugmentConfig()
    seed: int = 0
    init: str = ""  # a diarefine checkpoint (or shipped model name) to start from: fine-tuning

    def __post_init__(self) -> None:
        if "name" not in self.model:
            raise ValueError("[model] needs a name (mlp, transformer, diffusion, contrastive)")


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """A copy of a raw config dict with ``--set`` overrides applied (validated later by `from_dict`)."""
    data = copy.deepcopy(data)
    for text in overrides:
        keys, value = parse_override(text)
        node = data
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {text!r}: {key!r} is not a table")
        node[keys[-1]] = value
    return data


def load_train_config(path: str | Path | None, overrides: list[str] = ()) -> TrainConfig:
    """Read a training TOML (or the defaults), apply ``--set`` overrides, validate everything.

    The model table is checked against the variant's own ``Config`` here, so a typo in it is
    reported before any data is read.
    """
    from ..models import MODELS

    data = apply_overrides(read_toml(path) if path else {}, list(overrides))
    config = from_dict(TrainConfig, data, str(path or "config"))
    cls = MODELS.get(config.model["name"])
    if not cls.trainable:
        raise ConfigError(f"{path or 'config'}: [model] name = {cls.name!r} is a classical refiner and needs no "
                          f"training; use it directly: `diarefine refine --model {cls.name}`, and `diarefine "
                          "evaluate` includes it in every table")
    from_dict(cls.Config, {k: v for k, v in config.model.items() if k != "name"}, f"{path or 'config'}: [model]")
    return config


def save_train_config(config: TrainConfig, path: str | Path) -> None:
    """Write the resolved config as TOML (what ``--config`` reads back)."""
    import tomli_w

    atomic_write_text(path, tomli_w.dumps(to_dict(config)))
