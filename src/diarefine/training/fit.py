"""``fit(config, out_dir)``: train one variant from a `TrainConfig` with Lightning and export the
best model as a diarefine checkpoint.

Output folder::

    OUT/config.toml            the resolved config (re-runnable with --config)
    OUT/best.pt                the best model by validation MAE (diarefine checkpoint format)
    OUT/metrics.json           validation metrics of every epoch and of the best one
    OUT/lightning/*.ckpt       Lightning checkpoints (best and last; resumable)
    OUT/tensorboard/version_N  TensorBoard logs (losses, learning rate, validation metrics)
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import (
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    WeightAveraging,
)
from lightning.pytorch.loggers import TensorBoardLogger
from torch.optim.swa_utils import get_ema_avg_fn
from torch.utils.data import DataLoader, Subset

from ..config import to_dict
from ..data import WindowDataset, check_config, collate_windows
from ..display import percent, seconds
from ..errors import ConfigError
from ..fileio import write_json
from ..models import MODELS, load_checkpoint, save_checkpoint
from .augment import AugmentConfig
from .config import TrainConfig, save_train_config
from .module import MONITOR, BoundaryTask

log = logging.getLogger("diarefine")


@dataclass
class FitResult:
    """Where a run wrote its outputs and how it went."""

    out_dir: Path
    checkpoint: Path  # OUT/best.pt
    best: dict  # validation metrics of the best epoch
    history: list[dict] = field(default_factory=list)  # validation metrics per epoch
    n_parameters: int = 0
    n_train_windows: int = 0
    seconds: float = 0.0
    train_windows_per_s: float = 0.0  # training-step throughput (per process), validation excluded
    is_global_zero: bool = True  # False in the other processes of a DDP run (they write and print nothing)

    def summary_rows(self) -> list[list[str]]:
        """(measure, value) rows for the console summary of a run."""
        best = self.best
        nan = float("nan")
        return [["parameters", f"{self.n_parameters:,}"],
                ["training windows", str(self.n_train_windows)],
                ["best epoch", str(best.get("epoch", "-"))],
                ["validation MAE / median", " / ".join(seconds(best.get(k, nan)) for k in ("val/mae_s", "val/median_s"))],
                ["validation acc@50 / 100 / 200 ms",
                 " / ".join(percent(best.get(f"val/acc@{ms}ms", nan), 1) for ms in (50, 100, 200))],
                ["training throughput", f"{self.train_windows_per_s:,.0f} windows/s"],
                ["wall time", f"{self.seconds / 60:.1f} min"]]


def _datasets(config: TrainConfig, overfit: int | None) -> tuple[WindowDataset, torch.utils.data.Dataset,
                                                                  torch.utils.data.Dataset]:
    """(full train dataset, train split, val split); ``overfit`` N: N change windows for both."""
    d = config.data
    if not d.train:
        raise ConfigError("data.train: name the training cache(s), e.g. train = [\"data/train.h5\"]")
    train = WindowDataset(list(d.train), in_memory=d.in_memory)
    if overfit:
        candidates = np.flatnonzero(train.column("has_change"))
        if len(candidates) < overfit:
            raise ConfigError(f"--overfit {overfit}: the training cache has only {len(candidates)} change windows")
        chosen = np.sort(np.random.default_rng(config.seed).choice(candidates, overfit, replace=False))
        subset = Subset(train, chosen.tolist())
        return train, subset, subset
    if not d.val:
        raise ConfigError("data.val: name the validation cache(s), e.g. val = [\"data/dev.h5\"]")
    val = WindowDataset(list(d.val), expected=train.config, in_memory=d.in_memory)
    return train, train, val


def _initial_model(config: TrainConfig, train: WindowDataset):
    """The variant to train: built from the [model] table, or, with ``init``, the checkpoint's model
    (its variant and settings; the training caches must have its front end) to fine-tune."""
    if not config.init:
        return MODELS.build(_model_config(config, train))
    from ..refine.resolve import resolve_model

    resolved = resolve_model(config.init)
    if resolved.classical:
        raise ConfigError(f"init = {config.init!r} is a classical refiner: there is nothing to fine-tune")
    checkpoint = load_checkpoint(resolved.path)
    for path in train.paths:
        check_config(path, checkpoint.cache_config)
    if checkpoint.model.name != config.model["name"]:
        raise ConfigError(f"init = {config.init!r} is a {checkpoint.model.name} model but [model] name = "
                          f"{config.model['name']!r}; use the config the checkpoint was trained with")
    return checkpoint.model.train()


def _model_config(config: TrainConfig, train: WindowDataset) -> dict:
    """The [model] table with the input sizes of the cache filled in (a conflicting value is an error)."""
    sizes = {"feature_dim": train.feature_dim, "embedding_dim": train.embedding_dim, "n_frames": train.n_frames}
    for key, value in sizes.items():
        if key in config.model and config.model[key] != value:
            raise ConfigError(f"model.{key} = {config.model[key]} but the training cache has {value}; "
                              f"drop the key (it is read from the cache)")
    return {**config.model, **sizes}


class _History(pl.Callback):
    """Records validation metrics after every validation epoch, and the training throughput
    (windows per second of training steps, validation excluded), for metrics.json."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.train_seconds = 0.0
        self.train_windows = 0
        self._began = 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._began = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.train_seconds += time.perf_counter() - self._began
        self.train_windows += int(batch["features"].shape[0])

    def on_validation_end(self, trainer, module) -> None:  # after the module logged its epoch metrics
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        self.rows.append({"epoch": trainer.current_epoch, "step": trainer.global_step, **metrics})

    @property
    def windows_per_s(self) -> float:
        return self.train_windows / self.train_seconds if self.train_seconds else 0.0


class _EMAWeights(WeightAveraging):
    """Exponential moving average of the weights, updated after every optimiser step past the
    warm-up; Lightning validates and checkpoints the average (so ``best.pt`` holds it)."""

    def __init__(self, decay: float, start_step: int) -> None:
        super().__init__(avg_fn=get_ema_avg_fn(decay))
        self.start_step = start_step

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        return step_idx is not None and step_idx >= self.start_step


def _precision(config: TrainConfig) -> str:
    if config.trainer.precision != "auto":
        return config.trainer.precision
    gpu = torch.cuda.is_available() and config.trainer.accelerator in ("auto", "gpu", "cuda")
    return "16-mixed" if gpu else "32-true"


def _trainer(config: TrainConfig, out: Path, callbacks: list[pl.Callback], progress: bool) -> pl.Trainer:
    """The Lightning Trainer of ``config.trainer`` (TensorBoard logs under OUT/tensorboard)."""
    t = config.trainer
    return pl.Trainer(
        max_epochs=t.max_epochs, max_time=timedelta(minutes=t.max_time_min) if t.max_time_min else None,
        accelerator=t.accelerator, devices=t.devices, strategy=t.strategy, precision=_precision(config),
        gradient_clip_val=config.optim.grad_clip or None, deterministic=t.deterministic,
        limit_train_batches=t.limit_train_batches, check_val_every_n_epoch=t.val_every_n_epochs,
        log_every_n_steps=t.log_every_n_steps, callbacks=callbacks, enable_progress_bar=progress,
        enable_model_summary=False, default_root_dir=out,
        logger=TensorBoardLogger(out, name="tensorboard", default_hp_metric=False))


def _export(result: FitResult, model, config: TrainConfig, cache_config: dict, overfit: int | None) -> None:
    """Write OUT/best.pt (diarefine checkpoint) and OUT/metrics.json (rank 0 only)."""
    save_checkpoint(result.checkpoint, model.cpu(), cache_config, training_metrics=result.best,
                    training_config=to_dict(config))
    write_json(result.out_dir / "metrics.json",
               {"best": result.best, "history": result.history, "n_parameters": result.n_parameters,
                "n_train_windows": result.n_train_windows, "overfit": overfit, "seconds": result.seconds,
                "train_windows_per_s": result.train_windows_per_s})


def fit(config: TrainConfig, out_dir: str | Path, overfit: int | None = None, progress: bool = True) -> FitResult:
    """Train ``config.model`` on ``config.data`` and write OUT (see the module docstring)."""
    for name in ("lightning.pytorch", "lightning.fabric"):  # Lightning sets INFO on import; follow diarefine's level
        logging.getLogger(name).setLevel(max(log.getEffectiveLevel(), logging.INFO))
        logging.getLogger(name).propagate = False
    started = time.perf_counter()
    out = Path(out_dir)
    if overfit:  # memorisation check: no early stopping, augmentation or weight averaging
        config = replace(config, trainer=replace(config.trainer, early_stopping_patience=0, limit_train_batches=1.0),
                         augment=AugmentConfig(), optim=replace(config.optim, ema_decay=0.0))
    if config.trainer.threads:
        torch.set_num_threads(config.trainer.threads)
    pl.seed_everything(config.seed, workers=True, verbose=False)
    full, train, val = _datasets(config, overfit)
    model = _initial_model(config, full)
    config = replace(config, model={"name": model.name, **to_dict(model.config)})
    out.mkdir(parents=True, exist_ok=True)
    save_train_config(config, out / "config.toml")

    loader = dict(batch_size=config.data.batch_size, collate_fn=collate_windows, num_workers=config.data.num_workers,
                  persistent_workers=config.data.num_workers > 0)
    train_loader = DataLoader(train, shuffle=True, generator=torch.Generator().manual_seed(config.seed), **loader)
    val_loader = DataLoader(val, shuffle=False, **loader)

    best_ckpt = ModelCheckpoint(dirpath=out / "lightning", filename="best-epoch{epoch:03d}", monitor=MONITOR,
                                mode="min", save_top_k=1, save_last=True, auto_insert_metric_name=False)
    history = _History()
    callbacks = [best_ckpt, LearningRateMonitor(logging_interval="step"), history]
    if config.optim.ema_decay:
        callbacks.append(_EMAWeights(config.optim.ema_decay, start_step=config.optim.warmup_steps))
    if config.trainer.early_stopping_patience:
        callbacks.append(EarlyStopping(monitor=MONITOR, mode="min", patience=config.trainer.early_stopping_patience))
    trainer = _trainer(config, out, callbacks, progress)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")
        warnings.filterwarnings("ignore", message=".*number of training batches.*")
        warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # Lightning 2.6 on torch >= 2.10
        trainer.fit(BoundaryTask(model, config.optim, config.augment), train_loader, val_loader)

    if best_ckpt.best_model_path:
        state = torch.load(best_ckpt.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    rows = [r for r in history.rows if MONITOR in r]
    best = min(rows, key=lambda r: r[MONITOR]) if rows else {}
    result = FitResult(out, out / "best.pt", best, history.rows, model.n_parameters(), len(train),
                       time.perf_counter() - started, history.windows_per_s, trainer.is_global_zero)
    if trainer.is_global_zero:
        _export(result, model, config, {k: full.config[k] for k in ("window", "features", "embeddings")}, overfit)
    return result
