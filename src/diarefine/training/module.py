"""The one LightningModule every variant trains with: the variant supplies ``losses``; this
adds training-batch augmentation, the optimiser, the warm-up + cosine schedule and validation
metrics for TensorBoard."""

from __future__ import annotations

import math

import lightning.pytorch as pl
import numpy as np
import torch

from ..metrics.boundary import window_metrics
from ..models import BoundaryModel
from ..units import DEFAULT_THRESHOLD, confident
from .augment import AugmentConfig, augment_batch
from .config import OptimConfig

#: The metric that picks the best checkpoint and stops training early (lower is better).
MONITOR = "val/mae_s"


def warmup_cosine(step: int, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """Learning-rate multiplier: linear 0 -> 1 over the warm-up, then cosine 1 -> ``min_ratio``.

    >>> [round(warmup_cosine(s, 10, 110, 0.0), 3) for s in (0, 5, 10, 60, 110)]
    [0.1, 0.6, 1.0, 0.5, 0.0]
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class BoundaryTask(pl.LightningModule):
    """Trains ``model`` on cache batches; logs train losses and validation MAE / RMSE / acc@X."""

    def __init__(self, model: BoundaryModel, optim: OptimConfig, augment: AugmentConfig = AugmentConfig()) -> None:
        super().__init__()
        self.model = model
        self.optim = optim
        self.augment = augment
        self._val: list[tuple[torch.Tensor, ...]] = []

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        losses = self.model.losses(augment_batch(batch, self.augment))
        size = batch["features"].shape[0]
        for name, value in losses.items():
            self.log(f"train/{name}", value, batch_size=size, prog_bar=name == "loss")
        return losses["loss"]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        losses = self.model.losses(batch)
        self.log("val/loss", losses["loss"], batch_size=batch["features"].shape[0], sync_dist=True)
        offset_s, confidence = self.model(batch)
        self._val.append(tuple(x.detach().float().cpu() for x in
                               (offset_s, confidence, batch["offset_s"], batch["has_change"])))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        pred, conf, true, change = (self._gathered(torch.cat(x)) for x in zip(*self._val))
        self._val.clear()
        raw = window_metrics(pred, true, change.astype(bool))
        moves = confident(conf, DEFAULT_THRESHOLD)
        gated = window_metrics(np.where(moves, pred, 0.0), true, change.astype(bool))
        values = {"val/mae_s": raw.errors.mae_s, "val/rmse_s": raw.errors.rmse_s,
                  "val/median_s": raw.errors.median_s, "val/gated_mae_s": gated.errors.mae_s,
                  "val/no_change_moved": gated.no_change_moved,
                  "val/confidence_acc": float(np.mean(moves == change.astype(bool)))}
        values.update({f"val/acc@{round(t * 1000)}ms": v for t, v in raw.errors.accuracy.items()})
        for name, value in values.items():
            if np.isfinite(value):
                self.log(name, float(value), prog_bar=name == MONITOR, sync_dist=True)

    def _gathered(self, values: torch.Tensor) -> np.ndarray:
        """This process's validation values [N], or under DDP every process's [world * N] (the
        distributed sampler gives each the same count), so metrics cover the whole validation set."""
        if self.trainer.world_size > 1:
            values = self.all_gather(values.to(self.device)).reshape(-1).cpu()
        return values.numpy()

    def configure_optimizers(self):
        o = self.optim
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=o.lr, weight_decay=o.weight_decay, betas=o.betas)
        total = max(1, int(self.trainer.estimated_stepping_batches))
        warmup = min(o.warmup_steps, total // 2)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: warmup_cosine(step, warmup, total, o.min_lr_ratio))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
