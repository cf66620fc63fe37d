"""Resegmentation: re-label a frame-level diarization's single-speaker runs from short speaker embeddings.

segmentation-3.0 sometimes gives two similar voices of one 10 s chunk a single local speaker, and
then both of their turns land in one cluster: no clustering can undo that. Here every run of
frames where exactly one speaker is active, at least ``window_s`` long, is cut into windows of
``window_s`` every ``hop_s``; each window's embedding goes to the speaker whose centroid *of
windows* (the mean of the windows now labelled with it: same length, same kind of estimate) is
nearest, starting from the current labels, for ``iterations`` rounds; each frame of a run then
takes the label of the nearest window centre. Overlapped speech and short runs are left alone.
When both voices ended up in one speaker, nearest-centroid re-labelling has nowhere to send the
second: `split_speakers` splits a speaker whose windows form two groups less alike than one voice's
(a half whose voice has a speaker already joins it).
The functions are pure (arrays in, arrays out); `segmentation_diarizer` embeds the windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .types import Seconds


@dataclass(frozen=True)
class RunWindows:
    """Windows inside the single-speaker runs of an activity matrix."""

    starts_s: np.ndarray  # [W] start of each window (s)
    speakers: np.ndarray  # [W] the speaker active over the window's run
    run_of: np.ndarray  # [W] index of the window's run in ``runs``
    runs: np.ndarray  # [R, 2] first frame and one past the last frame of each run


def single_speaker_windows(active: np.ndarray, step_s: Seconds, offset_s: Seconds, window_s: Seconds,
                           hop_s: Seconds) -> RunWindows:
    """Windows of ``window_s`` every ``hop_s`` in each run of frames of ``active`` (bool [F, K], frame i
    centred on ``offset_s + i * step_s``) where one speaker alone is on, centred in the run.

    >>> active = np.zeros((10, 2), bool); active[1:9, 0] = True
    >>> w = single_speaker_windows(active, 1.0, 0.0, 4.0, 2.0)
    >>> w.starts_s.tolist(), w.speakers.tolist(), w.runs.tolist()
    ([0.5, 2.5, 4.5], [0, 0, 0], [[1, 9]])
    """
    who = np.where(active.sum(axis=1) == 1, active.argmax(axis=1), -1)
    edges = np.flatnonzero(np.diff(np.concatenate([[-2], who, [-2]])))
    starts, speakers, run_of, runs = [], [], [], []
    for first, end in zip(edges[:-1], edges[1:]):
        length = (end - first) * step_s
        if who[first] < 0 or length < window_s:
            continue
        n = int(np.floor((length - window_s) / hop_s + 1e-9)) + 1
        begin = offset_s + (first - 0.5) * step_s + (length - window_s - (n - 1) * hop_s) / 2
        starts.append(begin + hop_s * np.arange(n))
        speakers.append(np.full(n, who[first]))
        run_of.append(np.full(n, len(runs)))
        runs.append((first, end))
    if not runs:
        empty = np.zeros(0, int)
        return RunWindows(np.zeros(0), empty, empty, np.zeros((0, 2), int))
    return RunWindows(np.concatenate(starts), np.concatenate(speakers), np.concatenate(run_of), np.array(runs))


def relabel(embeddings: np.ndarray, speakers: np.ndarray, centroids: np.ndarray, iterations: int = 1,
            min_windows: int = 3) -> np.ndarray:
    """New speaker of each window: the nearest (cosine) centroid of the windows labelled with each
    speaker, from ``speakers`` [W] on, ``iterations`` times. ``embeddings`` [W, E] are L2-normalised;
    ``centroids`` [K, E] (unit; the clustering's) stand in for a speaker with under ``min_windows`` windows.

    >>> e = np.array([[1, 0], [1, 0], [1, 0], [0, 1], [0, 1], [0, 1], [0, 1]], float)
    >>> relabel(e, np.array([0, 0, 0, 0, 1, 1, 1]), np.eye(2)).tolist()
    [0, 0, 0, 1, 1, 1, 1]
    """
    labels = speakers.copy()
    for _ in range(iterations):
        labels = np.argmax(embeddings @ speaker_means(embeddings, labels, centroids, min_windows).T, axis=1)
    return labels


def speaker_means(embeddings: np.ndarray, labels: np.ndarray, fallback: np.ndarray, min_windows: int = 3) -> np.ndarray:
    """[K, E] unit mean of the windows [W, E] labelled with each speaker; ``fallback`` [K, E] (unit)
    for a speaker with under ``min_windows`` windows."""
    means = fallback.astype(np.float64)
    for k in range(len(fallback)):
        if (labels == k).sum() >= min_windows:
            mean = embeddings[labels == k].mean(axis=0)
            means[k] = mean / max(np.linalg.norm(mean), 1e-8)
    return means


def halves(embeddings: np.ndarray, iterations: int = 10) -> np.ndarray:
    """Two groups [W] (0 / 1) of unit embeddings [W, E]: split by the sign of their projection on
    the first principal direction, then spherical 2-means; deterministic, and one stray window
    cannot take a group of its own as a farthest-point start would.

    >>> e = np.array([[1, 0], [0.9, 0.1], [1, 0.1], [0, 1], [0.1, 0.9]], float)
    >>> halves(e / np.linalg.norm(e, axis=1, keepdims=True)).tolist()
    [0, 0, 0, 1, 1]
    """
    centred = embeddings - embeddings.mean(axis=0)
    direction = np.linalg.svd(centred, full_matrices=False)[2][0]
    labels = (centred @ direction > 0).astype(int)
    labels = labels if labels[0] == 0 else 1 - labels  # the group of the first window is 0
    for _ in range(iterations):
        if labels.min() == labels.max():
            break
        means = np.stack([embeddings[labels == g].mean(axis=0) for g in (0, 1)])
        new = np.argmax(embeddings @ means.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
    return labels


def split_speakers(embeddings: np.ndarray, labels: np.ndarray, means: np.ndarray, max_cosine: float,
                   join_cosine: float = 0.5, min_windows: int = 4, max_new: int | None = None) -> np.ndarray:
    """Labels [W] with each speaker whose windows fall into two groups (`halves`) of at least
    ``min_windows`` whose mean embeddings have a cosine under ``max_cosine`` split in two:
    segmentation-3.0 and the clustering can put two similar voices in one speaker, and then no
    re-labelling among the existing speakers separates them. The half nearer another speaker
    (``means`` [K, E], unit: `speaker_means`) joins it when their cosine reaches ``join_cosine``
    (the voice has a speaker already); otherwise the second half becomes a new speaker, numbered
    after the others, at most ``max_new`` of them, the least alike halves first. One voice's
    windows split this way keep a cosine of 0.64-0.90 between the halves on the tuning sets, two
    voices' means 0.31 at most (docs/RESULTS.md, "Built-in diarizers: choices and the md-eval floor").

    >>> e = np.array([[1, 0]] * 4 + [[0, 1]] * 4, float)
    >>> split_speakers(e, np.zeros(8, int), np.array([[0.7, 0.7]]), 0.5).tolist()
    [0, 0, 0, 0, 1, 1, 1, 1]
    >>> split_speakers(e, np.zeros(8, int), np.array([[0.7, 0.7]]), 0.5, min_windows=5).tolist()
    [0, 0, 0, 0, 0, 0, 0, 0]
    >>> split_speakers(e, np.zeros(8, int), np.array([[0.7, 0.7], [0.6, 0.8], [0, 1]]), 0.5).tolist()
    [0, 0, 0, 0, 2, 2, 2, 2]
    """
    out = labels.copy()
    new_speakers = []  # (cosine of the halves, windows of the second half)
    for k in np.unique(labels):
        mine = np.flatnonzero(labels == k)
        if len(mine) < 2 * min_windows:
            continue
        groups = halves(embeddings[mine])
        if min(np.bincount(groups, minlength=2)) < min_windows:
            continue
        halves_means = np.stack([embeddings[mine[groups == g]].mean(axis=0) for g in (0, 1)])
        halves_means /= np.maximum(np.linalg.norm(halves_means, axis=1, keepdims=True), 1e-8)
        if halves_means[0] @ halves_means[1] >= max_cosine:
            continue
        similarity = halves_means @ means.T  # [2, K]
        similarity[:, k] = -np.inf
        half, other = np.unravel_index(np.argmax(similarity), similarity.shape)
        if similarity[half, other] >= join_cosine:  # -inf when there is no other speaker
            out[mine[groups == half]] = other
        else:
            new_speakers.append((float(halves_means[0] @ halves_means[1]), mine[groups == 1]))
    new_speakers.sort(key=lambda c: c[0])
    next_label = int(max(labels.max(initial=-1), len(means) - 1)) + 1
    for _, second in new_speakers[:max_new]:
        out[second] = next_label
        next_label += 1
    return out


def apply_labels(active: np.ndarray, windows: RunWindows, labels: np.ndarray, step_s: Seconds,
                 offset_s: Seconds, window_s: Seconds) -> np.ndarray:
    """``active`` [F, K] with each run's frames given to the label of the nearest window centre.

    >>> active = np.zeros((10, 2), bool); active[1:9, 0] = True
    >>> w = single_speaker_windows(active, 1.0, 0.0, 4.0, 2.0)
    >>> apply_labels(active, w, np.array([0, 0, 1]), 1.0, 0.0, 4.0).argmax(axis=1)[1:9].tolist()
    [0, 0, 0, 0, 0, 1, 1, 1]
    """
    out = active.copy()
    centres = windows.starts_s + window_s / 2
    for r, (first, end) in enumerate(windows.runs):
        mine = np.flatnonzero(windows.run_of == r)
        if (labels[mine] == windows.speakers[mine]).all():
            continue
        times = offset_s + np.arange(first, end) * step_s
        nearest = mine[np.abs(times[:, None] - centres[mine][None]).argmin(axis=1)]
        out[first:end] = False
        out[np.arange(first, end), labels[nearest]] = True
    return out
