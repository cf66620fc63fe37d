"""The classical refiners (bic, similarity, silence-snap, segmentation-snap) on synthetic windows whose change point
is known, with and without a change; and how train / evaluate / refine treat them."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from fixtures import synthetic_cache
from scipy.signal import lfilter

from diarefine.cli import main
from diarefine.dsp import sliding_spans
from diarefine.errors import ConfigError
from diarefine.features import FEATURES
from diarefine.models import MODELS
from diarefine.refine import Refiner
from diarefine.refine.resolve import CLASSICAL_REFINERS
from diarefine.rttm import read_rttm
from diarefine.samples import bundled_sample
from diarefine.training import load_train_config

SR, WINDOW_S = 16_000, 4.0
FRAME_S = 0.02


def coloured_noise(n: int, pole: float, seed: int) -> np.ndarray:
    """Noise through a one-pole filter: pole > 0 low-pass (dark), pole < 0 high-pass (bright)."""
    white = np.random.default_rng(seed).standard_normal(n)
    out = lfilter([1.0], [1.0, -pole], white)
    return (0.1 * out / out.std()).astype(np.float32)


def joined(change_s: float, seed: int = 0) -> np.ndarray:
    """4 s of dark noise then bright noise, switching at ``change_s`` from the window start."""
    n, cut = int(WINDOW_S * SR), int(change_s * SR)
    return np.concatenate([coloured_noise(cut, 0.95, seed), coloured_noise(n - cut, -0.7, seed + 1)])


def batch_of(waves: np.ndarray, d: int = 80, e: int = 8) -> dict[str, torch.Tensor]:
    """A model batch from waves [B, N]: fbank features, full masks, waveform, random side embeddings."""
    x = torch.from_numpy(waves)
    valid = torch.ones_like(x, dtype=torch.bool)
    feats, mask = FEATURES.build("fbank")(x, valid)
    left, right = torch.eye(e)[0].expand(len(x), e), torch.eye(e)[1].expand(len(x), e)
    return {"features": feats, "mask": mask, "waves": x, "wave_mask": valid, "left_emb": left, "right_emb": right}


def classical(name: str, **settings) -> torch.nn.Module:
    return MODELS.build(name, feature_dim=80, embedding_dim=8, **settings).eval()


def test_the_registry_holds_five_classical_refiners_with_nothing_to_learn() -> None:
    assert set(CLASSICAL_REFINERS) == {"bic", "similarity", "silence-snap", "segmentation-snap", "pause-match",
                                       "overlap-match"}
    assert list(CLASSICAL_REFINERS) == [n for n in MODELS.names() if not MODELS.get(n).trainable]  # spelled out: kept equal
    for name in CLASSICAL_REFINERS:
        assert not MODELS.get(name).trainable and classical(name).n_parameters() == 0


@pytest.mark.parametrize("covariance", ["full", "diagonal"])
@pytest.mark.parametrize("change_s", [1.36, 2.0, 2.84])
def test_bic_finds_a_known_change_within_two_frames(covariance: str, change_s: float) -> None:
    model = classical("bic", covariance=covariance)
    batch = batch_of(joined(change_s)[None])
    offset, gain = model.predict_with_score(batch)
    assert abs(offset.item() - (change_s - 2.0)) <= 2 * FRAME_S + 1e-6
    assert gain.item() > 0  # two Gaussians beat one, after the model-size penalty


def test_bic_without_a_change_has_a_negative_gain_and_a_lower_confidence() -> None:
    model = classical("bic")
    waves = np.stack([coloured_noise(int(WINDOW_S * SR), 0.95, seed) for seed in range(3)])
    _, gain = model.predict_with_score(batch_of(waves))
    assert (gain < 0).all()
    assert model(batch_of(waves))[1].max() < model(batch_of(joined(2.0)[None]))[1].min() / 2


def mixed_sliding_embeddings(change_s: float, model, e: int = 8) -> torch.Tensor:
    """[1, K, E] embeddings of analysis windows: the mix of the left (e0) and right (e1) unit vectors
    in proportion to how much of each analysis window lies on each side of the change."""
    spans = sliding_spans(WINDOW_S, model.config.analysis_s, model.config.hop_s)
    right_share = np.clip((spans[:, 1] - change_s) / (spans[:, 1] - spans[:, 0]), 0, 1)
    emb = np.zeros((len(spans), e), np.float32)
    emb[:, 0], emb[:, 1] = 1 - right_share, right_share
    return torch.from_numpy(emb / np.linalg.norm(emb, axis=1, keepdims=True))[None]


@pytest.mark.parametrize("change_s", [1.37, 2.0, 2.55])
def test_similarity_finds_a_known_change_within_a_frame(change_s: float) -> None:
    model = classical("similarity")
    batch = batch_of(joined(change_s)[None]) | {"sliding_emb": mixed_sliding_embeddings(change_s, model)}
    offset, confidence = model(batch)
    assert abs(offset.item() - (change_s - 2.0)) <= FRAME_S
    assert confidence.item() > 0.9


def test_similarity_gets_its_sliding_embeddings_from_the_window_audio() -> None:
    from diarefine.embeddings import EMBEDDERS
    from diarefine.refine.inputs import extra_inputs

    model = MODELS.build("similarity", feature_dim=80, embedding_dim=256).eval()
    waves = np.stack([joined(2.3), joined(1.7)])
    inputs = extra_inputs(model, waves, np.ones_like(waves, bool), EMBEDDERS.build("resemblyzer"))
    assert inputs["sliding_emb"].shape == (2, 31, 256)  # 1 s windows every 0.1 s across 4 s
    offset, confidence = model(batch_of(waves, e=256) | inputs)
    assert offset.shape == confidence.shape == (2,) and (offset.abs() <= 2).all()


def test_similarity_without_a_change_or_a_side_is_not_confident() -> None:
    model = classical("similarity")
    batch = batch_of(joined(2.0)[None]) | {"sliding_emb": mixed_sliding_embeddings(9.0, model)}  # all left
    assert model(batch)[1].item() < 0.5
    batch["right_emb"] = torch.zeros_like(batch["right_emb"])  # no embedding for a side
    assert model(batch)[1].item() == 0.0


def with_pause(start_s: float, length_s: float) -> np.ndarray:
    """4 s of bright noise with a near-silent stretch [start, start + length)."""
    wave = coloured_noise(int(WINDOW_S * SR), -0.7, 3)
    wave[int(start_s * SR):int((start_s + length_s) * SR)] *= 1e-3
    return wave


@pytest.mark.parametrize("pause_start_s, length_s", [(2.35, 0.3), (1.2, 0.4), (1.9, 0.25)])
def test_silence_snap_moves_to_the_centre_of_the_nearest_pause(pause_start_s: float, length_s: float) -> None:
    offset, confidence = classical("silence-snap")(batch_of(with_pause(pause_start_s, length_s)[None]))
    assert abs(offset.item() - (pause_start_s + length_s / 2 - 2.0)) <= FRAME_S
    assert confidence.item() > 0.0


def test_silence_snap_leaves_the_boundary_without_a_pause_in_reach() -> None:
    waves = np.stack([coloured_noise(int(WINDOW_S * SR), -0.7, 3), with_pause(0.1, 0.4)])  # none; one 1.7 s away
    offset, confidence = classical("silence-snap")(batch_of(waves))
    assert offset.tolist() == [0.0, 0.0] and confidence.tolist() == [0.0, 0.0]


def segmentation_batch(switch_s: float, left_first: bool = True, embedded: tuple[bool, ...] = (True, True, False)):
    """A window whose local speaker 0 talks until ``switch_s`` (s from the centre) and speaker 1 after,
    with left / right embeddings equal to theirs (swapped when not ``left_first``)."""
    t = (torch.arange(200) + 0.5) / 50 - 2.0
    activity = torch.zeros(1, 200, 3)
    activity[0, :, 0], activity[0, :, 1] = (t < switch_s).float() * 0.9, (t >= switch_s).float() * 0.9
    emb = torch.eye(3, 8)[None]  # local speaker k -> unit vector k
    left, right = (emb[:, 0], emb[:, 1]) if left_first else (emb[:, 1], emb[:, 0])
    return {"seg_activity": activity, "seg_emb": emb, "seg_emb_ok": torch.tensor([embedded]),
            "left_emb": left, "right_emb": right, "features": torch.zeros(1, 200, 80),
            "mask": torch.ones(1, 200, dtype=torch.bool)}


@pytest.mark.parametrize("switch_s", [-0.7, 0.0, 0.34])
def test_segmentation_snap_moves_to_the_hand_over_of_the_matched_local_speakers(switch_s: float) -> None:
    model = classical("segmentation-snap")
    offset, score = model.predict_with_score(segmentation_batch(switch_s))
    assert abs(offset.item() - switch_s) <= FRAME_S / 2 + 1e-6 and score.item() > 1.5
    _, swapped = model.predict_with_score(segmentation_batch(switch_s, left_first=False))
    assert swapped.item() < 0  # the left speaker talks after: no hand-over the right way round
    _, unmatched = model.predict_with_score(segmentation_batch(switch_s, embedded=(True, False, False)))
    assert unmatched.item() == float("-inf")
    assert model(segmentation_batch(switch_s))[1].item() > model(segmentation_batch(switch_s, left_first=False))[1].item()


def test_train_refuses_a_classical_refiner(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'bic' is a classical refiner and needs no training"):
        load_train_config(None, ["model.name='bic'"])


def test_evaluate_includes_classical_rows_and_skips_those_without_audio(tmp_path: Path, capsys) -> None:
    cache = synthetic_cache(tmp_path / "dev.h5")  # synthetic features: no audio behind them
    report = tmp_path / "report.json"
    assert main(["evaluate", "--cache", str(cache), "--json", str(report)]) == 0
    printed = " ".join(capsys.readouterr().out.replace("│", " ").split())  # the table wraps with the terminal
    assert "bic" in printed and "Skipped: overlap-match (no audio" in printed and "pause-match (no audio" in printed
    assert "silence-snap (no audio" in printed
    import json

    rows = [m["label"] for m in json.loads(report.read_text())["models"]]
    assert rows == ["no refinement", "bic"]
    with h5py.File(cache, "a") as h5:  # a cache built before prepare stored the hypothesis's pause / overlap
        del h5["pause_s"], h5["clean_overlap_s"]
    assert main(["evaluate", "--cache", str(cache)]) == 0
    printed = " ".join(capsys.readouterr().out.replace("│", " ").split())
    assert "pause-match (the cache has no pause_s" in printed
    assert "overlap-match (the cache has no clean_overlap_s" in printed


def test_refine_with_a_classical_refiner_on_the_sample(tmp_path: Path) -> None:
    sample = bundled_sample()
    hypothesis = read_rttm(sample.rttm)["sample"]
    for name in CLASSICAL_REFINERS:
        result = Refiner(name).refine_file(sample.audio, hypothesis)
        assert result.n_changes == len(result.offset_s) > 0
        assert {t.speaker for t in result.turns} == {t.speaker for t in hypothesis}


@pytest.mark.parametrize("name", ["bic", "silence-snap", "pause-match"])
def test_refiners_that_never_read_the_speakers_skip_their_profiles(name: str, monkeypatch) -> None:
    """Their moves are the same whether the speakers' profiles are computed or not."""
    sample = bundled_sample()
    hypothesis = read_rttm(sample.rttm)["sample"]
    model = MODELS.get(name)
    assert not model.reads_speaker_embeddings
    with_profiles = Refiner(name)
    monkeypatch.setattr(model, "reads_speaker_embeddings", True)
    expected = with_profiles.refine_file(sample.audio, hypothesis)
    monkeypatch.undo()
    refiner = Refiner(name)
    monkeypatch.setattr(refiner.embedder, "speaker_chunks_from_file", lambda *a, **k: pytest.fail("profiles computed"))
    result = refiner.refine_file(sample.audio, hypothesis)
    np.testing.assert_array_equal(result.offset_s, expected.offset_s)
    np.testing.assert_array_equal(result.confidence, expected.confidence)
    assert result.turns == expected.turns and result.n_missing_embedding == 0
    assert MODELS.get("similarity").reads_speaker_embeddings and MODELS.get("contrastive").reads_speaker_embeddings


def test_evaluate_reads_the_audio_a_prepared_cache_points_to(tmp_path: Path) -> None:
    import json
    import shutil

    from diarefine.data import PrepareConfig, discover_corpus, prepare_cache

    sample = bundled_sample()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(sample.audio, corpus / "sample.wav")
    shutil.copy(sample.rttm, corpus / "sample.rttm")
    cache, n = prepare_cache(discover_corpus(corpus), tmp_path / "dev.h5",
                             PrepareConfig(embeddings={"name": "dummy", "dim": 16}, draws_per_change=2))
    report = tmp_path / "report.json"
    assert main(["evaluate", "--cache", str(cache), "silence-snap", "--no-classical", "--json", str(report)]) == 0
    rows = json.loads(report.read_text())["models"]
    assert [r["label"] for r in rows] == ["no refinement", "silence-snap"]
    assert rows[1]["overall"]["n"] == rows[0]["overall"]["n"] > 0
    # the audio moved: skipped (and said) without --audio-dir, found again with it
    moved = tmp_path / "moved"
    shutil.move(corpus, moved)
    assert main(["evaluate", "--cache", str(cache), "silence-snap", "--no-classical", "--json", str(report)]) == 0
    assert json.loads(report.read_text())["skipped"][0].startswith("silence-snap (no audio for 1 file(s)")
    assert main(["evaluate", "--cache", str(cache), "silence-snap", "--no-classical", "--audio-dir", str(moved)]) == 0
