"""``diarefine adapt`` in one call: harvest -> re-mix -> prepare -> fine-tune -> re-tune the threshold.

From a user's recordings and their system's hypotheses (no reference used):

1. **harvest** each recording's single-speaker stretches (`harvest.harvest_file`, the starting
   model's own speaker embedder for the cosine filter) and write them as source files;
2. **re-mix** them into conversations of exact boundaries (`remix.remix_sources`), and hold out
   a share of the conversations (at least one);
3. **prepare** window caches of both parts with the starting model's front end and window
   settings (`data.prepare_cache`; initial boundaries drawn from ``error_model``);
4. **fine-tune** the starting model (`training.fit` with ``init``) within an epoch and wall-clock
   budget, keeping the epoch of the best held-out MAE;
5. **re-tune the confidence threshold** on the held-out windows (`choose_threshold`) for the
   adapted and, for the comparison, the starting weights; the starting model's threshold stays
   unless the new one is `clearly_lower` (a bootstrap over held-out changes: a few changes
   must not move it). When fine-tuning did not lower the
   held-out boundary error, the starting weights are kept (with their re-tuned threshold), so
   adapting never makes a model worse on what it can measure.

The adapted checkpoint carries its threshold and an ``adaptation`` record (what it was adapted on
and from); a model card (`card.model_card`) is written next to it. Work files (stretches,
conversations, caches, Lightning logs and TensorBoard) go to ``work_dir`` (a temporary folder
unless given).
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._version import __version__
from ..audio import load_audio
from ..config import from_dict, to_dict
from ..data import WindowDataset, discover_corpus
from ..data.prepare import PrepareConfig, prepare_cache
from ..display import percent, seconds
from ..embeddings import EMBEDDERS, ProfileConfig
from ..errors import DiarefineError
from ..evaluation import predict
from ..fileio import OutputSet
from ..metrics.boundary import window_metrics
from ..metrics.bootstrap import resampled_ratios
from ..models import Checkpoint, load_checkpoint, save_checkpoint
from ..refine.files import FileInput
from ..refine.resolve import resolve_model
from ..simulate.error_models import DEFAULT_ERROR_MODEL
from ..training import fit
from ..training.augment import AugmentConfig
from ..training.config import DataConfig, OptimConfig, TrainConfig, TrainerConfig
from ..types import Seconds
from ..units import SAMPLE_RATE, confident
from .card import model_card
from .harvest import HarvestConfig, HarvestStats, harvest_file
from .remix import RemixConfig, remix_sources, write_sources

log = logging.getLogger("diarefine")

#: Thresholds tried on the held-out windows (1.0 moves nothing: the safe choice when nothing helps).
THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)
#: ``progress(stage, done, total)``: stages "harvest", "re-mix", "prepare", "held-out".
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class AdaptConfig:
    """Everything that decides an adaptation besides its inputs and starting model."""

    harvest: HarvestConfig = HarvestConfig()
    remix: RemixConfig = RemixConfig()  # its seed is replaced by ``seed``
    error_model: str = DEFAULT_ERROR_MODEL  # initial boundaries of the training windows
    draws_per_change: int = 16  # windows per re-mixed change (different initial boundaries)
    held_out: float = 0.25  # share of the conversations held out to pick the epoch and threshold
    max_epochs: int = 20
    minutes: float = 10.0  # wall-clock budget of the fine-tuning (stops it early; see the README)
    lr: float = 1e-4
    batch_size: int = 32
    patience: int = 6  # held-out evaluations without a better MAE before stopping
    thresholds: tuple[float, ...] = THRESHOLDS
    retune_confidence: float = 0.9  # a re-tuned threshold must beat the starting one in this share of resamples
    seed: int = 0
    workers: int = 1  # processes for re-mixing and preparing

    def __post_init__(self) -> None:
        if not 0.0 < self.held_out < 1.0:
            raise ValueError(f"held_out must be in (0, 1), got {self.held_out}")
        if self.max_epochs < 1 or self.minutes <= 0 or self.draws_per_change < 1:
            raise ValueError("max_epochs, minutes and draws_per_change must be positive")
        if not self.thresholds or not all(0.0 <= t <= 1.0 for t in [*self.thresholds, self.retune_confidence]):
            raise ValueError("thresholds and retune_confidence must be in [0, 1]")


@dataclass(frozen=True)
class HeldOutScore:
    """Boundary metrics of one model on the held-out windows at one threshold (seconds; shares in [0, 1])."""

    threshold: float
    cost_s: float  # mean |boundary error after refinement| over all windows (no-change ones: |move|)
    mae_s: float  # over windows with a true change, as refine would apply it (gated)
    acc_100ms: float
    no_change_moved: float
    ungated_mae_s: float  # every prediction applied

    def to_dict(self) -> dict:
        return {"threshold": self.threshold, "cost_s": self.cost_s, "mae_s": self.mae_s, "acc@100ms": self.acc_100ms,
                "no_change_moved": self.no_change_moved, "ungated_mae_s": self.ungated_mae_s}


def refinement_cost(applied_s: np.ndarray, true_offset_s: np.ndarray, has_change: np.ndarray) -> float:
    """Mean distance (s) from each window's boundary after refinement to where it should be: the
    true change for change windows, where it was for no-change windows (moving a boundary that
    marks no change only adds error). Collar-0 DER grows with these distances.

    >>> refinement_cost(np.array([0.1, 0.0, 0.3]), np.array([0.2, -0.1, np.nan]), np.array([True, True, False]))
    0.16666666666666666
    """
    target = np.where(has_change, true_offset_s, 0.0)
    return float(np.mean(np.abs(applied_s - target))) if len(applied_s) else float("nan")


def choose_threshold(offset_s: np.ndarray, confidence: np.ndarray, true_offset_s: np.ndarray,
                     has_change: np.ndarray, thresholds: Sequence[float] = THRESHOLDS,
                     prefer: float | None = None) -> tuple[float, dict]:
    """The threshold of least `refinement_cost` and the cost of each; among equal costs ``prefer``
    (the starting model's, chosen on more data) if it is one of them, else the highest (moves least).

    >>> choose_threshold(np.array([0.2, 0.5]), np.array([0.9, 0.6]), np.array([0.2, np.nan]),
    ...                  np.array([True, False]), (0.5, 0.7, 0.8, 1.0))[0]
    0.8
    >>> choose_threshold(np.array([0.2, 0.5]), np.array([0.9, 0.6]), np.array([0.2, np.nan]),
    ...                  np.array([True, False]), (0.5, 0.7, 0.8, 1.0), prefer=0.7)[0]
    0.7
    """
    candidates = sorted({*map(float, thresholds), *([float(prefer)] if prefer is not None else [])})
    costs = {t: refinement_cost(np.where(confident(confidence, t), offset_s, 0.0), true_offset_s, has_change)
             for t in candidates}
    best = [t for t, c in costs.items() if c <= min(costs.values()) + 1e-9]
    return (float(prefer) if prefer is not None and float(prefer) in best else max(best)), costs


def window_costs(offset_s: np.ndarray, confidence: np.ndarray, true_offset_s: np.ndarray, has_change: np.ndarray,
                 threshold: float) -> np.ndarray:
    """Per-window distance [N] (s) after refinement at ``threshold`` (`refinement_cost` is their mean)."""
    applied = np.where(confident(confidence, threshold), offset_s, 0.0)
    return np.abs(applied - np.where(has_change, true_offset_s, 0.0))


def clearly_lower(cost_s: np.ndarray, baseline_s: np.ndarray, groups: np.ndarray, confidence: float = 0.9,
                  n_resamples: int = 2000, seed: int = 0) -> bool:
    """Whether the mean of ``cost_s`` [N] is below that of ``baseline_s`` [N] in at least ``confidence``
    of bootstrap resamples of the ``groups`` [N] (windows of one change move together: they are not
    independent). Guards a threshold re-tuned on a few held-out changes.

    >>> g = np.repeat(np.arange(10), 4)
    >>> clearly_lower(np.full(40, 0.1), np.full(40, 0.2), g), clearly_lower(np.full(40, 0.2), np.full(40, 0.1), g)
    (True, False)
    >>> clearly_lower(np.r_[np.zeros(36), np.ones(4)], np.full(40, 0.05), g)  # lower on 9 changes of 10, not clearly
    False
    """
    if len(np.unique(groups)) < 2:
        return False
    mean_difference = resampled_ratios(cost_s - baseline_s, np.ones(len(cost_s)), groups, n_resamples, seed)
    return float(np.mean(mean_difference < 0)) >= confidence


def held_out_score(offset_s: np.ndarray, confidence: np.ndarray, true_offset_s: np.ndarray, has_change: np.ndarray,
                   threshold: float) -> HeldOutScore:
    """`HeldOutScore` of predictions at ``threshold``."""
    applied = np.where(confident(confidence, threshold), offset_s, 0.0)
    gated = window_metrics(applied, true_offset_s, has_change)
    return HeldOutScore(threshold, refinement_cost(applied, true_offset_s, has_change), gated.errors.mae_s,
                        gated.errors.accuracy[0.1], gated.no_change_moved,
                        window_metrics(offset_s, true_offset_s, has_change).errors.mae_s)


@dataclass
class AdaptResult:
    """What an adaptation did, from the harvest to the held-out scores, and where it wrote."""

    checkpoint: Path
    card: Path
    start_model: str
    threshold: float
    kept_start_weights: bool  # fine-tuning did not beat the starting weights on the held-out windows
    audio_s: Seconds
    harvest: list[HarvestStats]
    n_conversations: int
    n_held_out_conversations: int
    remixed_s: Seconds
    n_changes: int
    n_train_windows: int
    n_held_out_windows: int
    epochs: int
    steps: int
    stopped_by: str  # "epochs", "time budget" or "early stopping"
    before: HeldOutScore  # starting weights at their own threshold
    before_retuned: HeldOutScore  # starting weights at their best held-out threshold
    after: HeldOutScore  # the adapted checkpoint at its threshold
    seconds: float
    stage_seconds: dict[str, float] = field(default_factory=dict)
    work_dir: Path | None = None  # kept work files, when a folder was given

    @property
    def harvested_s(self) -> Seconds:
        return float(sum(h.kept_s for h in self.harvest))

    def to_dict(self) -> dict:
        """Plain-typed record (stored in the checkpoint as ``adaptation`` and shown by the model card)."""
        return {"from": self.start_model, "package_version": __version__, "threshold": self.threshold,
                "kept_start_weights": self.kept_start_weights, "files": [h.file_id for h in self.harvest],
                "audio_s": self.audio_s, "harvested_s": self.harvested_s,
                "harvest": [to_dict(h) for h in self.harvest], "conversations": self.n_conversations,
                "held_out_conversations": self.n_held_out_conversations, "remixed_s": self.remixed_s,
                "changes": self.n_changes, "train_windows": self.n_train_windows,
                "held_out_windows": self.n_held_out_windows, "epochs": self.epochs, "steps": self.steps,
                "stopped_by": self.stopped_by, "before": self.before.to_dict(),
                "before_retuned": self.before_retuned.to_dict(), "after": self.after.to_dict(),
                "seconds": self.seconds, "stage_seconds": self.stage_seconds}

    def summary_rows(self) -> list[list[str]]:
        """(measure, value) rows of the console summary."""
        b, r, a = self.before, self.before_retuned, self.after
        speech = sum(h.speech_s for h in self.harvest)
        return [["recordings / audio", f"{len(self.harvest)} / {self.audio_s / 60:.1f} min"],
                ["harvested (of the hypotheses' speech)",
                 f"{self.harvested_s / 60:.1f} of {speech / 60:.1f} min, {sum(h.n_stretches for h in self.harvest)} "
                 "stretches"],
                ["conversations (held out)", f"{self.n_conversations} ({self.n_held_out_conversations}), "
                                             f"{self.remixed_s / 60:.1f} min, {self.n_changes} changes"],
                ["windows train / held out", f"{self.n_train_windows} / {self.n_held_out_windows}"],
                ["fine-tuning", f"{self.epochs} epochs, {self.steps} steps, stopped by {self.stopped_by}"
                                + (" (kept the starting weights)" if self.kept_start_weights else "")],
                ["held-out MAE (ungated)", f"{seconds(b.ungated_mae_s)} -> {seconds(a.ungated_mae_s)}"],
                ["held-out MAE at the threshold",
                 f"{seconds(b.mae_s)} @ {b.threshold:g} (re-tuned {seconds(r.mae_s)} @ {r.threshold:g}) -> "
                 f"{seconds(a.mae_s)} @ {a.threshold:g}"],
                ["held-out acc@100 ms", f"{percent(b.acc_100ms, 1)} (re-tuned {percent(r.acc_100ms, 1)}) -> "
                                        f"{percent(a.acc_100ms, 1)}"],
                ["held-out boundary cost", f"{seconds(b.cost_s)} (re-tuned {seconds(r.cost_s)}) -> "
                                           f"{seconds(a.cost_s)}"],
                ["wall time", f"{self.seconds / 60:.1f} min ("
                              + ", ".join(f"{k} {v:.0f} s" for k, v in self.stage_seconds.items()) + ")"]]


def _split(recordings: list, share: float, seed: int) -> tuple[list, list]:
    """(train, held out): a seeded ``share`` of the conversations (at least one) held out."""
    if len(recordings) < 2:
        raise DiarefineError(f"the re-mix gave {len(recordings)} conversation: at least 2 are needed (one to "
                             "train on, one to hold out); give more or longer recordings, or mix across recordings")
    order = np.random.default_rng([seed, 1]).permutation(len(recordings))
    n_held = min(len(recordings) - 1, max(1, int(round(share * len(recordings)))))
    held = set(order[:n_held].tolist())
    return ([r for i, r in enumerate(recordings) if i not in held], [r for i, r in enumerate(recordings) if i in held])


def _train_config(checkpoint: Checkpoint, start: str, train: Path, held: Path, config: AdaptConfig,
                  threads: int) -> TrainConfig:
    """Fine-tuning of the starting checkpoint on the re-mixed caches (its own augmentation)."""
    augment = from_dict(AugmentConfig, checkpoint.training_config.get("augment", {}), f"{start}: training_config")
    return TrainConfig(
        model={"name": checkpoint.model.name, **to_dict(checkpoint.model.config)},
        data=DataConfig(train=(str(train),), val=(str(held),), batch_size=config.batch_size),
        optim=OptimConfig(lr=config.lr, warmup_steps=20),
        trainer=TrainerConfig(max_epochs=config.max_epochs, max_time_min=config.minutes,
                              early_stopping_patience=config.patience, log_every_n_steps=5, threads=threads),
        augment=augment, seed=config.seed, init=start)


def _stopped_by(epochs: int, seconds_used: float, config: AdaptConfig) -> str:
    if epochs >= config.max_epochs:
        return "epochs"
    return "time budget" if seconds_used >= 60 * config.minutes * 0.98 else "early stopping"


def _harvest(inputs: Sequence[FileInput], embedder, config: HarvestConfig, folder: Path, progress: Progress | None
             ) -> tuple[list[HarvestStats], dict, Seconds]:
    """Harvest every recording (one in memory at a time) and write its stretches under ``folder``:
    (per-file stats, file id -> speaker -> source files, seconds of audio)."""
    harvest, sources, audio_s = [], {}, 0.0
    for done, file in enumerate(inputs, 1):
        samples = load_audio(file.audio.path)
        audio_s += len(samples) / SAMPLE_RATE
        stretches, stats = harvest_file(samples, file.turns, embedder, config)
        harvest.append(replace(stats, file_id=file.file_id))
        stretches = [replace(s, file_id=file.file_id) for s in stretches]
        sources.update(write_sources(stretches, {file.file_id: samples}, folder))
        if progress:
            progress("harvest", done, len(inputs))
    return harvest, sources, audio_s


def _prepare(start: Checkpoint, start_name: str, train_recs: list, held_recs: list, work: Path, config: AdaptConfig,
             progress: Progress | None) -> tuple[tuple[Path, int], tuple[Path, int]]:
    """The training and held-out caches, with the starting model's front end and window settings:
    ((path, windows), (path, windows))."""
    prepare = PrepareConfig(features=start.features, embeddings=start.embeddings,
                            profile=from_dict(ProfileConfig, dict(start.profile or {}), f"{start_name}: profile"),
                            window_s=float(start.window["window_s"]), error_model=config.error_model,
                            draws_per_change=config.draws_per_change, embed_from="hypothesis", seed=config.seed)
    n_recs = len(train_recs) + len(held_recs)
    parts = []
    for name, recs, seed, first in (("train", train_recs, config.seed, 0),
                                    ("held_out", held_recs, config.seed + 1, len(train_recs))):
        report = (lambda done, _, first=first: progress("prepare", first + done, n_recs)) if progress else None
        parts.append(prepare_cache(recs, work / f"{name}.h5", replace(prepare, seed=seed), config.workers,
                                   progress=report))
    if parts[0][1] == 0 or parts[1][1] == 0:
        raise DiarefineError(f"the re-mixed conversations gave {parts[0][1]} training and {parts[1][1]} held-out "
                             "windows; give more or longer recordings")
    return parts[0], parts[1]


def _held_out_scores(start: Checkpoint, adapted: Checkpoint, held_path: Path, start_threshold: float,
                     config: AdaptConfig, progress: Progress | None
                     ) -> tuple[HeldOutScore, HeldOutScore, HeldOutScore]:
    """(starting weights at their threshold, starting weights re-tuned, adapted weights re-tuned). A
    re-tuned threshold replaces the starting one only when it is `clearly_lower` on the held-out
    changes (bootstrap over changes, ``config.retune_confidence``)."""
    held = WindowDataset([held_path])
    true, change = held.column("offset_s"), held.column("has_change")
    file_ids = held.window_files()[0]
    groups = np.array([f"{f}#{c}" if has else f"{f}@{i}" for i, (f, c, has) in
                       enumerate(zip(file_ids, held.column("change_index"), change))])
    scores = []
    for done, checkpoint in enumerate((start, adapted), 1):
        p = predict(checkpoint.model, held)
        at_start = window_costs(p.offset_s, p.confidence, true, change, start_threshold)
        if checkpoint is start:
            scores.append(held_out_score(p.offset_s, p.confidence, true, change, start_threshold))
        best = choose_threshold(p.offset_s, p.confidence, true, change, config.thresholds, prefer=start_threshold)[0]
        if not clearly_lower(window_costs(p.offset_s, p.confidence, true, change, best), at_start, groups,
                             config.retune_confidence, seed=config.seed):
            best = start_threshold
        scores.append(held_out_score(p.offset_s, p.confidence, true, change, best))
        if progress:
            progress("held-out", done, 2)
    return scores[0], scores[1], scores[2]


def adapt(inputs: Sequence[FileInput], out: str | Path, start_model: str | Path | None = None,
          config: AdaptConfig = AdaptConfig(), work_dir: str | Path | None = None, progress: Progress | None = None,
          train_progress: bool = False, threads: int = 0) -> AdaptResult:
    """Adapt ``start_model`` (default: the shipped one) to the recordings of ``inputs`` (audio and
    their system's hypothesis, opened and checked by `refine.files.open_input`); writes ``out``
    (a diarefine checkpoint with its threshold) and ``out`` with suffix ``.md`` (its model card)."""
    began = time.perf_counter()
    if not inputs:
        raise DiarefineError("no recordings to adapt on")
    outputs = OutputSet(files=[out, Path(out).with_suffix(".md")])  # checked before any work
    resolved = resolve_model(start_model)
    if resolved.classical:
        raise DiarefineError(f"{resolved.name!r} is a classical refiner: there is nothing to adapt; "
                             "start from a shipped model or a checkpoint")
    start = load_checkpoint(resolved.path)
    remix_config = replace(config.remix, seed=config.seed)
    stage_seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="diarefine-adapt-") as tmp:
        work = Path(work_dir) if work_dir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)

        t0 = time.perf_counter()
        harvest, sources, audio_s = _harvest(inputs, EMBEDDERS.build(start.embeddings), config.harvest,
                                             work / "stretches", progress)
        stage_seconds["harvest"] = time.perf_counter() - t0
        lone = [h for h in harvest if h.n_stretches and len(sources.get(h.file_id, {})) < 2]
        if lone and not remix_config.across_recordings:
            log.warning("%d recording(s) gave stretches of one speaker only (%.1f of %.1f min harvested): no "
                        "conversation of their own; --across-recordings (RemixConfig.across_recordings) uses them",
                        len(lone), sum(h.kept_s for h in lone) / 60, sum(h.kept_s for h in harvest) / 60)

        t0 = time.perf_counter()
        remixed = remix_sources(sources, work / "conversations", remix_config, config.workers, overwrite=True,
                                progress=(lambda n: progress("re-mix", n, 0)) if progress else None)
        train_recs, held_recs = _split(discover_corpus(work / "conversations"), config.held_out, config.seed)
        stage_seconds["re-mix"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        (train_path, n_train), (held_path, n_held) = _prepare(start, resolved.name, train_recs, held_recs, work,
                                                              config, progress)
        stage_seconds["prepare"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        train_config = _train_config(start, str(resolved.path), train_path, held_path, config, threads)
        fitted = fit(train_config, work / "train", progress=train_progress)
        stage_seconds["fine-tune"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        adapted = load_checkpoint(fitted.checkpoint)
        start_threshold = resolved.threshold if start.threshold is None else start.threshold
        before, retuned, after = _held_out_scores(start, adapted, held_path, start_threshold, config, progress)
        kept_start = after.cost_s > retuned.cost_s
        if kept_start:
            log.warning("fine-tuning did not lower the held-out boundary error (%.3f s vs %.3f s): the adapted "
                        "checkpoint keeps the starting weights, with the re-tuned threshold", after.cost_s,
                        retuned.cost_s)
            after, final_model = retuned, start.model
        else:
            final_model = adapted.model
        stage_seconds["threshold"] = time.perf_counter() - t0

        epochs = int(fitted.history[-1]["epoch"]) + 1 if fitted.history else 0
        result = AdaptResult(
            checkpoint=Path(out), card=Path(out).with_suffix(".md"), start_model=resolved.name,
            threshold=after.threshold, kept_start_weights=kept_start, audio_s=audio_s, harvest=harvest,
            n_conversations=len(remixed.conversations), n_held_out_conversations=len(held_recs),
            remixed_s=remixed.total_duration_s, n_changes=sum(c["n_changes"] for c in remixed.conversations),
            n_train_windows=n_train, n_held_out_windows=n_held, epochs=epochs,
            steps=int(fitted.history[-1]["step"]) if fitted.history else 0,
            stopped_by=_stopped_by(epochs, stage_seconds["fine-tune"], config), before=before,
            before_retuned=retuned, after=after, seconds=0.0, stage_seconds=stage_seconds,
            work_dir=work if work_dir else None)
        result.seconds = time.perf_counter() - began
        with outputs:
            save_checkpoint(outputs.path(out), final_model.cpu(), start.front_end,
                            training_metrics=start.training_metrics if kept_start else fitted.best,
                            training_config={**to_dict(train_config), "adapt": to_dict(config)},
                            threshold=after.threshold, adaptation=result.to_dict(),
                            inference_profile=start.inference_profile | resolved.profile)
            outputs.write_text(result.card, model_card(result, config))
    return result
