"""Model checkpoints: everything needed to rebuild a trained model, and nothing else to load.

``{format, variant, model_config, features, embeddings, window, profile, state_dict, package_version,
training_metrics, training_config, threshold, adaptation, inference_profile}``, saved with
``torch.save`` (plain types and tensors only, so ``torch.load(weights_only=True)`` reads it safely).
``load_checkpoint(path)`` rebuilds the model; the feature / embedding / window configs tell
``refine`` and ``evaluate`` which front end the model expects. ``threshold`` (optional) is the
confidence threshold tuned for this checkpoint (``diarefine adapt`` writes one; ``refine`` uses it
by default) and ``adaptation`` (optional) says what an adapted checkpoint was adapted on and from;
``inference_profile`` (optional) holds speaker-profile settings that ``refine`` uses instead of
``profile``'s (an adapted checkpoint carries its shipped start's, e.g. ``max_speech_s``). Checkpoints
without them (older ones) load as before.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._version import __version__
from ..config import to_dict
from ..errors import DiarefineError, InputFileError
from ..fileio import atomic_path
from .base import MODELS, BoundaryModel

CHECKPOINT_FORMAT = "diarefine.checkpoint/1"


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model (eval mode) and the configs it was trained with."""

    model: BoundaryModel
    features: dict
    embeddings: dict
    window: dict
    profile: dict | None = None  # how speaker embeddings were gathered (None: ProfileConfig defaults)
    training_metrics: dict = field(default_factory=dict)
    training_config: dict = field(default_factory=dict)
    package_version: str = __version__
    path: Path | None = None
    threshold: float | None = None  # the confidence threshold tuned for this checkpoint, if any
    adaptation: dict = field(default_factory=dict)  # `diarefine adapt`: what it was adapted on and from
    #: profile settings that replace ``profile``'s at inference (``refine``), not in training caches:
    #: an adapted checkpoint carries its shipped start's (`refine.resolve.ShippedModel.profile`)
    inference_profile: dict = field(default_factory=dict)

    @property
    def cache_config(self) -> dict:
        """The window / features / embeddings sections a matching cache must have."""
        return {"window": self.window, "features": self.features, "embeddings": self.embeddings}

    @property
    def front_end(self) -> dict:
        """`cache_config` plus the ``profile`` (how speaker embeddings are gathered): all ``refine`` needs
        besides the model."""
        return {**self.cache_config, "profile": self.profile}


def save_checkpoint(path: str | Path, model: BoundaryModel, cache_config: dict, training_metrics: dict | None = None,
                    training_config: dict | None = None, threshold: float | None = None,
                    adaptation: dict | None = None, inference_profile: dict | None = None) -> Path:
    """Write ``model`` with the cache config it was trained on (atomically: temporary name, then rename);
    ``threshold``: its tuned confidence threshold; ``adaptation``: plain-typed record of an adaptation;
    ``inference_profile``: profile settings ``refine`` uses instead of the cache's (`Checkpoint`)."""
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "variant": model.name,
        "model_config": to_dict(model.config),
        "features": cache_config["features"],
        "embeddings": cache_config["embeddings"],
        "window": cache_config["window"],
        "profile": cache_config.get("profile"),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "package_version": __version__,
        "training_metrics": training_metrics or {},
        "training_config": training_config or {},
        "threshold": None if threshold is None else float(threshold),
        "adaptation": adaptation or {},
        "inference_profile": dict(inference_profile or {}),
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", overrides: dict | None = None,
                    ignore_unknown: bool = False) -> Checkpoint:
    """Rebuild the model saved at ``path`` (in eval mode); errors name the file and the problem.

    ``overrides`` change inference-time settings of the stored config (e.g. a diffusion model's
    ``n_sample_steps``); with ``ignore_unknown`` keys this variant has no setting for are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for a file that is not a checkpoint
        raise InputFileError(path, f"not a readable diarefine checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise InputFileError(path, f"not a diarefine checkpoint (format {found!r}, expected {CHECKPOINT_FORMAT!r}); "
                                   "export Lightning .ckpt files with `diarefine train`, which writes best.pt")
    overrides = dict(overrides or {})
    if ignore_unknown and payload.get("variant") in MODELS:
        known = {f.name for f in dataclasses.fields(MODELS.get(payload["variant"]).Config)}
        overrides = {k: v for k, v in overrides.items() if k in known}
    try:
        model = MODELS.build({"name": payload["variant"], **payload["model_config"], **overrides})
        model.load_state_dict(payload["state_dict"])
    except (DiarefineError, RuntimeError) as exc:
        raise InputFileError(path, f"cannot rebuild the model: {exc}") from None
    return Checkpoint(model=model.to(map_location).eval(), features=payload["features"],
                      embeddings=payload["embeddings"], window=payload["window"],
                      profile=payload.get("profile"),
                      training_metrics=payload.get("training_metrics", {}),
                      training_config=payload.get("training_config", {}),
                      package_version=payload.get("package_version", "?"), path=path,
                      threshold=payload.get("threshold"), adaptation=payload.get("adaptation") or {},
                      inference_profile=payload.get("inference_profile") or {})


def classical_checkpoint(name: str, cache_config: dict, feature_dim: int, embedding_dim: int,
                         overrides: dict | None = None) -> Checkpoint:
    """A classical refiner (no weights) wrapped like a loaded checkpoint, for the given front end.

    ``cache_config`` holds the ``window`` / ``features`` / ``embeddings`` sections it runs on (a
    cache's, or the shipped model's defaults); ``overrides`` change its settings.
    """
    cls = MODELS.get(name)
    if cls.trainable:
        raise DiarefineError(f"{name!r} is a learned variant: give its checkpoint file (train it with `diarefine train`)")
    known = {f.name for f in dataclasses.fields(cls.Config)}
    settings = {k: v for k, v in (overrides or {}).items() if k in known}
    n_frames = int(cache_config["window"]["n_frames"])
    model = MODELS.build({"name": name, "feature_dim": feature_dim, "embedding_dim": embedding_dim,
                          "n_frames": n_frames, **settings})
    return Checkpoint(model=model.eval(), features=cache_config["features"], embeddings=cache_config["embeddings"],
                      window=cache_config["window"], profile=cache_config.get("profile"))


def classical_like(name: str, like: Checkpoint, overrides: dict | None = None) -> Checkpoint:
    """A classical refiner on the same front end (window, features, embeddings, profile) as ``like``,
    on its device."""
    config = like.model.config
    checkpoint = classical_checkpoint(name, like.front_end, config.feature_dim, config.embedding_dim, overrides)
    tensors = [*like.model.parameters(), *like.model.buffers()]
    return dataclasses.replace(checkpoint, model=checkpoint.model.to(tensors[0].device if tensors else "cpu"))
