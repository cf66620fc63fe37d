"""Resegmentation of single-speaker runs (`diarefine.resegment`) on made-up activity and embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from diarefine.resegment import apply_labels, halves, relabel, single_speaker_windows, speaker_means, split_speakers
from diarefine.segmentation_diarizer import SegmentationDiarizeConfig

STEP = 0.1  # s per frame


def activity() -> np.ndarray:
    """[100, 2] frames: speaker 0 alone on 0-49, both on 50-59, speaker 1 alone on 60-64 (short), none after."""
    active = np.zeros((100, 2), bool)
    active[:60, 0] = True
    active[50:65, 1] = True
    return active


def test_windows_lie_inside_long_single_speaker_runs_only() -> None:
    w = single_speaker_windows(activity(), STEP, 0.0, window_s=1.0, hop_s=0.5)
    assert w.runs.tolist() == [[0, 50]]  # overlap and the 0.5 s run of speaker 1 get none
    assert np.all(w.speakers == 0) and np.all(w.run_of == 0)
    run_start, run_end = -0.5 * STEP, 49.5 * STEP
    assert w.starts_s[0] >= run_start - 1e-9 and w.starts_s[-1] + 1.0 <= run_end + 1e-9
    assert np.allclose(np.diff(w.starts_s), 0.5) and len(w.starts_s) == 9
    # centred: the same slack at both ends
    assert w.starts_s[0] - run_start == pytest.approx(run_end - (w.starts_s[-1] + 1.0))


def test_no_single_speaker_run_long_enough_gives_no_windows() -> None:
    w = single_speaker_windows(activity(), STEP, 0.0, window_s=6.0, hop_s=1.0)
    assert len(w.starts_s) == 0 and w.runs.shape == (0, 2)


def test_a_merged_run_is_split_between_the_two_voices() -> None:
    """Speaker 0's run holds another voice in its second half, closer to speaker 1's windows."""
    rng = np.random.default_rng(0)
    voices = np.eye(8)[:2]
    embeddings = np.concatenate([voices[[0] * 6], voices[[1] * 6], voices[[1] * 6]]) + 0.05 * rng.normal(size=(18, 8))
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    current = np.array([0] * 12 + [1] * 6)  # windows 6-11: the other voice, labelled speaker 0
    labels = relabel(embeddings, current, centroids=voices)
    assert labels.tolist() == [0] * 6 + [1] * 12


def test_a_speaker_with_few_windows_falls_back_to_the_clustering_centroid() -> None:
    embeddings = np.array([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8]])
    current = np.array([0, 0, 0])  # speaker 1 has no window: the clustering's centroid stands in for it
    assert relabel(embeddings, current, centroids=np.array([[1.0, 0.0], [0.0, 1.0]])).tolist() == [0, 0, 0]
    assert relabel(embeddings, current, centroids=np.array([[1.0, 0.0], [0.6, 0.8]])).tolist() == [0, 0, 1]


def test_relabelled_windows_move_their_frames_and_leave_the_rest() -> None:
    active = activity()
    w = single_speaker_windows(active, STEP, 0.0, window_s=1.0, hop_s=0.5)
    labels = np.where(np.arange(len(w.starts_s)) >= 5, 1, 0)
    out = apply_labels(active, w, labels, STEP, 0.0, 1.0)
    assert np.all(out.sum(axis=1)[:50] == 1)  # still one speaker per frame in the run
    switch = np.flatnonzero(out[:50, 1])[0]
    centres = w.starts_s + 0.5
    assert centres[4] < switch * STEP < centres[5] and np.all(out[switch:50, 1])
    assert np.array_equal(out[50:], active[50:])  # overlap and the short run untouched
    assert np.array_equal(apply_labels(active, w, w.speakers, STEP, 0.0, 1.0), active)


def noisy(voices: np.ndarray, who: list[int], spread: float, seed: int = 0) -> np.ndarray:
    """Unit embeddings [W, E] of windows of the listed ``voices`` rows, with gaussian noise."""
    rng = np.random.default_rng(seed)
    e = voices[who] + spread * rng.normal(size=(len(who), voices.shape[1]))
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def split(embeddings: np.ndarray, labels: np.ndarray, **options) -> np.ndarray:
    """`split_speakers` with each speaker's own windows' mean as its mean."""
    own = speaker_means(embeddings, labels, np.zeros((labels.max() + 1, embeddings.shape[1])), min_windows=1)
    return split_speakers(embeddings, labels, own, **options)


def test_a_speaker_holding_two_voices_is_split_and_one_voice_is_not() -> None:
    voices = np.eye(16)[:3]
    two = noisy(voices, [0] * 7 + [1] * 5, 0.1)
    assert sorted(np.bincount(halves(two)).tolist()) == [5, 7]
    labels = split(np.concatenate([two, noisy(voices, [2] * 10, 0.1, seed=1)]), np.array([0] * 12 + [1] * 10),
                   max_cosine=0.5)
    assert labels[:7].tolist() == [0] * 7 and labels[7:12].tolist() == [2] * 5  # the new speaker: after the others
    assert labels[12:].tolist() == [1] * 10  # one voice, however noisy its windows, stays whole
    one = noisy(voices, [0] * 20, 0.3, seed=2)
    assert split(one, np.zeros(20, int), max_cosine=0.5).tolist() == [0] * 20


def test_a_stray_window_does_not_make_a_speaker() -> None:
    voices = np.eye(16)[:2]
    embeddings = noisy(voices, [0] * 11 + [1], 0.05)
    assert split(embeddings, np.zeros(12, int), max_cosine=0.5).tolist() == [0] * 12
    assert split(embeddings[:7], np.zeros(7, int), max_cosine=0.99).tolist() == [0] * 7  # under 2 x 4 windows


def test_resegmentation_settings_are_checked() -> None:
    assert SegmentationDiarizeConfig(resegment_window_s=0.0).resegment_window_s == 0.0
    with pytest.raises(ValueError, match="resegment"):
        SegmentationDiarizeConfig(resegment_window_s=-1.0)
    with pytest.raises(ValueError, match="resegment"):
        SegmentationDiarizeConfig(resegment_hop_s=0.0)


def test_splits_stop_at_the_room_left_the_least_alike_first() -> None:
    voices = np.eye(16)[:4]
    # speaker 0: voices 0 and 1 (far apart); speaker 1: voices 2 and a blend of 2 and 3 (closer)
    near = voices[2] * 0.45 + voices[3]
    embeddings = np.concatenate([noisy(voices, [0] * 5 + [1] * 5, 0.05),
                                 noisy(np.stack([voices[2], near]), [0] * 5 + [1] * 5, 0.05, seed=1)])
    labels = np.array([0] * 10 + [1] * 10)
    both = split(embeddings, labels, max_cosine=0.5)
    assert sorted(set(both[:10].tolist())) == [0, 2] and sorted(set(both[10:].tolist())) == [1, 3]
    one = split(embeddings, labels, max_cosine=0.5, max_new=1)
    assert sorted(set(one[:10].tolist())) == [0, 2] and set(one[10:].tolist()) == {1}
    assert np.array_equal(split(embeddings, labels, max_cosine=0.5, max_new=0), labels)


def test_a_half_whose_voice_has_a_speaker_joins_it() -> None:
    """Speaker 0 holds voices 0 and 1; speaker 1 is voice 1 already: that half joins it, no new speaker."""
    voices = np.eye(16)[:2]
    embeddings = np.concatenate([noisy(voices, [0] * 5 + [1] * 5, 0.05), noisy(voices, [1] * 6, 0.05, seed=1)])
    labels = np.array([0] * 10 + [1] * 6)
    assert split(embeddings, labels, max_cosine=0.5).tolist() == [0] * 5 + [1] * 11
    # unless the two are less alike than join_cosine: then a new speaker
    assert split(embeddings, labels, max_cosine=0.5, join_cosine=1.01).tolist() == [0] * 5 + [2] * 5 + [1] * 6
    assert split(embeddings, labels, max_cosine=0.5, join_cosine=1.01, max_new=0).tolist() == labels.tolist()
