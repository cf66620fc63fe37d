"""``diarize``: an embedded baseline diarizer, so the whole pipeline runs offline on any audio.

silero-vad speech regions -> speaker embeddings of sliding windows over the speech (1.5 s,
every 0.25 s) -> spectral clustering (pruned cosine affinity, speaker count from the
eigen-gap; or a given count; average-linkage AHC with a distance threshold as the alternative) -> each 10 ms frame
of speech takes the cluster its covering windows are most similar to -> turns. Its
boundaries carry the jitter of every window-based system (a window straddling a change
votes for both sides), which is what `refine` is for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.cluster.vq import kmeans2
from scipy.linalg import eigh
from scipy.ndimage import median_filter

from . import dsp
from .audio import load_audio
from .embeddings import EMBEDDERS
from .embeddings.base import chunk_spans
from .rttm import merge_turns
from .types import Seconds, Turn
from .units import GRID_S, SAMPLE_RATE


@dataclass(frozen=True)
class DiarizeConfig:
    """Settings of the baseline diarizer (defaults tuned on 30 simulated LibriSpeech dev conversations
    and checked on the bundled sample: ``benchmarks/tune_diarize.py``)."""

    vad_threshold: float = 0.5  # silero speech probability
    min_speech_s: Seconds = 0.25
    min_silence_s: Seconds = 0.3  # shorter pauses are bridged
    window_s: Seconds = 1.5  # embedding window
    hop_s: Seconds = 0.25
    clustering: str = "spectral"  # or "ahc"
    pruning: float = 0.3  # spectral: share of each affinity row kept
    distance_threshold: float = 0.35  # ahc: cosine distance at which clusters stop merging (average linkage)
    max_cluster_windows: int = 2000  # longer files: cluster this many evenly spaced windows, assign the rest
    num_speakers: int | None = None  # fix the count instead of thresholding
    max_speakers: int = 20
    min_cluster_s: Seconds = 2.0  # clusters with less speech are folded into their nearest neighbour
    smoothing_s: Seconds = 0.25  # median filter over frame labels
    embeddings: str = "resemblyzer"

    def describe(self) -> str:
        return f"silero-vad + resemblyzer + {self.clustering} clustering"

    def __post_init__(self) -> None:
        if not 0 < self.hop_s <= self.window_s:
            raise ValueError("need 0 < hop_s <= window_s")
        if self.num_speakers is not None and self.num_speakers < 1:
            raise ValueError("num_speakers must be at least 1")
        if self.clustering not in ("spectral", "ahc"):
            raise ValueError(f"clustering must be 'spectral' or 'ahc', not {self.clustering!r}")
        if not 0 < self.pruning <= 1:
            raise ValueError("pruning must be in (0, 1]")


def speech_regions(audio: np.ndarray, config: DiarizeConfig = DiarizeConfig()) -> np.ndarray:
    """silero-vad speech of 16 kHz mono audio [N] with this config's settings -> [K, 2] seconds."""
    return dsp.speech_regions(audio, config.vad_threshold, config.min_speech_s, config.min_silence_s)


def spectral_labels(embeddings: np.ndarray, pruning: float, max_speakers: int,
                    num_speakers: int | None = None) -> np.ndarray:
    """Spectral clustering of unit embeddings [W, E] -> labels [W]; the count from the eigen-gap.

    Affinity: cosine similarity (negatives set to 0), each row keeping only its ``pruning`` share
    of largest entries, symmetrised; the count is where the normalised Laplacian's sorted
    eigenvalues jump most (unless ``num_speakers`` is given); k-means on the row-normalised
    eigenvectors.
    """
    n = len(embeddings)
    similarity = np.clip(embeddings @ embeddings.T, 0.0, None)
    keep = max(2, int(np.ceil(pruning * n)))
    kth = -np.partition(-similarity, keep - 1, axis=1)[:, keep - 1:keep]
    affinity = np.where(similarity >= kth, similarity, 0.0)
    affinity = (affinity + affinity.T) / 2
    scale = 1 / np.sqrt(np.maximum(affinity.sum(axis=1), 1e-8))
    laplacian = np.eye(n) - scale[:, None] * affinity * scale[None, :]
    eigenvalues, eigenvectors = eigh(laplacian)
    k = num_speakers or int(np.argmax(np.diff(eigenvalues[:min(max_speakers, n - 1) + 1]))) + 1
    if k == 1:
        return np.zeros(n, int)
    points = eigenvectors[:, :k] / np.maximum(np.linalg.norm(eigenvectors[:, :k], axis=1, keepdims=True), 1e-8)
    _, labels = kmeans2(points, k, minit="++", seed=0)
    return labels


def ahc_labels(embeddings: np.ndarray, distance_threshold: float, max_speakers: int,
               num_speakers: int | None = None) -> np.ndarray:
    """Average-linkage AHC on cosine distance cut at ``distance_threshold`` (or at ``num_speakers``)."""
    tree = linkage(embeddings, method="average", metric="cosine")
    if num_speakers is None:
        labels = fcluster(tree, t=distance_threshold, criterion="distance")
        if labels.max() <= max_speakers:
            return labels - 1
    return fcluster(tree, t=min(num_speakers or max_speakers, len(embeddings)), criterion="maxclust") - 1


def cluster_embeddings(embeddings: np.ndarray, durations_s: np.ndarray, config: DiarizeConfig) -> np.ndarray:
    """L2-normalised window embeddings [W, E] -> speaker labels [W] (0 = the most speech).

    At most ``max_cluster_windows`` evenly spaced windows are clustered (bounded time and memory
    on long files); every window then joins the nearest centroid. Clusters under ``min_cluster_s``
    of speech join the nearest larger one.

    >>> e = np.array([[1, 0], [0.99, 0.14], [0, 1], [0.1, 0.99]], np.float32)
    >>> cluster_embeddings(e, np.full(4, 1.5), DiarizeConfig(clustering="ahc", min_cluster_s=0)).tolist()
    [0, 0, 1, 1]
    """
    n = len(embeddings)
    if n < 2:
        return np.zeros(n, int)
    subset = np.unique(np.linspace(0, n - 1, min(n, config.max_cluster_windows)).round().astype(int))
    if config.clustering == "spectral":
        raw = spectral_labels(embeddings[subset], config.pruning, config.max_speakers, config.num_speakers)
    else:
        raw = ahc_labels(embeddings[subset], config.distance_threshold, config.max_speakers, config.num_speakers)
    clusters = np.unique(raw)
    labels = clusters[np.argmax(embeddings @ centroids(embeddings[subset], raw, clusters).T, axis=1)]
    speech = np.bincount(labels, weights=durations_s, minlength=clusters.max() + 1)
    large = np.flatnonzero(speech >= config.min_cluster_s) if config.num_speakers is None else np.unique(labels)
    if large.size == 0:
        large = np.array([int(np.argmax(speech))])
    small = ~np.isin(labels, large)
    if small.any():
        labels[small] = large[np.argmax(embeddings[small] @ centroids(embeddings, labels, large).T, axis=1)]
    first = np.array([np.flatnonzero(labels == k)[0] for k in large])
    order = large[np.lexsort((first, -speech[large]))]  # relabel: most speech first, ties by first appearance
    rank = np.zeros(labels.max() + 1, int)
    rank[order] = np.arange(order.size)
    return rank[labels]


def centroids(embeddings: np.ndarray, labels: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """[K, E] unit mean embedding of each listed cluster."""
    means = np.stack([embeddings[labels == k].mean(axis=0) for k in clusters])
    return means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-8)


def frame_labels(spans: np.ndarray, embeddings: np.ndarray, labels: np.ndarray, regions: np.ndarray,
                 duration_s: Seconds, config: DiarizeConfig) -> np.ndarray:
    """Speaker index of every 10 ms frame [F] (-1 outside speech): the cluster whose centroid the
    windows covering the frame are most similar to on average, median-filtered."""
    n_frames = int(np.ceil(duration_s / GRID_S))
    clusters = np.unique(labels)
    scores = np.zeros((n_frames, len(clusters)), np.float32)
    covered = np.zeros(n_frames, np.float32)
    similarity = embeddings @ centroids(embeddings, labels, clusters).T  # [W, K]
    for (start, end), sim in zip(spans, similarity):
        lo, hi = int(start / GRID_S), min(int(np.ceil(end / GRID_S)), n_frames)
        scores[lo:hi] += sim
        covered[lo:hi] += 1
    best = clusters[np.argmax(scores, axis=1)]
    best = _nearest_covered(best, covered > 0)
    width = max(1, int(round(config.smoothing_s / GRID_S)) | 1)
    best = median_filter(best, size=width, mode="nearest")
    out = np.full(n_frames, -1, int)
    for start, end in regions:
        lo, hi = int(round(start / GRID_S)), min(int(round(end / GRID_S)), n_frames)
        out[lo:hi] = best[lo:hi]
    return out


def _nearest_covered(labels: np.ndarray, covered: np.ndarray) -> np.ndarray:
    """Frames no window covers (speech too short to embed) take the label of the nearest covered frame.

    >>> _nearest_covered(np.array([9, 1, 9, 9, 2]), np.array([False, True, False, False, True])).tolist()
    [1, 1, 1, 2, 2]
    """
    idx = np.flatnonzero(covered)
    if idx.size == 0 or idx.size == labels.size:
        return labels
    pos = np.clip(np.searchsorted(idx, np.arange(labels.size)), 1, idx.size - 1) if idx.size > 1 else \
        np.zeros(labels.size, int)
    left, right = idx[np.maximum(pos - 1, 0)], idx[pos]
    nearest = np.where(np.abs(np.arange(labels.size) - left) <= np.abs(right - np.arange(labels.size)), left, right)
    return labels[nearest]


def labels_to_turns(frames: np.ndarray, file_id: str) -> list[Turn]:
    """Runs of equal non-negative frame labels -> turns ``SPK00``, ``SPK01``, ... (by first appearance).

    >>> [(t.start, t.end, t.speaker) for t in labels_to_turns(np.array([-1, 0, 0, 1, -1]), "f")]
    [(0.01, 0.03, 'SPK00'), (0.03, 0.04, 'SPK01')]
    """
    if frames.size == 0:
        return []
    edges = np.flatnonzero(np.diff(frames)) + 1
    starts, ends = np.concatenate([[0], edges]), np.concatenate([edges, [frames.size]])
    names: dict[int, str] = {}
    turns = []
    for s, e in zip(starts, ends):
        label = int(frames[s])
        if label < 0:
            continue
        name = names.setdefault(label, f"SPK{len(names):02d}")
        turns.append(Turn(file_id, s * GRID_S, e * GRID_S, name))
    return merge_turns(turns)


@dataclass(frozen=True)
class SpeechEmbeddings:
    """What clustering works on: speech ``regions`` [K, 2] s, window ``spans`` [W, 2] s, ``embeddings`` [W, E]."""

    regions: np.ndarray
    spans: np.ndarray
    embeddings: np.ndarray
    duration_s: Seconds

    @property
    def speech_s(self) -> Seconds:
        return float(np.sum(self.regions[:, 1] - self.regions[:, 0])) if len(self.regions) else 0.0


def embed_speech(samples: np.ndarray, config: DiarizeConfig = DiarizeConfig(),
                 progress: Callable[[str], None] | None = None) -> SpeechEmbeddings:
    """VAD, then embeddings of sliding windows over the speech of 16 kHz mono audio [N]."""
    if progress:
        progress("vad")
    regions = speech_regions(samples, config)
    spans = chunk_spans(regions, config.window_s, config.hop_s, min(0.5, config.window_s))
    embedder = EMBEDDERS.build(config.embeddings)
    if progress:
        progress("embeddings")
    embeddings = embedder.embed_spans(samples, spans, ["?"] * len(spans)) if len(spans) else \
        np.zeros((0, embedder.dim), np.float32)
    return SpeechEmbeddings(regions, spans, embeddings, len(samples) / SAMPLE_RATE)


def assign_speakers(speech: SpeechEmbeddings, file_id: str, config: DiarizeConfig = DiarizeConfig()) -> list[Turn]:
    """Cluster the window embeddings and turn the frame labels into turns."""
    if len(speech.spans) == 0:
        return []
    labels = cluster_embeddings(speech.embeddings, speech.spans[:, 1] - speech.spans[:, 0], config)
    frames = frame_labels(speech.spans, speech.embeddings, labels, speech.regions, speech.duration_s, config)
    return labels_to_turns(frames, file_id)


@dataclass(frozen=True)
class Diarization:
    """Output of `diarize`: the turns and what was found on the way."""

    turns: list[Turn]
    speech_s: Seconds
    n_speakers: int
    n_windows: int
    duration_s: Seconds
    seconds: float  # wall-clock time


def diarization_table(results: Mapping[str, Diarization], config) -> tuple[str, list[str], list[list[str]]]:
    """(title, header, rows) of ``diarefine diarize``: per file, speakers, turns, speech, length and
    real-time factor; ``config`` (either built-in diarizer's) names the method."""
    rows = [[fid, str(r.n_speakers), str(len(r.turns)), f"{r.speech_s:.1f}", f"{r.duration_s:.1f}",
             f"{r.seconds / r.duration_s:.4f}"] for fid, r in results.items()]
    return (f"diarefine diarize ({config.describe()})",
            ["file", "speakers", "turns", "speech s", "audio s", "RTF"], rows)


def diarize(audio: str | Path, file_id: str | None = None, config: DiarizeConfig = DiarizeConfig(),
            progress: Callable[[str], None] | None = None) -> Diarization:
    """Diarize one audio file (any rate / channels; loaded at 16 kHz mono) -> `Diarization`.

    ``progress(stage)`` is called as each stage starts (``vad``, ``embeddings``, ``clustering``).
    """
    began = time.perf_counter()
    speech = embed_speech(load_audio(audio), config, progress)
    if progress:
        progress("clustering")
    turns = assign_speakers(speech, file_id or Path(audio).stem, config)
    return Diarization(turns, speech.speech_s, len({t.speaker for t in turns}), len(speech.spans),
                       speech.duration_s, time.perf_counter() - began)
