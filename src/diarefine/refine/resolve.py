"""What ``--model`` (CLI) and ``model=`` (API) may name, and the threshold each gets: a shipped model,
a classical refiner (``bic``, ``similarity``, ``silence-snap``), or a checkpoint path.

Each shipped model has a model card next to its weights (``assets/models/<name>.md``): data,
config, training command and dev metrics. A classical refiner runs on the default front end
(`default_front_end`: the one ``diarefine prepare`` builds by default, fbank features and
resemblyzer embeddings). Importing this module is cheap (no torch), so the CLI can list the
names in its help; the `Refiner` loads what a name points to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import DiarefineError
from ..units import DEFAULT_THRESHOLD, SAMPLE_RATE, WINDOW_FRAMES, WINDOW_S


@dataclass(frozen=True)
class ShippedModel:
    """A checkpoint under ``assets/models``, the threshold chosen for it on dev data, and settings of its
    speaker profiles (`embeddings.ProfileConfig`) that replace the checkpoint's at inference."""

    name: str
    threshold: float
    summary: str
    profile: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(str(resources.files("diarefine") / "assets" / "models" / f"{self.name}.pt"))

    @property
    def card(self) -> Path:
        return self.path.with_suffix(".md")


SHIPPED_MODELS: dict[str, ShippedModel] = {
    m.name: m for m in (
        ShippedModel("contrastive-seg", threshold=0.9,
                     summary="contrastive position scorer on segmentation-3.0 frames + fbank and CAM++ "
                             "embeddings, trained on noisy simulated LibriSpeech conversations and fine-tuned on "
                             "real AMI meetings (ami-debug/train); threshold chosen on ami-debug/train, "
                             "held out (fine-tunes on its halves, each scoring the other)",
                     # profile chunks without overlap: up to half the CAM++ work, the same DER on ami-debug/train
                     # (-25.0%) and -44.1% against -44.3% on simulated dev 0-19 (docs/RESULTS.md,
                     # "refine: speed"); about 8 s of each speaker's speech (15 s until ami-debug/train was
                     # measured with 20 seeds: -22.8% against -22.9%; the same DER on dev + test); short chunks
                     # cut to whole 0.1 s so CAM++ batches them
                     # (-22.9% on ami-debug/train x 20 seeds either way)
                     profile={"hop_s": 1.6, "max_speech_s": 8.0, "length_step_s": 0.1}),
        ShippedModel("contrastive-librisim", threshold=0.4,
                     summary="contrastive position scorer, fbank + resemblyzer, trained on simulated "
                             "LibriSpeech conversations with the empirical error model (the 0.1 default; "
                             "raises DER on real meetings)"),
    )
}
DEFAULT_MODEL = "contrastive-seg"
#: The registered refiners with nothing to learn (``trainable = False`` in `models.MODELS`), usable by
#: name without a checkpoint. Spelled out so that naming them imports no torch; a test keeps it
#: equal to the registry.
CLASSICAL_REFINERS = ("bic", "overlap-match", "pause-match", "segmentation-snap", "silence-snap", "similarity")
#: The classical refiners ``refine`` hands the changes of their shape to by default (``match_shapes``):
#: a clean pause / a clean overlap between the speakers in the hypothesis.
SHAPE_REFINERS = ("pause-match", "overlap-match")


@dataclass(frozen=True)
class ResolvedModel:
    """Where a ``--model`` value points, and the threshold that goes with it."""

    path: Path | None  # None for a classical refiner
    threshold: float
    name: str  # the shipped or classical name, or the path as given
    profile: dict = field(default_factory=dict)  # a shipped model's profile settings for inference

    @property
    def classical(self) -> bool:
        return self.path is None


def resolve_model(model: str | Path | None = None) -> ResolvedModel:
    """A shipped model name, a classical refiner or a checkpoint path -> its file and default threshold.

    Checkpoint paths and classical refiners get `units.DEFAULT_THRESHOLD` (0.5; classical
    confidences are calibrated to it); shipped models their tuned threshold and profile settings.

    >>> resolve_model().name
    'contrastive-seg'
    >>> resolve_model("nope")
    Traceback (most recent call last):
    ...
    diarefine.errors.DiarefineError: unknown model 'nope': not a file, a shipped model (contrastive-librisim, contrastive-seg) or a classical refiner (bic, overlap-match, pause-match, segmentation-snap, silence-snap, similarity); give a checkpoint path (e.g. runs/contrastive/best.pt) or one of those names
    """
    model = DEFAULT_MODEL if model is None else model
    if str(model) in SHIPPED_MODELS:
        shipped = SHIPPED_MODELS[str(model)]
        return ResolvedModel(shipped.path, shipped.threshold, shipped.name, dict(shipped.profile))
    if str(model) in CLASSICAL_REFINERS:
        return ResolvedModel(None, DEFAULT_THRESHOLD, str(model))
    path = Path(model)
    if path.exists() or path.suffix in (".pt", ".ckpt") or "/" in str(model):
        return ResolvedModel(path, DEFAULT_THRESHOLD, str(model))  # load_checkpoint names a missing file
    raise DiarefineError(f"unknown model {str(model)!r}: not a file, a shipped model "
                         f"({', '.join(sorted(SHIPPED_MODELS))}) or a classical refiner "
                         f"({', '.join(CLASSICAL_REFINERS)}); give a checkpoint path "
                         "(e.g. runs/contrastive/best.pt) or one of those names")


def default_front_end(embeddings: str | None = None) -> dict:
    """The ``window`` / ``features`` / ``embeddings`` / ``profile`` records of the default front end
    (what `diarefine prepare` builds by default), for classical refiners; ``embeddings`` names
    another embedder (with its default settings)."""
    from ..config import to_dict
    from ..embeddings import EMBEDDERS
    from ..features import FEATURES

    features = FEATURES.get(FEATURES.default)
    embedder = EMBEDDERS.get(embeddings or EMBEDDERS.default)
    return {"window": {"window_s": WINDOW_S, "n_frames": WINDOW_FRAMES, "sample_rate": SAMPLE_RATE},
            "features": {"name": features.name, **to_dict(features.Config())},
            "embeddings": {"name": embedder.name, **to_dict(embedder.Config())}, "profile": None}
