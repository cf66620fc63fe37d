"""The `Refiner`: move each speaker change of a hypothesis to where a boundary model puts it.

Per file (docs/ARCHITECTURE.md, data flow): open the audio and merge the turns once
(`files.open_input`) -> the hypothesis's change points -> for each, the 4 s window centred on
it -> frame features -> embeddings of the left and right hypothesis speakers from their own
speech elsewhere in the file -> the model's offset and confidence (+ the model's extra inputs,
`inputs.extra_inputs`) -> changes whose confidence exceeds the threshold move
(`changes.move_changes` keeps every turn valid and never lets a change cross its neighbours),
the others stay where they were. With ``match_shapes`` (the default), a change whose hypothesis
leaves a clean pause or a clean overlap between its speakers goes where ``pause-match`` /
``overlap-match`` put it when their confidence exceeds ``shape_threshold``
(`models.classical.template_match`), and to the model otherwise: on real recordings they place such
changes better than any model here (README, "Real recordings").
With ``refine_edges``, the speech onsets and offsets next to silence are then refined too
(`edges.EdgeRefiner`). The audio is read in blocks (speaker embeddings) and regions of nearby
changes (features; `regions`), and windows go through the model in batches, so memory does not
grow with the file's length. No Lightning here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ..audio import AudioInfo, trim_context
from ..changes import find_changes, move_changes
from ..config import from_dict
from ..embeddings import EMBEDDERS, ProfileConfig, window_embedding
from ..errors import DiarefineError
from ..features import FEATURES
from ..features.pyannote_seg import PyannoteSegmentation
from ..models import MODELS, Checkpoint, classical_checkpoint, classical_like, load_checkpoint
from ..networks.precision import autocast, check_precision
from ..types import Change, Seconds, Turn
from ..units import DEFAULT_THRESHOLD, SAMPLE_RATE, confident
from .edges import EdgeConfig, EdgeRefinement, EdgeRefiner
from .files import FileInput, open_input
from .inputs import (
    count_from_log_probs,
    extra_inputs,
    hypothesis_inputs,
    segmentation_network,
    speaker_count_posterior,
)
from .regions import RegionAudio, change_regions, region_batches
from .resolve import SHAPE_REFINERS, SHIPPED_MODELS, default_front_end, resolve_model

Progress = Callable[[int, int], None]  # (windows done, windows in the file)


@dataclass(frozen=True)
class FileRefinement:
    """What `Refiner.refine_file` did to one file: the refined turns and every change's fate.

    Arrays are aligned with ``changes`` (the hypothesis's change points in time order).
    """

    file_id: str
    turns: list[Turn]
    changes: list[Change]
    offset_s: np.ndarray  # [C] predicted true change minus hypothesis change (s)
    confidence: np.ndarray  # [C] in [0, 1]
    applied_times_s: list[Seconds]  # [C] where each change ended up
    n_moved: int  # changes whose time changed
    n_kept: int  # left alone: confidence at or below the threshold
    n_clamped: int  # confident, but stopped short by a turn's length or a neighbouring change
    n_missing_embedding: int  # windows where a side's speaker had too little speech elsewhere
    duration_s: Seconds
    seconds: float = field(default=0.0, compare=False)  # wall-clock time spent
    edges: EdgeRefinement | None = None  # with refine_edges: what happened to the speech edges (after the changes)
    shape_matched: np.ndarray | None = None  # [C] bool: moved by pause- / overlap-match (match_shapes), not the model

    @property
    def n_shape_matched(self) -> int:
        return 0 if self.shape_matched is None else int(self.shape_matched.sum())

    @property
    def n_changes(self) -> int:
        return len(self.changes)

    @property
    def n_edges(self) -> int:
        return 0 if self.edges is None else len(self.edges.edges)

    @property
    def n_edges_moved(self) -> int:
        return 0 if self.edges is None else self.edges.n_moved

    def summary(self) -> dict:
        out = {"file_id": self.file_id, "changes": self.n_changes, "moved": self.n_moved, "kept": self.n_kept,
               "clamped": self.n_clamped, "missing_embedding": self.n_missing_embedding,
               "shape_matched": self.n_shape_matched,
               "audio_s": round(self.duration_s, 3), "seconds": round(self.seconds, 3)}
        if self.edges is not None:
            out.update(edges=self.n_edges, edges_moved=self.n_edges_moved, edges_clamped=self.edges.n_clamped)
        return out


class Refiner:
    """A boundary model with the front end it was trained with (features, speaker embedder).

    ``model``: a shipped model name (default: `resolve.DEFAULT_MODEL`), a classical refiner
    (`resolve.CLASSICAL_REFINERS`, e.g. ``bic``; built on the default front end), a checkpoint
    path, or a loaded `Checkpoint`. ``threshold``: a change moves only when the model's
    confidence exceeds it (default: the shipped model's tuned value, else the one the checkpoint
    carries, e.g. an adapted one's, else `units.DEFAULT_THRESHOLD`); 1.0 moves nothing the model
    decides. ``block_s`` is how much audio is read at once for
    speaker embeddings. ``refine_edges`` (True or an `EdgeConfig`) also refines speech onsets /
    offsets next to silence. ``match_shapes`` lets ``pause-match`` / ``overlap-match`` move the changes
    with a clean pause / overlap in the hypothesis where their confidence exceeds ``shape_threshold``
    (the model decides the rest, and those they are unsure of). ``profile`` replaces settings of the
    speaker profiles (`embeddings.ProfileConfig`) after the model's own, e.g. ``{"max_speech_s": 0}``
    to embed all of every speaker's speech. ``region_span_s`` > 0 lets changes within that many seconds
    share one segmentation-3.0 pass over their region (`regions`; faster on dense files, but windows
    then see more context than in training: docs/RESULTS.md, "refine: speed"); 0 runs it on each change's own 10 s.
    ``precision`` ``"bfloat16"`` runs the front ends (the window features' segmentation-3.0 after its sinc
    stage, the speakers' CAM++ profiles) under CPU autocast: faster on CPUs that compute bfloat16 natively,
    slower on others, and not what the model was trained on (its DER: docs/RESULTS.md, "refine: speed").
    """

    def __init__(self, model: str | Path | Checkpoint | None = None, threshold: float | None = None,
                 device: str | torch.device = "cpu", batch_size: int = 64, block_s: Seconds = 600.0,
                 refine_edges: bool | EdgeConfig = False, match_shapes: bool = True,
                 shape_threshold: float = DEFAULT_THRESHOLD, profile: dict | None = None,
                 region_span_s: Seconds = 0.0, precision: str = "float32") -> None:
        try:
            check_precision(precision)
        except ValueError as exc:
            raise DiarefineError(str(exc)) from None
        self.precision = precision
        checkpoint, classical, shipped_profile = None, None, {}
        if isinstance(model, Checkpoint):
            checkpoint, default_threshold = model, DEFAULT_THRESHOLD
            self.model_name = str(model.path or model.model.name)
        else:
            resolved = resolve_model(model)
            default_threshold, self.model_name, shipped_profile = resolved.threshold, resolved.name, resolved.profile
            if resolved.classical:
                classical = resolved.name
            else:
                checkpoint = load_checkpoint(resolved.path, map_location=device, ignore_unknown=True)
        if checkpoint is not None and checkpoint.threshold is not None and self.model_name not in SHIPPED_MODELS:
            default_threshold = checkpoint.threshold  # tuned for this checkpoint (e.g. by `diarefine adapt`)
        self.threshold = default_threshold if threshold is None else float(threshold)
        if not 0.0 <= self.threshold <= 1.0:
            raise DiarefineError(f"threshold {self.threshold} is outside [0, 1] (1.0 moves nothing)")
        if batch_size < 1 or block_s < 10 or region_span_s < 0:
            raise DiarefineError("batch_size must be >= 1, block_s >= 10 s and region_span_s >= 0 s")
        self.device, self.batch_size, self.block_s = torch.device(device), batch_size, block_s
        self.region_span_s = float(region_span_s)
        front_end = checkpoint.front_end if checkpoint is not None else \
            default_front_end(getattr(MODELS.get(classical), "embeddings", None))
        self.extractor = FEATURES.build(front_end["features"]).eval()
        self.embedder = EMBEDDERS.build(front_end["embeddings"])
        if classical is not None:  # a classical refiner on its own defaults, sized to the front end
            checkpoint = classical_checkpoint(classical, front_end, self.extractor.dim, self.embedder.dim)
        self.checkpoint = checkpoint
        self.model = checkpoint.model.to(self.device).eval()
        self.profile = from_dict(ProfileConfig, dict(checkpoint.profile or {}) | checkpoint.inference_profile
                                 | shipped_profile | dict(profile or {}), "profile")
        self.window_s = float(checkpoint.window["window_s"])
        self.edge_refiner = None if refine_edges is False else \
            EdgeRefiner(EdgeConfig() if refine_edges is True else refine_edges)
        #: pause-match / overlap-match, for the changes with a clean pause / overlap (not the model itself)
        self.shape_models = [classical_like(name, checkpoint).model for name in SHAPE_REFINERS
                             if match_shapes and name != self.model.name]
        # the shape matchers read one speaker-count posterior; the segmentation-3.0 pass behind it is the
        # features' own when they come from the same network on the same audio (the default front end)
        self._shape_network = segmentation_network(self.shape_models[0].config.weights) if self.shape_models else None
        self._shape_context_s = max((m.extra_context_s for m in self.shape_models), default=0.0)
        #: whether the matchers read the features' own pass (with ``region_span_s`` > 0: their region's, not
        #: each change's centred 10 s)
        self.features_share_segmentation = (isinstance(self.extractor, PyannoteSegmentation)
                                            and self.extractor.network is self._shape_network
                                            and self.extractor.context_s == self._shape_context_s)
        # regions' audio starts on the grid of segmentation-3.0's first stage, which overlapping ones then share
        self._region_align = self.extractor.network.sincnet.shared_step \
            if isinstance(self.extractor, PyannoteSegmentation) else 1
        if not 0.0 <= shape_threshold <= 1.0:
            raise DiarefineError(f"shape threshold {shape_threshold} is outside [0, 1] (1.0 moves nothing)")
        self.shape_threshold = float(shape_threshold)
        if self.extractor.n_frames != self.model.config.n_frames:
            raise DiarefineError(f"{self.model_name}: features give {self.extractor.n_frames} frames per window "
                                 f"but the model expects {self.model.config.n_frames}")

    def refine_file(self, audio: str | Path | AudioInfo, turns: Sequence[Turn],
                    progress: Progress | None = None) -> FileRefinement:
        """Refine the turns of one file (all with one file id) against its audio."""
        return self.refine_input(open_input(audio, turns), progress)

    def refine_input(self, file: FileInput, progress: Progress | None = None) -> FileRefinement:
        """Refine one opened recording (`files.open_input`: audio checked, turns merged)."""
        began = time.perf_counter()
        changes = find_changes(file.turns)
        offset, confidence, n_missing, by_shape = self._predict(file.audio, file.turns, changes, progress)
        threshold = np.where(by_shape, self.shape_threshold, self.threshold)
        result = apply_predictions(file.file_id, file.turns, changes, offset, confidence, threshold, n_missing,
                                   file.audio.duration_s)
        result = replace(result, shape_matched=by_shape)
        if self.edge_refiner is not None:
            edges = self.edge_refiner.refine_file(file.audio, result.turns)
            result = replace(result, turns=edges.turns, edges=edges)
        return replace(result, seconds=time.perf_counter() - began)

    def describe(self) -> str:
        """What refines the changes, for titles: the model and threshold, the shape matchers' when on, and
        the front ends' precision when it is not float32."""
        shapes = " / ".join(m.name for m in self.shape_models)
        return (f"{self.model_name} (threshold {self.threshold:g})"
                + (f", pauses / overlaps by {shapes} (threshold {self.shape_threshold:g})" if shapes else "")
                + (f", front ends in {self.precision}" if self.precision != "float32" else ""))

    def table(self, results: Sequence[FileRefinement], max_files: int = 30) -> tuple[str, list[str], list[list[str]]]:
        """(title, header, rows) of what this refiner did: a row per file (the first ``max_files``),
        and a total row for several files; counts of changes (those the shape matchers moved, and
        edges, when on), audio minutes and the real-time factor."""
        counts = ["n_changes", "n_moved", "n_kept", "n_clamped", "n_missing_embedding"]
        header = ["file", "changes", "moved", "kept", "clamped", "no embedding"]
        if self.shape_models:
            counts, header = counts + ["n_shape_matched"], header + ["by shape"]
        if self.edge_refiner is not None:
            counts, header = counts + ["n_edges", "n_edges_moved"], header + ["edges", "edges moved"]

        def row(name: str, rs: Sequence[FileRefinement]) -> list[str]:
            audio_s = sum(r.duration_s for r in rs)
            return [name, *(str(sum(getattr(r, k) for r in rs)) for k in counts),
                    f"{audio_s / 60:.1f}", f"{sum(r.seconds for r in rs) / audio_s:.4f}"]

        rows = [row(r.file_id, [r]) for r in results[:max_files]]
        rows += [row("total", results)] if len(results) > 1 else []
        title = (f"diarefine refine: {self.describe()}"
                 + (", edges refined" if self.edge_refiner is not None else ""))
        return title, header + ["audio min", "RTF"], rows

    @torch.inference_mode()
    def _predict(self, info: AudioInfo, turns: list[Turn], changes: list[Change],
                 progress: Progress | None) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
        """Offsets [C] and confidences [C] of every change, how many windows lacked an embedding, and
        which changes a shape matcher decided [C] bool: those with a clean pause / overlap it would move."""
        offsets, confidences, n_missing = np.zeros(len(changes), np.float32), np.zeros(len(changes), np.float32), 0
        hypothesis = hypothesis_inputs(changes)  # batch key -> [C]
        applies = np.zeros(len(changes), bool)  # changes some shape matcher places (their kinds never coincide)
        for shape_model in self.shape_models:
            applies |= shape_model.applies(hypothesis[shape_model.separation_key])
        by_shape = np.zeros(len(changes), bool)
        if not changes:
            return offsets, confidences, 0, by_shape
        reads_embeddings = self.model.reads_speaker_embeddings  # else no profiles: zeros it never reads
        with autocast(self.precision):
            chunks = self.embedder.speaker_chunks_from_file(info, turns, self.profile, self.block_s) \
                if reads_embeddings else None
        context_s = max(self.extractor.context_s, self.model.extra_context_s if self.model.extra_inputs else 0.0,
                        self._shape_context_s if applies.any() else 0.0)
        regions = change_regions([c.time for c in changes], self.window_s, context_s, self.region_span_s)
        for group in region_batches(regions, self.batch_size):
            rows = np.arange(group[0].first, group[-1].stop)
            batch_changes = [changes[i] for i in rows]
            audio = RegionAudio.read(info, group, [c.time for c in batch_changes], self.window_s, context_s,
                                     self._region_align)
            shaped = rows[applies[rows]]
            with autocast(self.precision):
                feats, mask, count = self._features(audio, context_s, share=len(shaped) > 0)
            if reads_embeddings:
                sides = [[window_embedding(chunks, speaker, c.time, self.window_s, self.profile, self.embedder.dim)
                          for speaker in (c.left_speaker, c.right_speaker)] for c in batch_changes]
                n_missing += sum(1 for left, right in sides if not (left.ok and right.ok))
                left_emb, right_emb = (np.stack([side[k].vector for side in sides]) for k in (0, 1))
            else:
                left_emb = right_emb = np.zeros((len(batch_changes), self.embedder.dim), np.float32)
            batch = {
                "features": feats.half().float(),  # the precision training caches store
                "mask": mask,
                "left_emb": torch.from_numpy(left_emb),
                "right_emb": torch.from_numpy(right_emb),
            }
            if self.model.extra_inputs:  # from the windows' audio [B, N] with this model's context
                batch.update(extra_inputs(self.model, *audio.windows(context_s - self.model.extra_context_s),
                                          self.embedder,
                                          {k: v[rows] for k, v in hypothesis.items()}))
            offset_s, confidence = self.model({k: v.to(self.device) for k, v in batch.items()})
            offsets[rows] = offset_s.float().cpu().numpy()
            confidences[rows] = confidence.float().cpu().numpy()
            if len(shaped):  # a shape matcher decides where it would move the change; the model elsewhere
                in_batch = shaped - rows[0]
                count = count[in_batch] if count is not None else speaker_count_posterior(
                    audio.windows(context_s - self._shape_context_s)[0][in_batch], self.shape_models[0].config.weights)
                self._match_shapes(count, {k: v[shaped] for k, v in hypothesis.items()}, shaped, offsets,
                                   confidences, by_shape)
            if progress:
                progress(int(rows[-1]) + 1, len(changes))
        return offsets, confidences, n_missing, by_shape

    def _features(self, audio: RegionAudio, context_s: Seconds,
                  share: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The windows' features [B, T, D] and mask [B, T] of a batch of changes (their regions' ``audio``,
        read with ``context_s`` around every window), and with ``share``, when the features run the shape
        matchers' segmentation-3.0 on the same audio, the speaker-count posterior [B, T', 3] from the same
        pass (else None). segmentation-3.0 runs once per region (`regions`), its sinc stage once per stretch of
        overlapping regions; other extractors per window."""
        waves, valid = audio.windows(context_s - self.extractor.context_s)
        inputs = [torch.from_numpy(x) for x in (waves, valid)]
        if not isinstance(self.extractor, PyannoteSegmentation):
            feats, mask = self.extractor(*inputs)
            return feats.float(), mask, None
        share = share and self.features_share_segmentation
        network, trim_s = self.extractor.network, context_s - self.extractor.context_s
        window = [trim_context(x, self.extractor.context_s) for x in inputs]
        feats = torch.zeros(len(waves), self.extractor.n_frames, self.extractor.dim)
        mask = torch.zeros(len(waves), self.extractor.n_frames, dtype=torch.bool)
        count = None
        for regions, rows, window_start_s in audio.by_length(trim_s):
            n_samples = int(audio.length[regions[0]]) - 2 * round(trim_s * SAMPLE_RATE)
            layers = network.layers_of_chunks(  # the sinc filters once over overlapping regions
                [(torch.from_numpy(x), torch.from_numpy(starts)) for x, starts in audio.stretches(regions, trim_s)],
                n_samples)
            owner = torch.from_numpy(np.searchsorted(regions, audio.owner[rows]))
            window_feats, mask[rows] = self.extractor.window_features(
                layers, window_start_s, *(x[rows] for x in window), rows=owner)
            feats[rows] = window_feats.float()  # bfloat16 under autocast
            if share:
                count_here = count_from_log_probs(
                    network, layers.log_probs[owner], round((self.window_s + 2 * self._shape_context_s) * SAMPLE_RATE),
                    window_start_s - self._shape_context_s)
                if count is None:
                    count = torch.zeros(len(waves), *count_here.shape[1:])
                count[rows] = count_here
        return feats, mask, count

    def _match_shapes(self, count: torch.Tensor, hypothesis: dict[str, np.ndarray], rows: np.ndarray,
                      offsets: np.ndarray, confidences: np.ndarray, by_shape: np.ndarray) -> None:
        """Run the shape matchers on changes ``rows`` of the file (their speaker-count posterior ``count``
        [R, T', 3] and `inputs.hypothesis_inputs` [R]) and write the offsets / confidences of those they
        are sure of."""
        batch = {"seg_count": count.to(self.device)} | \
            {k: torch.as_tensor(v).to(self.device) for k, v in hypothesis.items()}
        for shape_model in self.shape_models:
            mine = shape_model.applies(hypothesis[shape_model.separation_key])
            if mine.any():
                offset_s, confidence = (x.float().cpu().numpy() for x in shape_model(batch))
                sure = shape_decides(mine, confidence, self.shape_threshold)
                offsets[rows[sure]], confidences[rows[sure]], by_shape[rows[sure]] = \
                    offset_s[sure], confidence[sure], True


def shape_decides(applies: np.ndarray, shape_confidence: np.ndarray, shape_threshold: float) -> np.ndarray:
    """Which changes a shape matcher moves under ``match_shapes`` [C] bool: those it ``applies`` to (a
    clean pause / overlap of its kind in the hypothesis) where its confidence exceeds
    ``shape_threshold``; the model decides the others (pure).

    >>> shape_decides(np.array([True, True, False]), np.array([0.9, 0.4, 0.9]), 0.5).tolist()
    [True, False, False]
    """
    return np.asarray(applies, bool) & confident(np.asarray(shape_confidence), shape_threshold)


def apply_predictions(file_id: str, turns: Sequence[Turn], changes: Sequence[Change], offset_s: np.ndarray,
                      confidence: np.ndarray, threshold: float | np.ndarray, n_missing_embedding: int = 0,
                      duration_s: Seconds = float("nan"), seconds: float = 0.0) -> FileRefinement:
    """Move the changes whose confidence exceeds ``threshold`` (one, or one per change) by their
    predicted offset (pure).

    >>> turns = [Turn("f", 0, 5, "A"), Turn("f", 5, 9, "B")]
    >>> r = apply_predictions("f", turns, find_changes(turns), np.array([0.3]), np.array([0.9]), 0.5)
    >>> [(t.start, t.end) for t in r.turns], r.n_moved, r.n_kept
    ([(0.0, 5.3), (5.3, 9.0)], 1, 0)
    """
    gate = confident(np.asarray(confidence), threshold)
    new_times = [c.time + float(o) if ok else c.time for c, o, ok in zip(changes, offset_s, gate)]
    moved = move_changes(turns, changes, new_times)
    n_clamped = sum(1 for ok, want, got in zip(gate, new_times, moved.applied_times)
                    if ok and abs(want - got) > 1e-6)
    return FileRefinement(file_id, moved.turns, list(changes), np.asarray(offset_s), np.asarray(confidence),
                          moved.applied_times, moved.n_moved, int((~gate).sum()), n_clamped, n_missing_embedding,
                          duration_s, seconds)
