"""A diarizer in the manner of pyannote 3.x, on the shipped segmentation-3.0 and CAM++ networks.

10 s chunks every ``step_s`` -> segmentation-3.0's powerset decision -> up to 3 local speakers
per chunk (binary activity on its 16.875 ms frames) -> for one chunk in every
``embedding_step_s`` (CAM++ is most of the cost), one CAM++ embedding per local speaker from
``max_embed_s`` of the fbank frames where it speaks alone (all its frames when it never does;
skipped below ``min_embed_s``) -> agglomerative clustering (centroid linkage on L2-normalised
embeddings, cut where the euclidean distance between cluster means exceeds
``distance_threshold``, as pyannote 3.x does, or at a given / bounded number of speakers;
clusters of fewer embeddings than ``min_cluster_s`` of embedding hops join their nearest large
one) -> every embedded local speaker assigned to a cluster, two local speakers of one chunk
never to the same -> the local speakers of the other chunks stitched to the global speakers of
the embedded chunks they overlap, by frame agreement -> reconstruction: per frame of the file,
the clusters' activity averaged over the chunks that cover it and the local speaker count
averaged likewise; the ``round(count)`` most active clusters are on -> speakers with under
``min_speaker_s`` of speech joined to their nearest other (`fold_small_speakers`) -> resegmentation
(`resegment`: the single-speaker runs re-labelled from CAM++ embeddings of ``resegment_window_s``
windows, which splits the turns of two voices segmentation-3.0 merged into one local speaker; a
speaker whose windows form two unlike groups is split in two, `resegment.split_speakers`)
-> turns (overlap included).

Memory: chunks stream in batches (activity kept as int8 [chunks, 589, 3], fbank [frames, 80]
float32 for the file). The networks' batches run side by side on the cores, each on one torch
thread (`networks.parallel.map_batches`): output is deterministic and the same on any number of
cores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.optimize import linear_sum_assignment

from .audio import load_audio
from .diarize import Diarization, DiarizeConfig, centroids, diarize
from .networks.campplus import FBANK_HOP, FBANK_WINDOW, batch_size_for, kaldi_fbank, shared_campplus
from .networks.parallel import map_batches, spread_batch_size
from .networks.precision import autocast, check_precision
from .networks.pyannet import powerset_classes, shared_pyannet
from .networks.weights import CAMPPLUS_ZH_EN, SEGMENTATION_3, weights_path
from .resegment import apply_labels, relabel, single_speaker_windows, speaker_means, split_speakers
from .types import Seconds, Turn
from .units import SAMPLE_RATE, quantize_time


@dataclass(frozen=True)
class SegmentationDiarizeConfig:
    """Settings of `diarize_segmentation`. The steps and ``distance_threshold`` were chosen on
    ami-debug/train and simulated dev conversations 20-39 (``benchmarks/bench_diarize.py``; README)."""

    chunk_s: Seconds = 10.0  # what segmentation-3.0 was trained on
    step_s: Seconds = 2.5  # hop between chunks (pyannote: 1 s)
    embedding_step_s: Seconds = 10.0  # hop between the chunks whose speakers are embedded (others: stitched)
    batch_size: int = 16  # chunks / embeddings per network call (embeddings: fewer, `batch_size_for`)
    min_embed_s: Seconds = 0.4  # least speech of a local speaker to embed it
    max_embed_s: Seconds = 4.0  # speech per embedding: the middle of longer ones, shorter ones repeated
    distance_threshold: float = 0.9  # cut of the centroid linkage (euclidean, between means of unit vectors)
    min_cluster_s: Seconds = 3.0  # a cluster's embeddings times the embedding hop; smaller ones join a large one
    min_speaker_s: Seconds = 1.0  # speakers with less speech after reconstruction join their nearest other
    resegment_window_s: Seconds = 1.5  # CAM++ windows re-labelling the single-speaker runs; 0: no resegmentation
    resegment_hop_s: Seconds = 0.75
    resegment_iterations: int = 1  # rounds of nearest-centroid re-labelling
    split_cosine: float = 0.5  # a speaker whose windows form two groups less alike than this is split; 0: never
    num_speakers: int | None = None
    min_speakers: int = 1
    max_speakers: int = 20
    segmentation: str = ""  # weights; empty: the shipped segmentation-3.0
    embedding: str = ""  # weights; empty: the shipped CAM++
    precision: str = "float32"  # or "bfloat16": faster on CPUs with native bfloat16 (`networks.precision`)

    @property
    def min_cluster_size(self) -> int:
        """Least embeddings in a cluster of its own: ``min_cluster_s`` over the hop between embedded chunks."""
        hop = max(1, round(self.embedding_step_s / self.step_s)) * self.step_s
        return max(1, int(np.ceil(self.min_cluster_s / hop - 1e-9)))

    def describe(self) -> str:
        return "segmentation-3.0 + CAM++ + clustering"

    def __post_init__(self) -> None:
        if not 0 < self.step_s <= self.chunk_s:
            raise ValueError(f"step_s must be in (0, chunk_s], got {self.step_s}")
        if not 0 < self.embedding_step_s <= self.chunk_s:  # at most step_s: every chunk is embedded
            raise ValueError(f"embedding_step_s must be in (0, chunk_s], got {self.embedding_step_s}")
        if self.resegment_window_s < 0 or (self.resegment_window_s > 0 and self.resegment_hop_s <= 0):
            raise ValueError(f"need resegment_window_s >= 0 and resegment_hop_s > 0, got {self.resegment_window_s}, "
                             f"{self.resegment_hop_s}")
        if self.num_speakers is not None and self.num_speakers < 1:
            raise ValueError(f"num_speakers must be at least 1, got {self.num_speakers}")
        if not 1 <= self.min_speakers <= self.max_speakers:
            raise ValueError(f"need 1 <= min_speakers <= max_speakers, got {self.min_speakers}, {self.max_speakers}")
        if not 0 <= self.split_cosine < 1:
            raise ValueError(f"split_cosine must be in [0, 1), got {self.split_cosine}")
        check_precision(self.precision)


@dataclass(frozen=True)
class LocalSpeakers:
    """What segmentation-3.0 found: chunk starts [C] (s), binary activity [C, F, 3] on its frames."""

    starts_s: np.ndarray
    activity: np.ndarray  # int8 [C, F, S]
    frame_step_s: Seconds  # 16.875 ms
    frame_offset_s: Seconds  # centre of frame 0 from the chunk start


def chunk_starts(duration_s: Seconds, chunk_s: Seconds, step_s: Seconds) -> np.ndarray:
    """Start of every chunk: every ``step_s``, the last one flush with the end (one at 0 if shorter).

    >>> chunk_starts(25.0, 10.0, 5.0).tolist()
    [0.0, 5.0, 10.0, 15.0]
    >>> chunk_starts(12.5, 10.0, 5.0).tolist()
    [0.0, 2.5]
    """
    if duration_s <= chunk_s:
        return np.zeros(1)
    starts = np.arange(0.0, duration_s - chunk_s, step_s)
    return np.append(starts, duration_s - chunk_s) if duration_s - chunk_s - starts[-1] > 1e-9 else starts


Steps = Callable[[int, int], None]  # (items done, items in all), called after each batch


def _items_done(steps: Steps | None, batch_size: int, total: int) -> Callable[[int], None] | None:
    """`map_batches`'s ``done(k batches)`` as ``steps(items done, total)``."""
    return (lambda k: steps(min(k * batch_size, total), total)) if steps else None


def segment(audio: np.ndarray, config: SegmentationDiarizeConfig, steps: Steps | None = None) -> LocalSpeakers:
    """segmentation-3.0 over the chunks of ``audio`` (float32 [N], 16 kHz) -> `LocalSpeakers`; batches of up to
    ``config.batch_size`` chunks side by side on the cores (`networks.parallel.map_batches`; a short file's
    few chunks are spread over them, `spread_batch_size`)."""
    network = shared_pyannet(str(weights_path(config.segmentation, SEGMENTATION_3)))
    chunk = int(round(config.chunk_s * SAMPLE_RATE))
    starts = chunk_starts(len(audio) / SAMPLE_RATE, config.chunk_s, config.step_s)
    padded = np.pad(audio, (0, chunk - len(audio))) if len(audio) < chunk else audio  # no copy of a long file
    classes = powerset_classes(network.config.n_speakers, network.config.max_speakers_per_frame)
    to_speakers = np.zeros((len(classes), network.config.n_speakers), np.int8)
    for c, speakers in enumerate(classes):
        to_speakers[c, list(speakers)] = 1

    size = spread_batch_size(len(starts), config.batch_size)

    @torch.inference_mode()
    def activity_of_batch(lo: int) -> np.ndarray:
        """The powerset decision of chunks lo.. of the batch as local speakers' activity [B, F, S]."""
        first = np.round(starts[lo:lo + size] * SAMPLE_RATE).astype(int)
        stretch = torch.from_numpy(padded[first[0]:first[-1] + chunk])  # the batch's chunks share its sinc filters
        with autocast(config.precision):
            log_probs = network.layers_of_chunks([(stretch, torch.from_numpy(first - first[0]))], chunk).log_probs
        return to_speakers[log_probs.argmax(-1).numpy()]

    activity = map_batches(activity_of_batch, range(0, len(starts), size), done=_items_done(steps, size, len(starts)))
    step = network.frame_step / SAMPLE_RATE
    return LocalSpeakers(starts, np.concatenate(activity), step, network.receptive_field / 2 / SAMPLE_RATE)


def embed_local_speakers(fbank: np.ndarray, local: LocalSpeakers, config: SegmentationDiarizeConfig,
                         chunks: np.ndarray | None = None, steps: Steps | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    """CAM++ embedding of every (chunk, local speaker) with enough speech, in the ``chunks`` given
    (indices; default all), from the file's ``fbank`` [T, 80] (`kaldi_fbank`, 10 ms hop)
    -> (embeddings [K, 192] L2-normalised, their (chunk, speaker) indices [K, 2])."""
    fbank_s = FBANK_HOP / SAMPLE_RATE
    n_chunks, n_frames, n_speakers = local.activity.shape
    min_frames = int(config.min_embed_s / local.frame_step_s)
    max_frames = int(round(config.max_embed_s / fbank_s))
    pieces, index = [], []  # [max_frames, 80] mean-normalised fbank of each embedded local speaker
    for c in range(n_chunks) if chunks is None else chunks:
        frames = local.activity[c]
        alone = frames.sum(axis=1) == 1
        # fbank frames of this chunk -> the nearest segmentation frame
        t = np.arange(int(local.starts_s[c] / fbank_s),
                      min(len(fbank), int((local.starts_s[c] + config.chunk_s) / fbank_s)))
        nearest = np.clip(np.round((t * fbank_s + FBANK_WINDOW / 2 / SAMPLE_RATE - local.starts_s[c] - local.frame_offset_s)
                                   / local.frame_step_s).astype(int), 0, n_frames - 1)
        for s in range(n_speakers):
            mask = (frames[:, s] == 1) & alone
            if mask.sum() < min_frames:
                mask = frames[:, s] == 1
            if mask.sum() < min_frames:
                continue
            selected = fbank[t[mask[nearest]]]
            if len(selected) < 8:
                continue
            pieces.append(fixed_length(selected - selected.mean(axis=0, keepdims=True), max_frames))
            index.append((c, s))
    return embed_pieces(pieces, config, steps), np.array(index).reshape(-1, 2)


def embed_pieces(pieces: Sequence[np.ndarray], config: SegmentationDiarizeConfig,
                 steps: Steps | None = None) -> np.ndarray:
    """CAM++ embeddings [K, 192], L2-normalised, of mean-normalised fbank pieces of one length [T, 80]
    (a list, or a lazy sequence such as `FbankWindows`), in batches of about
    `networks.campplus.BATCH_FRAMES` frames side by side on the cores (`networks.parallel.map_batches`)."""
    network = shared_campplus(str(weights_path(config.embedding, CAMPPLUS_ZH_EN)))
    if not pieces:
        return np.zeros((0, network.config.embedding_size), np.float32)
    size = spread_batch_size(len(pieces), batch_size_for(len(pieces[0]), config.batch_size))

    @torch.inference_mode()
    def embed_batch(lo: int) -> np.ndarray:
        batch = np.stack([pieces[i] for i in range(lo, min(lo + size, len(pieces)))])  # cut here: bounded memory
        with autocast(config.precision):
            return network(torch.from_numpy(batch)).float().numpy()

    emb = np.concatenate(map_batches(embed_batch, range(0, len(pieces), size),
                                     done=_items_done(steps, size, len(pieces))))
    return emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(1e-8)


def resegmented(active: np.ndarray, local: LocalSpeakers, fbank: np.ndarray, embeddings: np.ndarray,
                labels: np.ndarray, config: SegmentationDiarizeConfig, steps: Steps | None = None) -> np.ndarray:
    """``active`` [F, K] (on ``local``'s frames) with its single-speaker runs re-labelled from CAM++
    embeddings of ``config.resegment_window_s`` windows (`resegment`); the clustering's centroids
    (of ``embeddings`` [N, 192] by ``labels`` [N]) stand in for speakers with too few windows. With
    ``config.split_cosine``, a speaker whose windows hold two voices is split first
    (`resegment.split_speakers`; never past ``max_speakers``, nor with ``num_speakers`` given):
    then [F, K'] with K' >= K."""
    may_split = config.split_cosine > 0 and config.num_speakers is None and active.shape[1] < config.max_speakers
    if not config.resegment_window_s or active.shape[1] < (1 if may_split else 2):
        return active
    windows = single_speaker_windows(active, local.frame_step_s, local.frame_offset_s, config.resegment_window_s,
                                     config.resegment_hop_s)
    if not len(windows.starts_s):
        return active
    fbank_s = FBANK_HOP / SAMPLE_RATE
    n = int(round(config.resegment_window_s / fbank_s))
    first = np.clip(np.round(windows.starts_s / fbank_s).astype(int), 0, max(0, len(fbank) - n))
    window_embeddings = embed_pieces(FbankWindows(fbank, first, n), config, steps)
    means = centroids(embeddings, labels, np.arange(active.shape[1]))
    speakers = relabel(window_embeddings, windows.speakers, means, config.resegment_iterations)
    if may_split:
        split = split_speakers(window_embeddings, speakers, speaker_means(window_embeddings, speakers, means),
                               config.split_cosine, max_new=config.max_speakers - active.shape[1])
        if split.max() >= active.shape[1]:  # new speakers, with their own windows' means
            new = np.arange(active.shape[1], split.max() + 1)
            means = np.concatenate([means, centroids(window_embeddings, split, new)])
            active = np.pad(active, ((0, 0), (0, len(new))))
        if not np.array_equal(split, speakers):  # one more round of re-labelling
            speakers = relabel(window_embeddings, split, means)
    return apply_labels(active, windows, speakers, local.frame_step_s, local.frame_offset_s, config.resegment_window_s)


class FbankWindows(Sequence):
    """The mean-normalised fbank windows ``fbank[f:f + n]`` [n, 80] for each start frame ``f`` of
    ``first``, cut when read: a long file's thousands of windows never sit in memory at once."""

    def __init__(self, fbank: np.ndarray, first: np.ndarray, n: int) -> None:
        self.fbank, self.first, self.n = fbank, first, n

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, i: int) -> np.ndarray:
        window = self.fbank[self.first[i]:self.first[i] + self.n]
        return window - window.mean(axis=0, keepdims=True)


def fixed_length(frames: np.ndarray, n: int) -> np.ndarray:
    """``frames`` [T, D] as exactly ``n`` frames: the middle n of longer ones, shorter ones repeated
    end to end (their frame statistics, which CAM++ pools, stay those of the speech), so that
    embeddings run in batches.

    >>> fixed_length(np.arange(3)[:, None], 7)[:, 0].tolist()
    [0, 1, 2, 0, 1, 2, 0]
    >>> fixed_length(np.arange(10)[:, None], 4)[:, 0].tolist()
    [3, 4, 5, 6]
    """
    if len(frames) >= n:
        first = (len(frames) - n) // 2
        return frames[first:first + n]
    return np.resize(frames, (n, *frames.shape[1:]))


def embedded_chunks(n_chunks: int, step_s: Seconds, embedding_step_s: Seconds) -> np.ndarray:
    """Indices of the chunks whose local speakers get embeddings: one every ``embedding_step_s``
    (rounded to whole chunk steps) and the last one.

    >>> embedded_chunks(10, 2.5, 10.0).tolist()
    [0, 4, 8, 9]
    """
    every = max(1, int(round(embedding_step_s / step_s)))
    chosen = np.arange(0, n_chunks, every)
    return chosen if chosen[-1] == n_chunks - 1 else np.append(chosen, n_chunks - 1)


def stitch(local: LocalSpeakers, clusters: np.ndarray, embedded: np.ndarray) -> np.ndarray:
    """Clusters [C, S] of the local speakers of every chunk, those of the chunks not ``embedded``
    (bool [C]) filled in from the embedded chunks that overlap them: a local speaker goes to the
    global speaker whose activity there agrees with its own on the most frames (one-to-one per
    chunk, Hungarian); one that agrees with none stays -1. Segmentation-3.0 sees the same audio
    in both chunks, so their local speakers line up without a second embedding."""
    n_chunks, n_frames, n_local = local.activity.shape
    n_global = int(clusters.max(initial=-1)) + 1
    out = clusters.copy()
    if n_global == 0:
        return out
    one_hot = np.eye(n_global + 1, dtype=np.float32)[:, :n_global]  # cluster -1 -> no global speaker
    anchors = np.flatnonzero(embedded)
    first_frame = np.round(local.starts_s / local.frame_step_s).astype(int)
    for c in np.flatnonzero(~embedded):
        agreement = np.zeros((n_local, n_global), np.float32)  # frames where both are active
        for e in anchors[np.abs(first_frame[anchors] - first_frame[c]) < n_frames]:
            d = first_frame[c] - first_frame[e]  # frame f of chunk c is frame f + d of chunk e
            mine = local.activity[c, max(0, -d):n_frames - max(0, d)].astype(np.float32)
            theirs = local.activity[e, max(0, d):n_frames + min(0, d)].astype(np.float32) @ one_hot[clusters[e]]
            agreement += mine.T @ theirs
        rows = np.flatnonzero(agreement.sum(axis=1) > 0)
        if len(rows):
            r, k = linear_sum_assignment(-agreement[rows])
            keep = agreement[rows[r], k] > 0
            out[c, rows[r][keep]] = k[keep]
    return out


def cut_by_merge_order(tree: np.ndarray, n_clusters: int) -> np.ndarray:
    """Labels [N] (0..k-1, in order of first member) of the k = ``n_clusters`` clusters (at most N) left
    after the first N - k merges of a scipy linkage ``tree`` [N - 1, 4].

    ``fcluster(tree, k, criterion="maxclust")`` cuts at a height instead, and on the non-monotonic
    trees of centroid linkage (a merge lower than the one before it) that can leave far fewer
    clusters than asked for: one speaker for ``--num-speakers 2``. (scipy's ``cut_tree`` assumes a
    monotonic tree too: on such trees it missed the asked count in 484 of 600 tries.)

    >>> tree = np.array([[0, 1, 0.1, 2], [2, 3, 0.2, 2], [4, 5, 0.9, 4]])
    >>> cut_by_merge_order(tree, 2).tolist(), cut_by_merge_order(tree, 3).tolist()
    ([0, 0, 1, 1], [0, 0, 1, 2])
    """
    n = len(tree) + 1
    k = min(max(n_clusters, 1), n)
    parent = np.arange(2 * n - 1)  # leaves 0..n-1, then merge i makes node n + i
    for i, (a, b) in enumerate(tree[:n - k, :2].astype(int)):
        parent[[a, b]] = n + i
    root = parent
    while not np.array_equal(root[root], root):  # follow every node up to its last merge
        root = root[root]
    _, first, labels = np.unique(root[:n], return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[labels]  # numbered in order of their first member


def cluster(embeddings: np.ndarray, config: SegmentationDiarizeConfig) -> np.ndarray:
    """Cluster labels [K] (0..n-1, largest cluster first) of L2-normalised embeddings [K, D]."""
    if len(embeddings) < 2:
        return np.zeros(len(embeddings), int)
    tree = linkage(embeddings, method="centroid", metric="euclidean")
    labels = fcluster(tree, config.distance_threshold, criterion="distance") - 1
    sizes = np.bincount(labels)
    large = np.flatnonzero(sizes >= min(config.min_cluster_size, sizes.max()))
    n = len(large)
    wanted = config.num_speakers or min(max(n, config.min_speakers), config.max_speakers)
    if wanted != n:
        labels = cut_by_merge_order(tree, wanted)
        large = np.unique(labels)
    labels = np.argmax(embeddings @ centroids(embeddings, labels, large).T, axis=1)  # small ones join a large one
    order = np.argsort(-np.bincount(labels, minlength=len(large)), kind="stable")
    return np.argsort(order)[labels]


def assign(embeddings: np.ndarray, index: np.ndarray, labels: np.ndarray, n_chunks: int,
           n_local: int) -> np.ndarray:
    """Cluster of every (chunk, local speaker) [C, S] (-1: not embedded), two local speakers of one
    chunk never in the same cluster (Hungarian on the similarity to the centroids)."""
    out = np.full((n_chunks, n_local), -1)
    if len(labels) == 0:
        return out
    similarity = embeddings @ centroids(embeddings, labels, np.arange(labels.max() + 1)).T
    for c in np.unique(index[:, 0]):
        rows = np.flatnonzero(index[:, 0] == c)
        r, k = linear_sum_assignment(-similarity[rows])
        out[c, index[rows[r], 1]] = k
    return out


def reconstruct(local: LocalSpeakers, clusters: np.ndarray, duration_s: Seconds) -> tuple[np.ndarray, Seconds]:
    """Binary activity [F, K] of the K global speakers on the file's frame grid (step ``frame_step_s``)."""
    n_chunks, n_frames, n_local = local.activity.shape
    n_speakers = clusters.max() + 1 if clusters.size and clusters.max() >= 0 else 0
    step = local.frame_step_s
    total = int(np.ceil(duration_s / step)) + 1
    score = np.zeros((total, max(n_speakers, 1)), np.float32)
    count = np.zeros(total, np.float32)
    covered = np.zeros(total, np.float32)
    for c in range(n_chunks):
        first = int(round(local.starts_s[c] / step))
        span = slice(first, min(total, first + n_frames))
        width = span.stop - span.start
        frames = local.activity[c, :width]
        covered[span] += 1
        count[span] += frames.sum(axis=1)
        for s in range(n_local):
            if clusters[c, s] >= 0:
                score[span, clusters[c, s]] += frames[:, s]
    covered = np.maximum(covered, 1)
    score, count = score / covered[:, None], np.rint(count / covered).astype(int)
    ranked = np.argsort(-score, axis=1, kind="stable")
    active = np.zeros_like(score, dtype=bool)
    for k in range(min(score.shape[1], int(count.max(initial=0)))):
        rows = np.flatnonzero((count > k) & (score[np.arange(total), ranked[:, k]] > 0))
        active[rows, ranked[rows, k]] = True
    return active[:, :n_speakers], step


def fold_small_speakers(active: np.ndarray, embeddings: np.ndarray, labels: np.ndarray, min_frames: int,
                        keep: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Speakers of ``active`` [F, K] on fewer than ``min_frames`` frames joined to the nearest (centroid
    cosine) of the others, keeping at least ``keep`` -> (active [F, K'], labels [N] of the embeddings renumbered)."""
    speech = active.sum(axis=0)
    order = np.argsort(-speech, kind="stable")
    small = [k for k in order[max(keep, 1):] if speech[k] < min_frames]
    if not small:
        return active, labels
    large = np.array([k for k in range(active.shape[1]) if k not in small])
    means = centroids(embeddings, labels, np.arange(active.shape[1]))
    target = np.arange(active.shape[1])
    for k in small:
        target[k] = large[np.argmax(means[large] @ means[k])]
    merged = np.zeros((len(active), len(large)), bool)
    index = np.searchsorted(large, target)
    for k in range(active.shape[1]):
        merged[:, index[k]] |= active[:, k]
    # a cluster no local speaker ended up in (the per-chunk assignment can pass one over) has no
    # frames: its embeddings keep a number of their own, past the speakers
    beyond = np.arange(active.shape[1], max(active.shape[1], labels.max(initial=-1) + 1))
    index = np.concatenate([index, len(large) + beyond - active.shape[1]])
    return merged, index[labels]


def activity_to_turns(active: np.ndarray, step_s: Seconds, offset_s: Seconds, duration_s: Seconds,
                      file_id: str) -> list[Turn]:
    """Turns of each speaker's runs of active frames (frame i covers its centre +/- step / 2)."""
    turns = []
    for k in range(active.shape[1]):
        padded = np.concatenate([[False], active[:, k], [False]])
        edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
        for a, b in zip(edges[::2], edges[1::2]):
            start = max(0.0, offset_s + (a - 0.5) * step_s)
            end = min(duration_s, offset_s + (b - 0.5) * step_s)
            if quantize_time(end) > quantize_time(start):
                turns.append(Turn(file_id, start, end, f"SPK{k:02d}"))
    return sorted(turns)


def diarize_segmentation(audio: str | Path, file_id: str | None = None,
                         config: SegmentationDiarizeConfig = SegmentationDiarizeConfig(),
                         progress: Callable[[str, int, int], None] | None = None,
                         cache: dict | None = None) -> Diarization:
    """Diarize one audio file (any rate / channels) with segmentation-3.0 + CAM++ + clustering.

    ``progress(stage, done, total)`` follows the batches of ``segmentation`` (chunks) and
    ``embeddings`` (local speakers), then ``clustering``, then those of ``resegmentation`` (windows).

    ``cache`` (a dict the caller keeps) holds each file's segmentation and embeddings, so that
    tuning the clustering re-runs only the clustering; the reported time includes theirs."""
    began = time.perf_counter()
    key = (str(audio), config.chunk_s, config.step_s, config.embedding_step_s, config.min_embed_s,
           config.max_embed_s, config.segmentation, config.embedding, config.precision)
    if cache is not None and key in cache:
        duration, local, embedded, fbank, embeddings, index, spent = cache[key]
    else:
        samples = load_audio(audio)
        duration = len(samples) / SAMPLE_RATE
        local = segment(samples, config, partial(progress, "segmentation") if progress else None)
        embedded = np.zeros(len(local.starts_s), bool)
        embedded[embedded_chunks(len(embedded), config.step_s, config.embedding_step_s)] = True
        fbank = kaldi_fbank(samples)  # [T, 80], 10 ms hop
        embeddings, index = embed_local_speakers(fbank, local, config, np.flatnonzero(embedded),
                                                 partial(progress, "embeddings") if progress else None)
        spent = time.perf_counter() - began
        if cache is not None:
            cache[key] = (duration, local, embedded, fbank, embeddings, index, spent)
        began = time.perf_counter()
    if progress:
        progress("clustering", 0, 1)
    labels = cluster(embeddings, config)
    clusters = stitch(local, assign(embeddings, index, labels, *local.activity.shape[::2]), embedded)
    active, step = reconstruct(local, clusters, duration)
    if config.min_speaker_s > 0 and config.num_speakers is None and len(labels):
        active, labels = fold_small_speakers(active, embeddings, labels, int(config.min_speaker_s / step),
                                             config.min_speakers)
    active = resegmented(active, local, fbank, embeddings, labels, config,
                         partial(progress, "resegmentation") if progress else None)
    turns = activity_to_turns(active, step, local.frame_offset_s, duration, file_id or Path(audio).stem)
    return Diarization(turns, float(active.any(axis=1).sum() * step), len({t.speaker for t in turns}),
                       len(local.starts_s), duration, spent + time.perf_counter() - began)


def run_diarizer(audio: str | Path, file_id: str | None, config: "SegmentationDiarizeConfig | DiarizeConfig",
                 progress: Callable[[str, int, int], None] | None = None) -> Diarization:
    """Diarize with the built-in diarizer that ``config`` configures (`SegmentationDiarizeConfig`:
    this module's; `diarize.DiarizeConfig`: the simple silero-vad + resemblyzer one, whose
    ``progress`` reports its stages only, with done = total = 0)."""
    if isinstance(config, SegmentationDiarizeConfig):
        return diarize_segmentation(audio, file_id, config, progress)
    return diarize(audio, file_id, config, (lambda stage: progress(stage, 0, 0)) if progress else None)


def diarize_item(config: "SegmentationDiarizeConfig | DiarizeConfig", item: tuple[str, Path]) -> Diarization:
    """`run_diarizer` on one (file id, audio path): the per-file job of ``diarefine diarize``."""
    file_id, audio = item
    return run_diarizer(audio, file_id, config)
