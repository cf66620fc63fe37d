"""The segmentation-3.0 + CAM++ diarizer: its pure steps on made-up inputs, and behaviour on the
bundled sample with the shipped weights."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster, linkage

from diarefine.audio import load_audio
from diarefine.cli import main
from diarefine.metrics.der import HEADLINE, MDEVAL
from diarefine.metrics.scoring import score_set
from diarefine.networks.campplus import kaldi_fbank
from diarefine.rttm import load_uems, read_rttm
from diarefine.samples import bundled_sample
from diarefine.segmentation_diarizer import (
    FbankWindows,
    LocalSpeakers,
    SegmentationDiarizeConfig,
    activity_to_turns,
    assign,
    chunk_starts,
    cluster,
    cut_by_merge_order,
    diarize_segmentation,
    embed_pieces,
    embedded_chunks,
    reconstruct,
    segment,
    stitch,
)
from diarefine.units import SAMPLE_RATE

SAMPLE = bundled_sample()


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_chunks_cover_the_file_and_the_last_is_flush_with_the_end() -> None:
    starts = chunk_starts(31.3, 10.0, 1.0)
    assert starts[0] == 0 and starts[-1] == pytest.approx(21.3) and np.all(np.diff(starts) <= 1.0 + 1e-9)
    assert chunk_starts(4.0, 10.0, 1.0).tolist() == [0.0]


def test_clustering_finds_the_speakers_and_respects_counts() -> None:
    rng = np.random.default_rng(0)
    centres = unit(rng.normal(size=(3, 16)))
    emb = unit(np.repeat(centres, 10, axis=0) + 0.1 * rng.normal(size=(30, 16)))
    labels = cluster(emb, SegmentationDiarizeConfig())
    assert len(set(labels)) == 3 and all(len(set(labels[i:i + 10])) == 1 for i in (0, 10, 20))
    assert len(set(cluster(emb, SegmentationDiarizeConfig(num_speakers=2)))) == 2
    assert len(set(cluster(emb, SegmentationDiarizeConfig(max_speakers=2)))) == 2
    assert len(set(cluster(emb, SegmentationDiarizeConfig(distance_threshold=5.0, min_speakers=2)))) == 2


def test_a_given_speaker_count_is_met_on_non_monotonic_centroid_trees() -> None:
    # noisy speakers: centroid linkage's tree has inversions, where scipy's maxclust cut leaves fewer
    rng = np.random.default_rng(8)
    emb = unit(np.repeat(rng.normal(size=(6, 16)), 5, axis=0) + 1.5 * rng.normal(size=(30, 16))).astype(np.float32)
    tree = linkage(emb, method="centroid", metric="euclidean")
    assert np.any(np.diff(tree[:, 2]) < 0)
    assert any(len(set(fcluster(tree, k, criterion="maxclust"))) < k for k in range(2, 11))
    assert [len(set(cut_by_merge_order(tree, k))) for k in range(1, 31)] == list(range(1, 31))
    assert [len(set(cluster(emb, SegmentationDiarizeConfig(num_speakers=k)))) for k in range(1, 11)] == \
        list(range(1, 11))
    assert len(set(cluster(emb, SegmentationDiarizeConfig(distance_threshold=0.0, max_speakers=4)))) == 4


def test_two_local_speakers_of_a_chunk_never_share_a_cluster() -> None:
    emb = unit(np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]))
    index = np.array([[0, 0], [0, 1], [1, 0]])  # chunk 0 has two speakers both closer to cluster 0
    clusters = assign(emb, index, np.array([0, 0, 1]), n_chunks=2, n_local=3)
    assert clusters[0, 0] != clusters[0, 1] and clusters[0, 2] == -1 and clusters[1, 0] == 1


def test_fbank_windows_are_cut_and_mean_normalised_when_read() -> None:
    fbank = np.random.default_rng(0).normal(size=(50, 80)).astype(np.float32)
    windows = FbankWindows(fbank, np.array([0, 7, 40]), 10)
    assert len(windows) == 3 and len(list(windows)) == 3
    np.testing.assert_allclose(windows[1], fbank[7:17] - fbank[7:17].mean(axis=0))
    np.testing.assert_allclose(windows[2].mean(axis=0), 0, atol=1e-6)


def test_reconstruction_averages_overlapping_chunks_into_turns() -> None:
    step = 0.1
    activity = np.zeros((2, 20, 3), np.int8)
    activity[0, :10, 0] = 1   # chunk at 0 s: local 0 on 0-1 s, local 1 on 1-2 s
    activity[0, 10:, 1] = 1
    activity[1, :10, 2] = 1   # chunk at 1 s: its local 2 is the same global speaker as chunk 0's local 1
    local = LocalSpeakers(np.array([0.0, 1.0]), activity, step, 0.05)
    clusters = np.array([[0, 1, -1], [-1, -1, 1]])
    active, frame_step = reconstruct(local, clusters, duration_s=3.0)
    turns = activity_to_turns(active, frame_step, local.frame_offset_s, 3.0, "f")
    assert [(t.speaker, t.start, t.end) for t in turns] == [("SPK00", 0.0, 1.0), ("SPK01", 1.0, 2.0)]


def test_chunks_not_embedded_take_their_speakers_from_overlapping_embedded_ones() -> None:
    step = 0.1
    activity = np.zeros((3, 20, 3), np.int8)
    activity[0, :12, 0] = 1   # chunk at 0 s (embedded): A on 0-1.2 s, B on 1.2-2 s
    activity[0, 12:, 1] = 1
    activity[1, :2, 2] = 1    # chunk at 1 s (not embedded): its local 2 is A, local 0 is B, local 1 is C
    activity[1, 2:15, 0] = 1
    activity[1, 15:, 1] = 1
    activity[2, 5:10, 1] = 1  # chunk at 2 s (embedded): C (cluster 2) on 2.5-3 s
    local = LocalSpeakers(np.array([0.0, 1.0, 2.0]), activity, step, 0.05)
    clusters = np.array([[0, 1, -1], [-1, -1, -1], [-1, 2, -1]])
    embedded = np.array([True, False, True])
    stitched = stitch(local, clusters, embedded)
    assert stitched[1].tolist() == [1, 2, 0]
    assert np.array_equal(stitched[embedded], clusters[embedded])
    assert np.array_equal(stitch(local, np.full((3, 3), -1), embedded), np.full((3, 3), -1))
    assert embedded_chunks(3, 1.0, 1.0).tolist() == [0, 1, 2] and embedded_chunks(5, 1.0, 2.0).tolist() == [0, 2, 4]


@pytest.fixture(scope="module")
def sample_diarization():
    return diarize_segmentation(SAMPLE.audio, "sample", SegmentationDiarizeConfig(step_s=2.0))


def test_the_sample_gets_two_speakers_and_a_low_der(sample_diarization) -> None:
    assert sample_diarization.n_speakers == 2
    score = score_set(read_rttm(SAMPLE.rttm), {"sample": sample_diarization.turns}, load_uems(SAMPLE.uem)).to_dict()
    assert score["der"][HEADLINE]["der"] < 0.10 and score["der"][MDEVAL]["der"] < 0.03  # the simple one: 16.9% / 2.9%


def test_identical_input_gives_identical_output(sample_diarization) -> None:
    again = diarize_segmentation(SAMPLE.audio, "sample", SegmentationDiarizeConfig(step_s=2.0))
    assert again.turns == sample_diarization.turns


def test_cli_diarize_methods(tmp_path: Path, capsys) -> None:
    seg = ["diarize", str(SAMPLE.audio), "--method", "segmentation"]
    assert main([*seg, "-o", str(tmp_path / "seg.rttm"), "--step", "2"]) == 0
    assert "segmentation-3.0 + CAM++" in capsys.readouterr().out
    assert len({t.speaker for t in read_rttm(tmp_path / "seg.rttm")["sample"]}) == 2
    assert main([*seg, "-o", str(tmp_path / "bad.rttm"), "--step", "0"]) == 2
    assert "step_s must be in" in capsys.readouterr().err


def test_bfloat16_precision_keeps_the_decisions_and_the_embeddings(tmp_path: Path, capsys) -> None:
    audio = load_audio(SAMPLE.audio)[:12 * SAMPLE_RATE]
    exact = SegmentationDiarizeConfig()
    with warnings.catch_warnings():  # a CPU without native bfloat16 is warned about (slower), not refused
        warnings.simplefilter("ignore", RuntimeWarning)
        fast = SegmentationDiarizeConfig(precision="bfloat16")
    assert np.mean(segment(audio, exact).activity == segment(audio, fast).activity) > 0.98
    fbank = kaldi_fbank(audio)
    pieces = [fbank[i:i + 150] - fbank[i:i + 150].mean(axis=0) for i in range(0, 1050, 150)]
    assert (embed_pieces(pieces, exact) * embed_pieces(pieces, fast)).sum(axis=1).min() > 0.99
    with pytest.raises(ValueError, match="precision must be one of"):
        SegmentationDiarizeConfig(precision="float16")
    assert main(["diarize", str(SAMPLE.audio), "--method", "simple", "--precision", "bfloat16",
                 "-o", str(tmp_path / "x.rttm")]) == 2
    assert "--precision is an option of another diarizer" in capsys.readouterr().err


def test_progress_follows_the_batches_of_each_stage() -> None:
    from diarefine.segmentation_diarizer import run_diarizer

    calls = []
    run_diarizer(SAMPLE.audio, "sample", SegmentationDiarizeConfig(step_s=2.5, batch_size=4),
                 lambda stage, done, total: calls.append((stage, done, total)))
    stages = [c[0] for c in calls]
    assert stages[0] == "segmentation" and stages[-1] == "resegmentation" and "embeddings" in stages
    assert stages.index("embeddings") < stages.index("clustering") < stages.index("resegmentation")
    resegmentation = [(d, t) for s, d, t in calls if s == "resegmentation"]
    assert resegmentation[-1][0] == resegmentation[-1][1] > 0
    segmentation = [(d, t) for s, d, t in calls if s == "segmentation"]
    assert segmentation[-1][0] == segmentation[-1][1] == 9 and len(segmentation) == 3  # 9 chunks, batches of 4


def test_a_speaker_with_little_speech_joins_the_nearest_other() -> None:
    from diarefine.segmentation_diarizer import fold_small_speakers

    active = np.zeros((100, 3), bool)
    active[:50, 0] = active[50:90, 1] = active[90:95, 2] = True
    embeddings = unit(np.array([[1.0, 0.0], [0.0, 1.0], [0.2, 1.0]]))  # speaker 2 sounds like speaker 1
    labels = np.array([0, 1, 2])
    folded, relabelled = fold_small_speakers(active, embeddings, labels, min_frames=10)
    assert folded.shape == (100, 2) and relabelled.tolist() == [0, 1, 1]
    assert np.all(folded[50:95, 1]) and not folded[50:, 0].any()
    same, kept = fold_small_speakers(active, embeddings, labels, min_frames=5)  # 5 frames: enough
    assert same is active and kept is labels
    # embeddings of a cluster that got no frames keep a number past the speakers
    _, renumbered = fold_small_speakers(active, unit(np.vstack([embeddings, [[0.0, -1.0]]])),
                                        np.array([0, 1, 2, 3]), min_frames=10)
    assert renumbered.tolist() == [0, 1, 1, 2]
    # never fewer speakers than asked for
    assert fold_small_speakers(active, embeddings, labels, min_frames=60, keep=2)[0].shape[1] == 2


def test_bfloat16_on_a_cpu_without_it_is_warned_about(monkeypatch) -> None:
    from diarefine.networks import precision

    monkeypatch.setattr(precision, "native_bfloat16", lambda: False)
    with pytest.warns(RuntimeWarning, match="no native bfloat16"):
        precision.check_precision("bfloat16")


def test_resegmentation_splits_a_speaker_holding_two_voices(monkeypatch, capsys, tmp_path: Path) -> None:
    """One speaker on 0-20 s whose windows are two voices (stub CAM++): a second speaker takes the second."""
    import diarefine.segmentation_diarizer as diarizer

    step = 0.1
    active = np.zeros((200, 1), bool)
    active[:, 0] = True
    local = LocalSpeakers(np.zeros(1), np.zeros((1, 200, 3), np.int8), step, 0.0)

    def two_voices(pieces, config, steps=None):
        starts = np.asarray(pieces.first) * 0.01  # fbank frames -> s
        return unit(np.where((starts + 0.75 < 10.0)[:, None], [[1.0, 0.05]], [[0.05, 1.0]]))

    monkeypatch.setattr(diarizer, "embed_pieces", two_voices)
    fbank = np.zeros((2000, 80), np.float32)
    clustered = unit(np.array([[0.7, 0.7]]))
    split = diarizer.resegmented(active, local, fbank, clustered, np.array([0]), SegmentationDiarizeConfig())
    assert split.shape == (200, 2) and np.all(split.sum(axis=1) == 1)
    switch = np.flatnonzero(split[:, 1])[0]
    assert abs(switch * step - 10.0) < 0.75 and np.all(split[switch:, 1])
    for no_split in (SegmentationDiarizeConfig(split_cosine=0.0), SegmentationDiarizeConfig(max_speakers=1),
                     SegmentationDiarizeConfig(num_speakers=1)):
        assert np.array_equal(diarizer.resegmented(active, local, fbank, clustered, np.array([0]), no_split), active)
    with pytest.raises(ValueError, match="split_cosine"):
        SegmentationDiarizeConfig(split_cosine=1.0)
    assert main(["diarize", str(SAMPLE.audio), "--method", "simple", "--split-cosine", "0.3",
                 "-o", str(tmp_path / "x.rttm")]) == 2
    assert "--split-cosine is an option of another diarizer" in capsys.readouterr().err
