"""Speaker embeddings: profiles with an exclusion margin, the too-little-speech flag, and each embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fixtures import speechlike

from diarefine.embeddings import EMBEDDERS, ProfileConfig, SpeakerEmbedder, window_embedding
from diarefine.embeddings.base import chunk_spans, speaker_regions
from diarefine.errors import InputFileError
from diarefine.types import Turn


class TimeEmbedder(SpeakerEmbedder):
    """Test double: a chunk's embedding encodes its start time, so we can see which chunks were averaged."""

    name = "time"

    @property
    def dim(self) -> int:
        return 2

    def embed_spans(self, audio, spans, speakers):
        return np.stack([np.cos(spans[:, 0] / 100), np.sin(spans[:, 0] / 100)], axis=1).astype(np.float32)


def test_single_speaker_speech_is_preferred_when_there_is_enough() -> None:
    turns = [Turn("f", 0, 10, "A"), Turn("f", 8, 12, "B"), Turn("f", 20, 21, "B")]
    regions = speaker_regions(turns, prefer_single_min_s=3.0)
    assert regions["A"].tolist() == [[0.0, 8.0]]  # alone: overlap with B removed
    assert regions["B"].tolist() == [[10.0, 12.0], [20.0, 21.0]]  # 3 s alone: enough
    assert speaker_regions(turns, prefer_single_min_s=3.5)["B"].tolist() == [[8.0, 12.0], [20.0, 21.0]]


def test_chunks_touching_the_window_plus_margin_are_left_out() -> None:
    turns = [Turn("f", 0, 30, "A")]
    profile = ProfileConfig(chunk_s=1.0, hop_s=1.0, min_chunk_s=0.5, exclusion_margin_s=1.0, min_speech_s=1.0)
    chunks = TimeEmbedder().speaker_chunks(np.zeros(30 * 16_000, np.float32), turns, profile)
    assert len(chunks["A"].spans) == 30
    emb = window_embedding(chunks, "A", center_s=15.0, window_s=4.0, profile=profile, dim=2)
    # excluded zone is [12, 18]: chunks starting at 12..17 are out, 24 chunks remain
    assert emb.ok and emb.speech_s == pytest.approx(24.0)
    kept = np.array([s for s in range(30) if not 12 <= s < 18], dtype=float)
    mean = np.stack([np.cos(kept / 100), np.sin(kept / 100)], 1).mean(0)
    np.testing.assert_allclose(emb.vector, mean / np.linalg.norm(mean), rtol=1e-5)


def test_speaker_with_too_little_speech_outside_the_window_gets_a_flag() -> None:
    turns = [Turn("f", 0, 20, "A"), Turn("f", 20, 22, "B")]
    profile = ProfileConfig()
    chunks = TimeEmbedder().speaker_chunks(np.zeros(22 * 16_000, np.float32), turns, profile)
    emb = window_embedding(chunks, "B", center_s=20.0, window_s=4.0, profile=profile, dim=2)
    assert not emb.ok and emb.speech_s == 0.0 and not emb.vector.any()
    assert not window_embedding(chunks, "nobody", 5.0, 4.0, profile, 2).ok


def test_chunk_spans_cover_long_regions_and_skip_tiny_ones() -> None:
    spans = chunk_spans(np.array([[0.0, 4.0], [10.0, 10.3]]), 1.6, 0.8, 0.5)
    assert spans[0].tolist() == [0.0, 1.6] and spans[-1].tolist() == [2.4, 4.0]
    assert (spans[:, 1] <= 4.0).all()


def test_max_speech_spreads_a_long_speakers_chunks_over_the_file_and_spares_short_ones() -> None:
    turns = [Turn("f", 0, 100, "A"), Turn("f", 100, 104, "B")]
    profile = ProfileConfig(chunk_s=2.0, hop_s=2.0, max_speech_s=10.0)
    chunks = TimeEmbedder().speaker_chunks(np.zeros(104 * 16_000, np.float32), turns, profile)
    starts = chunks["A"].spans[:, 0]
    assert len(starts) == 5 and starts[0] == 0.0 and starts[-1] == 98.0  # 10 s of 100, first to last
    assert np.allclose(np.diff(starts), np.diff(starts)[0], atol=2.0)  # evenly spread
    assert chunks["B"].spans.tolist() == [[100.0, 102.0], [102.0, 104.0]]  # under the cap: all of it
    emb = window_embedding(chunks, "A", center_s=50.0, window_s=4.0, profile=profile, dim=2)
    assert emb.ok and emb.speech_s >= 6.0  # the window's neighbourhood still leaves most of the profile
    with pytest.raises(ValueError):
        ProfileConfig(max_speech_s=-1.0)


def test_length_step_cuts_short_chunks_to_a_few_lengths_and_leaves_full_ones() -> None:
    rng = np.random.default_rng(1)
    starts = np.arange(40) * 5.0
    regions = np.stack([starts, starts + rng.uniform(0.3, 3.0, 40)], axis=1)
    exact = chunk_spans(regions, 1.6, 1.6, 0.5)
    stepped = chunk_spans(regions, 1.6, 1.6, 0.5, length_step_s=0.1)
    lengths = stepped[:, 1] - stepped[:, 0]
    full = np.isclose(lengths, 1.6)
    assert full.sum() == np.isclose(exact[:, 1] - exact[:, 0], 1.6).sum()  # full chunks are untouched
    assert len(np.unique(np.round(lengths[~full], 2))) <= 11  # 0.5, 0.6, ... 1.5 s
    assert np.allclose(np.round(lengths / 0.1), lengths / 0.1, atol=1e-6)
    region_lengths = regions[:, 1] - regions[:, 0]
    short = regions[(region_lengths >= 0.5) & (region_lengths <= 1.6)]
    assert len(short) == (~full).sum() > 5
    for (start, end), (region_start, region_end) in zip(stepped[~full], short):
        assert region_start <= start and end <= region_end + 1e-9  # the middle of its region
        assert abs((start - region_start) - (region_end - end)) < 0.02
    with pytest.raises(ValueError):
        ProfileConfig(length_step_s=-0.1)


def test_dummy_embeddings_are_deterministic_by_speaker() -> None:
    dummy = EMBEDDERS.build("dummy")
    spans = np.array([[0.0, 1.0], [1.0, 2.0], [3.0, 4.0]])
    e = dummy.embed_spans(np.zeros(16_000 * 4, np.float32), spans, ["A", "B", "A"])
    assert e.shape == (3, 256) and np.allclose(e[0], e[2]) and not np.allclose(e[0], e[1])
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-6)


def test_resemblyzer_tells_two_voices_apart() -> None:
    audio = np.concatenate([speechlike(8.0, seed=1, f0=100.0), speechlike(8.0, seed=2, f0=240.0)])
    embedder = EMBEDDERS.build("resemblyzer")
    turns = [Turn("f", 0, 8, "low"), Turn("f", 8, 16, "high")]
    chunks = embedder.speaker_chunks(audio, turns)
    low, high = chunks["low"].embeddings, chunks["high"].embeddings
    assert low.shape[1] == 256 and embedder.dim == 256
    within = float(np.mean(low @ low.T))
    across = float(np.mean(low @ high.T))
    assert within > across


def _tiny_wespeaker_onnx(path: Path, dim: int = 16) -> Path:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((80, dim)).astype(np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("ReduceMean", ["feats"], ["pooled"], axes=[1], keepdims=0),
         helper.make_node("MatMul", ["pooled", "W"], ["embs"])],
        "tiny_wespeaker",
        [helper.make_tensor_value_info("feats", TensorProto.FLOAT, ["B", "T", 80])],
        [helper.make_tensor_value_info("embs", TensorProto.FLOAT, ["B", dim])],
        initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_wespeaker_onnx_runs_a_local_model(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    model = _tiny_wespeaker_onnx(tmp_path / "tiny.onnx")
    embedder = EMBEDDERS.build({"name": "wespeaker-onnx", "model_path": str(model)})
    assert embedder.dim == 16
    audio = np.concatenate([speechlike(5.0, seed=1, f0=100.0), speechlike(5.0, seed=2, f0=240.0)])
    spans = np.array([[0.0, 1.6], [0.8, 2.4], [5.0, 6.6], [6.0, 6.7]])
    e = embedder.embed_spans(audio, spans, ["a", "a", "b", "b"])
    assert e.shape == (4, 16) and np.isfinite(e).all()
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    # the 0.7 s span runs alone through a shorter batch: same result as embedding it by itself
    np.testing.assert_allclose(embedder.embed_spans(audio, spans[3:], ["b"])[0], e[3], rtol=1e-5)


def test_wespeaker_onnx_missing_or_broken_model_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    with pytest.raises(InputFileError, match="WeSpeaker ONNX model not found"):
        EMBEDDERS.build({"name": "wespeaker-onnx", "model_path": str(tmp_path / "missing.onnx")})
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(InputFileError, match="cannot be loaded as an ONNX model"):
        EMBEDDERS.build({"name": "wespeaker-onnx", "model_path": str(broken)})
    assert set(EMBEDDERS) == {"campplus", "dummy", "resemblyzer", "wespeaker-onnx"}
