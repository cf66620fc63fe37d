"""The baseline diarizer (clustering on synthetic embeddings, the bundled sample end to end) and
the ``diarize`` / ``demo`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from diarefine.cli import main
from diarefine.diarize import DiarizeConfig, cluster_embeddings, diarize, labels_to_turns
from diarefine.metrics.scoring import score_set
from diarefine.rttm import format_rttm, read_rttm
from diarefine.samples import bundled_sample, jitter_changes

SAMPLE = bundled_sample()


def blobs(n_per: int, n_clusters: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors around ``n_clusters`` random centres [n_per * n_clusters, 32] and their true labels."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, 32))
    labels = np.repeat(np.arange(n_clusters), n_per)
    x = centres[labels] / np.linalg.norm(centres[labels], axis=1, keepdims=True) + spread * rng.standard_normal(
        (labels.size, 32))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def agreement(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of windows whose found cluster is the majority cluster of their true speaker."""
    majority = {k: np.bincount(found[truth == k]).argmax() for k in np.unique(truth)}
    return float(np.mean([found[i] == majority[t] for i, t in enumerate(truth)]))


@pytest.mark.parametrize("clustering", ["spectral", "ahc"])
@pytest.mark.parametrize("n_speakers", [1, 2, 4])
def test_clustering_finds_the_speaker_count(clustering: str, n_speakers: int) -> None:
    x, truth = blobs(40, n_speakers, spread=0.08, seed=n_speakers)
    labels = cluster_embeddings(x, np.full(len(x), 1.5), DiarizeConfig(clustering=clustering))
    assert len(np.unique(labels)) == n_speakers
    assert agreement(labels, truth) == 1.0


def test_clustering_with_a_given_count_and_on_long_inputs() -> None:
    x, truth = blobs(30, 3, spread=0.08)
    assert len(np.unique(cluster_embeddings(x, np.full(90, 1.5), DiarizeConfig(num_speakers=2)))) == 2
    # more windows than are clustered at once: a subset is clustered, every window is assigned
    labels = cluster_embeddings(x, np.full(90, 1.5), DiarizeConfig(max_cluster_windows=30))
    assert labels.shape == (90,) and agreement(labels, truth) == 1.0


def test_small_clusters_fold_into_their_nearest_neighbour() -> None:
    x, truth = blobs(20, 2, spread=0.08)
    outlier, _ = blobs(1, 1, spread=0.0, seed=9)
    labels = cluster_embeddings(np.concatenate([x, outlier]), np.full(41, 1.5), DiarizeConfig(min_cluster_s=2.0))
    assert len(np.unique(labels)) == 2


def test_labels_to_turns_names_speakers_by_first_appearance() -> None:
    turns = labels_to_turns(np.array([1, 1, -1, 0, 0, 1]), "f")
    assert [(t.start, t.end, t.speaker) for t in turns] == [(0.0, 0.02, "SPK00"), (0.03, 0.05, "SPK01"),
                                                            (0.05, 0.06, "SPK00")]


def test_diarize_the_bundled_sample() -> None:
    result = diarize(SAMPLE.audio, "sample")
    assert result.n_speakers == 2
    assert all(0 <= t.start < t.end <= 30.0 and t.file_id == "sample" for t in result.turns)
    score = score_set(read_rttm(SAMPLE.rttm), {"sample": result.turns})
    assert score.der["collar 0"].total.der < 0.25
    assert 20 < result.speech_s < 26  # the reference has 22.4 s of speech


def test_diarize_silence_gives_no_turns(tmp_path: Path) -> None:
    sf.write(tmp_path / "quiet.wav", np.zeros(16_000 * 5, np.float32), 16_000)
    result = diarize(tmp_path / "quiet.wav")
    assert result.turns == [] and result.n_speakers == 0


def test_cli_diarize_writes_an_rttm(tmp_path: Path, capsys) -> None:
    out = tmp_path / "hyp.rttm"
    assert main(["diarize", str(SAMPLE.audio), "-o", str(out), "--num-speakers", "2"]) == 0
    turns = read_rttm(out)["sample"]
    assert {t.speaker for t in turns} == {"SPK00", "SPK01"}
    assert "RTF" in capsys.readouterr().out


def test_cli_diarize_bad_settings_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["diarize", str(SAMPLE.audio), "-o", str(tmp_path / "h.rttm"), "--method", "simple",
                 "--pruning", "2"]) == 2
    assert "pruning must be in (0, 1]" in capsys.readouterr().err
    assert main(["diarize", str(SAMPLE.audio), "-o", str(tmp_path / "h.rttm"), "--pruning", "0.5"]) == 2
    assert "--pruning is an option of another diarizer than --method segmentation" in capsys.readouterr().err
    assert main(["diarize", str(SAMPLE.audio), "-o", str(tmp_path / "h.rttm"), "--method", "simple",
                 "--step", "2"]) == 2
    assert not (tmp_path / "h.rttm").exists()


def _demo_der(out: Path) -> dict[str, float]:
    scores = json.loads((out / "scores.json").read_text())
    return {s["name"]: s["der"]["collar 0"]["der"] for s in scores["systems"]}


def test_demo_without_arguments_runs_on_the_bundled_sample(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["demo"]) == 0
    printed = capsys.readouterr().out
    assert "hypothesis" in printed and "refined" in printed and "DER c0" in printed and "moved" in printed
    out = tmp_path / "diarefine_demo"
    der = _demo_der(out)
    assert list(der) == ["hypothesis", "bic", "overlap-match", "pause-match", "segmentation-snap", "silence-snap", "similarity", "refined"]
    assert der["hypothesis"] < 0.08  # segmentation-3.0 + CAM++: 5.8% (the simple diarizer: 16.9%)
    # a strong hypothesis is left almost alone: the confidence gate moves 1 of its 10 changes (+0.02 points)
    assert der["refined"] <= der["hypothesis"] + 0.005
    assert (out / "timelines.png").stat().st_size > 10_000
    assert read_rttm(out / "refined.rttm")["sample"]


def test_demo_with_the_simple_diarizer_lowers_the_sample_der(tmp_path: Path) -> None:
    assert main(["demo", "--method", "simple", "--out", str(tmp_path / "demo"), "--no-classical"]) == 0
    der = _demo_der(tmp_path / "demo")
    assert der["refined"] <= der["hypothesis"] + 1e-9  # refinement does not raise the sample's collar-0 DER


def test_demo_on_a_given_hypothesis(tmp_path: Path, capsys) -> None:
    hyp = tmp_path / "hyp.rttm"
    hyp.write_text(format_rttm(jitter_changes(read_rttm(SAMPLE.rttm)["sample"], seed=1)))
    assert main(["demo", "--audio", str(SAMPLE.audio), "--ref", str(SAMPLE.rttm), "--hyp", str(hyp),
                 "--out", str(tmp_path / "out"), "--threshold", "0.3"]) == 0
    assert f"hypothesis from {hyp}" in capsys.readouterr().out.replace("\n", "")
    assert main(["demo", "--audio", str(SAMPLE.audio)]) == 2
