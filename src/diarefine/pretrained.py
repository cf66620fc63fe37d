"""What ``--model`` (CLI) and ``model=`` (API) may name: a shipped model, a classical refiner
(``bic``, ``similarity``, ``silence-snap``), or a checkpoint path; and the threshold each gets.

Each shipped model has a model card next to its weights (``assets/models/<name>.md``): data,
config, training command and dev metrics. Classical refiners run on the default model's
front end (fbank features, resemblyzer embeddings).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch

from .errors import DiarefineError
from .models import MODELS, Checkpoint, classical_like, load_checkpoint
from .models.base import DEFAULT_THRESHOLD


@dataclass(frozen=True)
class ShippedModel:
    """A checkpoint under ``assets/models`` and the threshold chosen for it on dev data."""

    name: str
    threshold: float
    summary: str

    @property
    def path(self) -> Path:
        return Path(str(resources.files("diarefine") / "assets" / "models" / f"{self.name}.pt"))

    @property
    def card(self) -> Path:
        return self.path.with_suffix(".md")


SHIPPED_MODELS: dict[str, ShippedModel] = {
    m.name: m for m in (
        ShippedModel("contrastive-librisim", threshold=0.4,
                     summary="contrastive position scorer, fbank + resemblyzer, trained on simulated "
                             "LibriSpeech conversations with the empirical error model"),
    )
}
DEFAULT_MODEL = "contrastive-librisim"
#: The registered refiners with nothing to learn (usable by name, no checkpoint).
CLASSICAL_REFINERS = tuple(name for name in MODELS.names() if not MODELS.get(name).trainable)


@dataclass(frozen=True)
class ResolvedModel:
    """Where a ``--model`` value points, and the threshold that goes with it."""

    path: Path | None  # None for a classical refiner
    threshold: float
    name: str  # the shipped or classical name, or the path as given

    @property
    def classical(self) -> bool:
        return self.path is None


def resolve_model(model: str | Path | None = None) -> ResolvedModel:
    """A shipped model name or a checkpoint path -> its file and default threshold.

    Checkpoint paths and classical refiners get `DEFAULT_THRESHOLD` (0.5; classical confidences
    are calibrated to it); shipped models their tuned threshold.

    >>> resolve_model().name
    'contrastive-librisim'
    >>> resolve_model("nope")
    Traceback (most recent call last):
    ...
    diarefine.errors.DiarefineError: unknown model 'nope': not a file, a shipped model (contrastive-librisim) or a classical refiner (bic, silence-snap, similarity); give a checkpoint path (e.g. runs/contrastive/best.pt) or one of those names
    """
    model = DEFAULT_MODEL if model is None else model
    if str(model) in SHIPPED_MODELS:
        shipped = SHIPPED_MODELS[str(model)]
        return ResolvedModel(shipped.path, shipped.threshold, shipped.name)
    if str(model) in CLASSICAL_REFINERS:
        return ResolvedModel(None, DEFAULT_THRESHOLD, str(model))
    path = Path(model)
    if path.exists() or path.suffix in (".pt", ".ckpt") or "/" in str(model):
        return ResolvedModel(path, DEFAULT_THRESHOLD, str(model))  # load_checkpoint names a missing file
    raise DiarefineError(f"unknown model {str(model)!r}: not a file, a shipped model "
                         f"({', '.join(sorted(SHIPPED_MODELS))}) or a classical refiner "
                         f"({', '.join(CLASSICAL_REFINERS)}); give a checkpoint path "
                         "(e.g. runs/contrastive/best.pt) or one of those names")


def load_model(model: str | Path | None = None, device: str | torch.device = "cpu",
               overrides: dict | None = None) -> tuple[Checkpoint, ResolvedModel]:
    """A ``--model`` value -> the loaded model with its front-end config, and how it was resolved."""
    resolved = resolve_model(model)
    if resolved.classical:  # on the default model's front end
        return classical_like(resolved.name, load_checkpoint(SHIPPED_MODELS[DEFAULT_MODEL].path, device), overrides), \
            resolved
    return load_checkpoint(resolved.path, map_location=device, overrides=overrides, ignore_unknown=True), resolved
