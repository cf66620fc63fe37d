"""Evaluate trained models on a window cache: boundary metrics as ``refine`` would apply them,
broken down by difficulty, plus inference speed and size, against the "no refinement" row.

A model's prediction moves a window's boundary only when its confidence exceeds the
threshold (as ``refine`` does); otherwise the offset is 0. Metrics follow ARCHITECTURE.md:
errors over windows with a true change, and the share of no-change windows moved by more
than 100 ms.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .audio import AudioInfo, audio_info, read_window
from .data import DIFFICULTY_NAMES, WindowDataset, check_config, collate_windows
from .display import percent, seconds
from .embeddings import EMBEDDERS, SpeakerEmbedder
from .errors import ConfigError, DiarefineError, MismatchError
from .metrics.boundary import WindowMetrics, window_metrics
from .models import MODELS, BoundaryModel, classical_checkpoint, load_checkpoint
from .refine.files import audio_by_id
from .refine.inputs import HYPOTHESIS_INPUTS, extra_inputs
from .refine.resolve import CLASSICAL_REFINERS, SHIPPED_MODELS, resolve_model
from .units import DEFAULT_THRESHOLD, confident

NO_REFINEMENT = "no refinement"
#: Confidence thresholds of the operating-point sweep (trade-off: errors on changes vs no-change windows moved).
SWEEP_THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9)


@dataclass
class Predictions:
    """Per-window outputs of one model over a cache (all arrays [N])."""

    offset_s: np.ndarray
    confidence: np.ndarray
    model_seconds: float = 0.0  # time spent in the model's forward (features / data loading excluded)

    def applied(self, threshold: float) -> np.ndarray:
        """The offsets refine would apply: the prediction where the confidence exceeds ``threshold``, else 0."""
        return np.where(confident(self.confidence, threshold), self.offset_s, 0.0)


class WindowAudio:
    """Reads the audio of a cache's windows, for models with `extra_inputs` (classical refiners).

    Each window's recording is found by file id: in ``audio_dir`` when given (audio named
    ``<file id>.<ext>``), else at the path the cache stored when it was built.
    """

    def __init__(self, dataset: WindowDataset, audio_dir: str | Path | None = None) -> None:
        self.file_ids, stored = dataset.window_files()
        found = {k: str(v) for k, v in audio_by_id(audio_dir).items()} if audio_dir else stored
        self.paths = {fid: found.get(fid, "") for fid in set(self.file_ids)}
        self.missing = sorted(fid for fid, p in self.paths.items() if not p or not Path(p).is_file())
        self.centers_s = dataset.column("center_s")
        self.window_s = float(dataset.config["window"]["window_s"])
        self._info: dict[str, AudioInfo] = {}

    def read(self, indices: range, context_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """waves [B, N] float32 and valid [B, N] bool of the windows ``indices``, with ``context_s`` more
        on each side."""
        pieces = []
        for i in indices:
            fid = self.file_ids[i]
            if fid not in self._info:
                self._info[fid] = audio_info(self.paths[fid])
            pieces.append(read_window(self._info[fid], self.centers_s[i] - self.window_s / 2 - context_s,
                                      self.window_s + 2 * context_s))
        waves, valid = zip(*pieces)
        return np.stack(waves), np.stack(valid)


@torch.inference_mode()
def predict(model: BoundaryModel, dataset: WindowDataset, batch_size: int = 64,
            device: str | torch.device = "cpu", audio: WindowAudio | None = None,
            embedder: SpeakerEmbedder | None = None, outputs=None) -> Predictions:
    """Run ``model`` over every window of ``dataset`` in batches; times the forward passes and the
    model's extra inputs (``audio`` and ``embedder`` provide them), not the cache reads.

    ``outputs(batch) -> (offset_s, value)`` replaces ``model(batch)`` (e.g. a classical refiner's
    ``predict_with_score``, whose raw scores then fill ``confidence``)."""
    outputs = outputs or model
    model = model.to(device).eval()
    if model.extra_inputs and audio is None:
        raise DiarefineError(f"{model.name} needs the windows' audio ({', '.join(model.extra_inputs)})")
    offsets, confidences, spent = [], [], 0.0
    for start in range(0, len(dataset), batch_size):
        rows = range(start, min(start + batch_size, len(dataset)))
        batch = collate_windows(dataset.__getitems__(rows))
        waves = audio.read(rows, model.extra_context_s) if model.extra_inputs else None
        began = time.perf_counter()
        if waves is not None:
            hypothesis = {key: batch[key].numpy() for key in HYPOTHESIS_INPUTS.values() if key in batch}
            batch.update(extra_inputs(model, *waves, embedder, hypothesis))
        batch = {k: v.to(device) for k, v in batch.items()}
        if start == 0 and waves is None:
            outputs(batch)  # warm-up (allocations, lazy init) outside the timing
            began = time.perf_counter()
        offset_s, confidence = outputs(batch)
        if torch.cuda.is_available() and str(device).startswith("cuda"):
            torch.cuda.synchronize()
        spent += time.perf_counter() - began
        offsets.append(offset_s.float().cpu().numpy())
        confidences.append(confidence.float().cpu().numpy())
    return Predictions(np.concatenate(offsets), np.concatenate(confidences), spent)


@dataclass
class ModelReport:
    """One row of the evaluation: overall metrics, per-difficulty metrics, speed and size."""

    label: str
    variant: str
    n_parameters: int
    windows_per_s: float | None
    overall: WindowMetrics
    by_difficulty: dict[str, WindowMetrics]
    ungated: WindowMetrics  # every prediction applied, whatever its confidence
    sweep: dict[float, WindowMetrics]  # threshold -> metrics with that confidence threshold
    errors_s: np.ndarray = field(repr=False)  # [n change windows] absolute errors (for the CDF)

    def to_dict(self) -> dict:
        return {"label": self.label, "variant": self.variant, "n_parameters": self.n_parameters,
                "windows_per_s": self.windows_per_s, "overall": self.overall.to_dict(),
                "by_difficulty": {k: v.to_dict() for k, v in self.by_difficulty.items()},
                "ungated": self.ungated.to_dict(),
                "threshold_sweep": {str(t): m.to_dict() for t, m in self.sweep.items()}}


@dataclass
class EvaluationReport:
    cache: list[str]
    n_windows: int
    n_change_windows: int
    threshold: float
    batch_size: int
    device: str
    rows: list[ModelReport]
    skipped: list[str] = field(default_factory=list)  # models that could not run (why)

    def tables(self) -> list[tuple[str, list[str], list[list[str]]]]:
        """(title, header, rows) of the three console tables: overall, by difficulty, threshold sweep."""
        overall = [[r.label, r.variant, f"{r.n_parameters:,}" if r.n_parameters else "-",
                    seconds(r.overall.errors.mae_s), seconds(r.overall.errors.median_s),
                    seconds(r.overall.errors.rmse_s)]
                   + [percent(v, 1) for v in r.overall.errors.accuracy.values()]
                   + [percent(r.overall.no_change_moved, 1), seconds(r.ungated.errors.mae_s),
                      f"{r.windows_per_s:,.0f}" if r.windows_per_s else "-"] for r in self.rows]
        title = (f"diarefine evaluate: {', '.join(self.cache)} ({self.n_windows} windows, {self.n_change_windows} "
                 f"with a change). Boundaries move only where confidence > {self.threshold:g}; 'no-chg moved': "
                 f"no-change windows moved > 100 ms; 'MAE ungated': every prediction applied; speed on "
                 f"{self.device}, batch {self.batch_size}, cache features excluded (a classical refiner's own "
                 f"inputs, e.g. sliding embeddings, included)" + (f". Skipped: {'; '.join(self.skipped)}"
                                                                   if self.skipped else ""))
        header = ["model", "variant", "params", "MAE", "median", "RMSE", "acc@50", "acc@100", "acc@200",
                  "no-chg moved", "MAE ungated", "windows/s"]
        first = self.rows[0]
        levels = list(first.by_difficulty)
        difficulty = [[r.label] + [f"{seconds(r.by_difficulty[k].errors.mae_s)} / "
                                   f"{percent(r.by_difficulty[k].errors.accuracy.get(0.1), 1)}" for k in levels]
                      for r in self.rows]
        sweep = [[r.label] + [f"{seconds(m.errors.mae_s)} / {percent(m.errors.accuracy.get(0.1), 1)} / "
                              f"{percent(m.no_change_moved, 1)}" for m in r.sweep.values()] for r in self.rows[1:]]
        return [(title, header, overall),
                ("by difficulty (initial |offset|: easy < 0.25 s <= medium < 0.75 s <= hard): MAE / acc@100ms",
                 ["model"] + [f"{k} (n={first.by_difficulty[k].errors.n})" for k in levels], difficulty),
                ("confidence threshold sweep: MAE / acc@100ms / no-change windows moved",
                 ["model"] + [f"> {t:g}" for t in first.sweep], sweep)]

    def to_dict(self) -> dict:
        return {"cache": self.cache, "n_windows": self.n_windows, "n_change_windows": self.n_change_windows,
                "threshold": self.threshold, "batch_size": self.batch_size, "device": self.device,
                "models": [r.to_dict() for r in self.rows], "skipped": self.skipped}


def _report(label: str, variant: str, n_parameters: int, windows_per_s: float | None, predictions: Predictions,
            dataset: WindowDataset, threshold: float) -> ModelReport:
    true, change = dataset.column("offset_s"), dataset.column("has_change").astype(bool)
    difficulty = dataset.column("difficulty")
    applied = predictions.applied(threshold)
    by_difficulty = {}
    for code, name in enumerate(DIFFICULTY_NAMES):
        rows = change & (difficulty == code)
        by_difficulty[name] = window_metrics(applied[rows], true[rows], np.ones(int(rows.sum()), bool))
    sweep = {t: window_metrics(predictions.applied(t), true, change) for t in SWEEP_THRESHOLDS}
    return ModelReport(label, variant, n_parameters, windows_per_s, window_metrics(applied, true, change),
                       by_difficulty, window_metrics(predictions.offset_s, true, change), sweep,
                       np.abs(applied[change] - true[change]))


def checkpoint_label(path: str | Path) -> str:
    """``runs/transformer/best.pt -> 'transformer'``; other names keep their stem."""
    path = Path(path)
    return path.parent.name if path.stem == "best" and path.parent.name else path.stem


def check_compatible(checkpoint_config: dict, dataset: WindowDataset, label: str) -> None:
    """Refuse a cache whose window / features / embeddings differ from what the model was trained on."""
    for path in dataset.paths:
        try:
            check_config(path, checkpoint_config)
        except DiarefineError as exc:
            raise MismatchError(f"{label} was trained on windows built otherwise: {exc}") from None


def check_overrides(overrides: dict) -> None:
    """Refuse inference-setting overrides that no registered variant has (a typo)."""
    known = {f.name for name in MODELS for f in dataclasses.fields(MODELS.get(name).Config)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"--model-set {unknown[0]}: no model variant has this setting "
                          f"(e.g. n_sample_steps, n_samples, radius_frames)")


def evaluate(cache: str | Path | list, checkpoints: list[str | Path], threshold: float = DEFAULT_THRESHOLD,
             batch_size: int = 64, device: str = "cpu", progress=None, model_overrides: dict | None = None,
             classical: tuple[str, ...] = CLASSICAL_REFINERS, audio_dir: str | Path | None = None) -> EvaluationReport:
    """Evaluate on the cache: "no refinement" (offset 0 everywhere), the ``classical`` refiners,
    then each checkpoint (a path, the name of a shipped model, or the name of a classical refiner).

    ``model_overrides`` change settings of every model that has them (e.g. ``{"n_sample_steps": 5}``
    for diffusion models); other models ignore them. Classical refiners that need audio read it
    from the paths stored in the cache or from ``audio_dir``; without audio they are skipped
    (listed in ``EvaluationReport.skipped``).
    """
    check_overrides(model_overrides or {})
    paths = [cache] if isinstance(cache, (str, Path)) else list(cache)
    dataset = WindowDataset(paths, in_memory=True)
    n = len(dataset)
    rows = [_report(NO_REFINEMENT, "-", 0, None, Predictions(np.zeros(n), np.zeros(n)), dataset, threshold)]
    audio, embedder, skipped = None, None, []
    names = [c for c in classical if c not in {str(p) for p in checkpoints}] + list(checkpoints)
    for i, spec in enumerate(names):
        if str(spec) in CLASSICAL_REFINERS:
            ckpt = classical_checkpoint(str(spec), dataset.config, dataset.feature_dim, dataset.embedding_dim,
                                        model_overrides)
            label = str(spec)
        else:  # a shipped model by name (at this threshold, not its own), or a checkpoint path
            ckpt = load_checkpoint(resolve_model(spec).path, overrides=model_overrides, ignore_unknown=True)
            check_compatible(ckpt.cache_config, dataset, str(spec))
            label = str(spec) if str(spec) in SHIPPED_MODELS else checkpoint_label(spec)
        lacking = [key for kind, key in HYPOTHESIS_INPUTS.items()
                   if kind in ckpt.model.extra_inputs and key not in dataset.fields]
        if lacking:
            skipped.append(f"{label} (the cache has no {', '.join(lacking)}: built before `prepare` stored it; "
                           "rebuild it)")
            continue
        if ckpt.model.extra_inputs:
            audio = audio or WindowAudio(dataset, audio_dir)
            if audio.missing:
                skipped.append(f"{label} (no audio for {len(audio.missing)} file(s), e.g. {audio.missing[0]}; "
                               "pass --audio-dir)")
                continue
            if {"sliding_emb", "local_speakers"} & set(ckpt.model.extra_inputs):  # embedded like the cache's sides
                embedder = embedder or EMBEDDERS.build(dataset.config["embeddings"])
        predictions = predict(ckpt.model, dataset, batch_size, device, audio, embedder)
        speed = n / predictions.model_seconds if predictions.model_seconds > 0 else None
        rows.append(_report(label, ckpt.model.name, ckpt.model.n_parameters(), speed, predictions, dataset,
                            threshold))
        if progress:
            progress(i + 1)
    return EvaluationReport([str(p) for p in paths], n, int(dataset.column("has_change").sum()), threshold,
                            batch_size, str(device), rows, skipped)
