"""Models shipped inside the package, by name, with the confidence threshold tuned for each.

``--model`` (CLI) and ``model=`` (API) take one of these names or a checkpoint path. Each
shipped model has a model card next to its weights (``assets/models/<name>.md``): data,
config, training command and dev metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import DiarefineError
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
        ShippedModel("contrastive-librisim", threshold=0.5,
                     summary="contrastive position scorer, fbank + resemblyzer, trained on simulated "
                             "LibriSpeech conversations with the empirical error model"),
    )
}
DEFAULT_MODEL = "contrastive-librisim"


@dataclass(frozen=True)
class ResolvedModel:
    """Where a ``--model`` value points, and the threshold that goes with it."""

    path: Path
    threshold: float
    name: str  # the shipped name, or the path as given


def resolve_model(model: str | Path | None = None) -> ResolvedModel:
    """A shipped model name or a checkpoint path -> its file and default threshold.

    Checkpoint paths get `DEFAULT_THRESHOLD` (0.5); shipped models their tuned threshold.

    >>> resolve_model().name
    'contrastive-librisim'
    >>> resolve_model("nope")
    Traceback (most recent call last):
    ...
    diarefine.errors.DiarefineError: unknown model 'nope': not a file, and not a shipped model (contrastive-librisim); give a checkpoint path (e.g. runs/contrastive/best.pt) or a shipped name
    """
    model = DEFAULT_MODEL if model is None else model
    if str(model) in SHIPPED_MODELS:
        shipped = SHIPPED_MODELS[str(model)]
        return ResolvedModel(shipped.path, shipped.threshold, shipped.name)
    path = Path(model)
    if path.exists() or path.suffix in (".pt", ".ckpt") or "/" in str(model):
        return ResolvedModel(path, DEFAULT_THRESHOLD, str(model))  # load_checkpoint names a missing file
    raise DiarefineError(f"unknown model {str(model)!r}: not a file, and not a shipped model "
                         f"({', '.join(sorted(SHIPPED_MODELS))}); give a checkpoint path "
                         "(e.g. runs/contrastive/best.pt) or a shipped name")
