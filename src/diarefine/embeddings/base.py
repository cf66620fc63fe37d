"""The speaker-embedder interface, its registry, and per-file speaker profiles.

A speaker's embedding for a window is the L2-normalised mean of embeddings of fixed-length
chunks of that speaker's own speech in the file, leaving out every chunk that touches the
window (plus a margin), so the window being refined never feeds its own speaker embedding.
Chunks come from the speaker's single-speaker speech when there is enough of it, else from
all of its turns. Chunk embeddings are computed once per file; each window then only averages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..audio import AudioInfo, read_window
from ..config import to_dict
from ..intervals import as_intervals, subtract, total, union
from ..registry import Registry
from ..rttm import merge_turns
from ..types import Seconds, Turn
from ..units import SAMPLE_RATE, quantize_times

DEFAULT_EMBEDDER = "resemblyzer"
#: ``EMBEDDERS.build(spec)``: an embedder from a name or ``{"name": ..., **options}`` (unknown options are errors).
EMBEDDERS: Registry[type["SpeakerEmbedder"]] = Registry("speaker embedder", section="embeddings",
                                                        default=DEFAULT_EMBEDDER)


@dataclass(frozen=True)
class ProfileConfig:
    """How a speaker's embedding is gathered from its speech in the file."""

    chunk_s: Seconds = 1.6  # chunk length (resemblyzer's partial utterance)
    hop_s: Seconds = 0.8
    min_chunk_s: Seconds = 0.5  # shorter speech regions are not embedded
    exclusion_margin_s: Seconds = 1.0  # chunks within the window +/- this margin are left out
    min_speech_s: Seconds = 1.0  # less remaining speech than this: flag the embedding as unreliable
    prefer_single_min_s: Seconds = 3.0  # use single-speaker speech only if the speaker has this much
    max_speech_s: Seconds = 0.0  # embed about this much of a speaker's speech, spread over the file (0: all)
    length_step_s: Seconds = 0.0  # chunks shorter than chunk_s keep their middle, a multiple of this long (0: all)

    def __post_init__(self) -> None:
        if not 0 < self.min_chunk_s <= self.chunk_s or self.hop_s <= 0 or self.max_speech_s < 0 \
                or self.length_step_s < 0:
            raise ValueError("need 0 < min_chunk_s <= chunk_s, hop_s > 0, max_speech_s >= 0 and length_step_s >= 0")


@dataclass(frozen=True)
class SpeakerEmbedding:
    """One side's embedding for one window: ``vector`` [E] (zeros when not ``ok``)."""

    vector: np.ndarray
    speech_s: Seconds  # speech the average was taken over
    ok: bool  # False: less than min_speech_s of the speaker's speech outside the window


@dataclass(frozen=True)
class SpeakerChunks:
    """Chunk embeddings of one speaker in one file: ``spans`` [K, 2] s, ``embeddings`` [K, E]."""

    speaker: str
    spans: np.ndarray
    embeddings: np.ndarray

    def embedding(self, exclude: tuple[Seconds, Seconds] | None, min_speech_s: Seconds) -> SpeakerEmbedding:
        """Mean of the chunks that do not touch ``exclude``, L2-normalised; flagged if too little speech."""
        keep = np.ones(len(self.spans), dtype=bool)
        if exclude is not None:
            keep = (self.spans[:, 1] <= exclude[0]) | (self.spans[:, 0] >= exclude[1])
        speech = total(self.spans[keep])
        if speech < min_speech_s or not keep.any():
            return SpeakerEmbedding(np.zeros(self.embeddings.shape[1], np.float32), speech, False)
        mean = self.embeddings[keep].mean(axis=0)
        norm = np.linalg.norm(mean)
        return SpeakerEmbedding((mean / norm if norm > 0 else mean).astype(np.float32), speech, norm > 0)


def speaker_regions(turns: Sequence[Turn], prefer_single_min_s: Seconds) -> dict[str, np.ndarray]:
    """Each speaker's speech as [K, 2] spans: its single-speaker parts when they total at least
    ``prefer_single_min_s``, else all of its (merged) turns."""
    turns = merge_turns(list(turns))
    by_speaker: dict[str, list[tuple[float, float]]] = {}
    for t in turns:
        by_speaker.setdefault(t.speaker, []).append((t.start, t.end))
    regions = {}
    for speaker, own in sorted(by_speaker.items()):
        others = [(t.start, t.end) for t in turns if t.speaker != speaker]
        alone = subtract(own, others)
        regions[speaker] = alone if total(alone) >= prefer_single_min_s else union(own)
    return regions


def chunk_spans(regions: np.ndarray, chunk_s: Seconds, hop_s: Seconds, min_chunk_s: Seconds,
                length_step_s: Seconds = 0.0) -> np.ndarray:
    """Cut regions into chunks of ``chunk_s`` every ``hop_s``; a region shorter than a chunk is one
    chunk if it is at least ``min_chunk_s`` (with ``length_step_s`` > 0, its middle, cut down to a
    multiple of that length, so that short chunks come in a few lengths that an embedder can batch);
    the last chunk of a region ends at the region's end.

    >>> chunk_spans(np.array([[0.0, 3.0], [5.0, 5.8], [9.0, 9.2]]), 1.6, 0.8, 0.5).tolist()
    [[0.0, 1.6], [0.8, 2.4], [1.4, 3.0], [5.0, 5.8]]
    >>> chunk_spans(np.array([[5.0, 5.86]]), 1.6, 0.8, 0.5, length_step_s=0.2).tolist()
    [[5.03, 5.83]]
    """
    out = []
    for start, end in regions:
        length = end - start
        if length < min_chunk_s:
            continue
        if length <= chunk_s:
            if length_step_s > 0:
                kept = np.floor(length / length_step_s + 1e-6) * length_step_s
                if kept < min_chunk_s:
                    continue
                start, end = start + (length - kept) / 2, start + (length + kept) / 2
            out.append((start, end))
            continue
        starts = np.arange(start, end - chunk_s + 1e-9, hop_s)
        out += [(s, s + chunk_s) for s in starts]
        if end - (starts[-1] + chunk_s) > 1e-9:
            out.append((end - chunk_s, end))
    return quantize_times(as_intervals(out)) if out else np.zeros((0, 2))


def plan_chunks(turns: Sequence[Turn], profile: ProfileConfig, duration_s: Seconds) -> dict[str, np.ndarray]:
    """Each speaker's chunk spans [K, 2] s (see `speaker_regions`, `chunk_spans`); chunks that start
    after the audio ends are dropped, and with ``profile.max_speech_s`` (`spread_chunks`) the chunks of a
    speaker with more speech than that are thinned out evenly.

    >>> plan_chunks([Turn("f", 0, 2, "A"), Turn("f", 9, 10, "A")], ProfileConfig(), 5.0)["A"].tolist()
    [[0.0, 1.6], [0.4, 2.0]]
    """
    plan = {}
    for speaker, regions in speaker_regions(turns, profile.prefer_single_min_s).items():
        spans = chunk_spans(regions, profile.chunk_s, profile.hop_s, profile.min_chunk_s, profile.length_step_s)
        spans = spans[spans[:, 0] < duration_s] if len(spans) else spans
        plan[speaker] = spread_chunks(spans, profile.max_speech_s) if profile.max_speech_s > 0 else spans
    return plan


def spread_chunks(spans: np.ndarray, max_speech_s: Seconds) -> np.ndarray:
    """At most about ``max_speech_s`` of chunks [K, 2] (s, in time order), evenly spaced over them, so a
    long speaker's profile still samples the whole file (embedding cost grows with the speech embedded).

    >>> spread_chunks(np.array([[0, 2], [2, 4], [4, 6], [6, 8], [8, 10]], float), 6.0)[:, 0].tolist()
    [0.0, 4.0, 8.0]
    >>> len(spread_chunks(np.array([[0, 2], [2, 4]], float), 6.0))
    2
    """
    lengths = spans[:, 1] - spans[:, 0]
    if lengths.sum() <= max_speech_s:
        return spans
    n = max(1, int(np.ceil(max_speech_s / lengths.mean())))
    return spans[np.unique(np.round(np.linspace(0, len(spans) - 1, n)).astype(int))]


class SpeakerEmbedder:
    """Base class: subclasses set ``Config`` and ``dim`` and implement `embed_spans`."""

    name: ClassVar[str]

    @dataclass(frozen=True)
    class Config:
        pass

    def __init__(self, config=None) -> None:
        self.config = config if config is not None else self.Config()

    @property
    def dim(self) -> int:  # embedding size E
        raise NotImplementedError

    def embed_spans(self, audio: np.ndarray, spans: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
        """audio [N] float32 16 kHz (the whole file), spans [K, 2] s -> L2-normalised [K, E] float32.

        ``speakers`` [K] labels the spans; only embedders that do not listen (``dummy``) use it."""
        raise NotImplementedError

    def speaker_chunks(self, audio: np.ndarray, turns: Sequence[Turn],
                       profile: ProfileConfig = ProfileConfig()) -> dict[str, SpeakerChunks]:
        """Chunk embeddings of every speaker of one file held in memory (computed once; windows then average)."""
        plan = plan_chunks(turns, profile, len(audio) / SAMPLE_RATE)
        return self._embed_plan(plan, lambda spans, labels: self.embed_spans(audio, spans, labels))

    def speaker_chunks_from_file(self, audio: AudioInfo, turns: Sequence[Turn], profile: ProfileConfig = ProfileConfig(),
                                 block_s: Seconds = 600.0) -> dict[str, SpeakerChunks]:
        """`speaker_chunks` of a file on disk, read ``block_s`` at a time so memory does not grow with its length.

        A chunk belongs to the block its start falls in; each block is read up to the end of its
        last chunk. A file shorter than one block is read whole, so the result equals
        `speaker_chunks` of the loaded file (embedders that normalise the level, like
        resemblyzer, normalise per block on longer files).
        """
        plan = plan_chunks(turns, profile, audio.duration_s)

        def embed(spans: np.ndarray, labels: list[str]) -> np.ndarray:
            out = np.zeros((len(spans), self.dim), np.float32)
            block = np.floor(spans[:, 0] / block_s).astype(int)
            for b in np.unique(block):
                idx = np.flatnonzero(block == b)
                start = b * block_s
                end = max(min((b + 1) * block_s, audio.duration_s), float(spans[idx, 1].max()))
                samples, _ = read_window(audio, start, end - start)
                out[idx] = self.embed_spans(samples, spans[idx] - start, [labels[i] for i in idx])
            return out

        return self._embed_plan(plan, embed)

    def _embed_plan(self, plan: dict[str, np.ndarray], embed) -> dict[str, SpeakerChunks]:
        labels = [spk for spk, spans in plan.items() for _ in range(len(spans))]
        all_spans = np.concatenate([np.zeros((0, 2))] + list(plan.values()))
        embs = embed(all_spans, labels) if labels else np.zeros((0, self.dim), np.float32)
        out, lo = {}, 0
        for speaker, spans in plan.items():
            out[speaker] = SpeakerChunks(speaker, spans, embs[lo:lo + len(spans)])
            lo += len(spans)
        return out

    def describe(self) -> dict:
        return {"name": self.name, **to_dict(self.config)}


def window_embedding(chunks: dict[str, SpeakerChunks], speaker: str, center_s: Seconds, window_s: Seconds,
                     profile: ProfileConfig, dim: int) -> SpeakerEmbedding:
    """The embedding of ``speaker`` for the window centred on ``center_s`` (own speech elsewhere only)."""
    half = window_s / 2 + profile.exclusion_margin_s
    if speaker not in chunks:
        return SpeakerEmbedding(np.zeros(dim, np.float32), 0.0, False)
    return chunks[speaker].embedding((center_s - half, center_s + half), profile.min_speech_s)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def group_by_length(spans: np.ndarray, rate: float) -> dict[int, list[int]]:
    """Span indices grouped by their length in frames at ``rate`` frames/s (for batching)."""
    groups: dict[int, list[int]] = {}
    for i, (start, end) in enumerate(spans):
        groups.setdefault(max(1, int(round((end - start) * rate))), []).append(i)
    return groups
