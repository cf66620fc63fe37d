"""Harvesting single-speaker stretches from a hypothesis (issue 18's first step): regions, margins,
pauses, and the cosine filter with a stub embedder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from fixtures import speechlike

from diarefine.adapt import (
    HarvestConfig,
    harvest_file,
    shrink,
    snap_to_pauses,
    solo_regions,
)
from diarefine.embeddings.base import SpeakerEmbedder
from diarefine.types import Turn


def test_solo_regions_leave_out_overlap_and_short_regions() -> None:
    turns = [Turn("f", 0, 5, "A"), Turn("f", 4, 9, "B"), Turn("f", 9.5, 10.5, "A"), Turn("f", 12, 20, "A"),
             Turn("f", 15, 16, "C")]
    regions = solo_regions(turns, min_solo_s=2.0)
    assert regions["A"].tolist() == [[0.0, 4.0], [12.0, 15.0], [16.0, 20.0]]  # 9.5-10.5 is too short
    assert regions["B"].tolist() == [[5.0, 9.0]] and len(regions["C"]) == 0


def test_margins_and_pauses_move_ends_inwards_only() -> None:
    regions = np.array([[0.0, 4.0], [10.0, 11.5]])
    shrunk = shrink(regions, 0.5)
    assert shrunk.tolist() == [[0.5, 3.5], [10.5, 11.0]]
    pauses = np.array([0.2, 0.8, 2.0, 3.3, 10.6])
    snapped = snap_to_pauses(shrunk, pauses, snap_s=0.5, min_keep_s=1.0)
    assert snapped.tolist() == [[0.8, 3.3]]  # the second is under min_keep_s once snapped
    assert snap_to_pauses(shrunk, np.zeros(0), 0.5, 0.4).tolist() == shrunk.tolist()  # no pause: kept as shrunk


class StubEmbedder(SpeakerEmbedder):
    """Speaker label -> a fixed direction, except spans inside ``impostor`` which get another one
    (a clustering error of the system: speech of somebody else labelled with this speaker)."""

    name = "stub"

    def __init__(self, impostor: tuple[float, float]) -> None:
        super().__init__()
        self.impostor = impostor

    @property
    def dim(self) -> int:
        return 4

    def embed_spans(self, audio: np.ndarray, spans: np.ndarray, speakers: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(spans), 4), np.float32)
        for i, ((start, end), speaker) in enumerate(zip(spans, speakers)):
            inside = self.impostor[0] <= start and end <= self.impostor[1]
            out[i, 3 if inside else "AB".index(speaker)] = 1.0
        return out


def test_harvest_keeps_single_speaker_speech_and_drops_what_disagrees_with_its_speaker() -> None:
    audio = np.concatenate([speechlike(20.0, seed=1, f0=120), speechlike(20.0, seed=2, f0=220)])
    turns = [Turn("f", 0.0, 6.0, "A"), Turn("f", 6.0, 12.0, "A"), Turn("f", 12.5, 20.0, "B"),
             Turn("f", 19.0, 26.0, "A"), Turn("f", 27.0, 33.0, "A"), Turn("f", 33.5, 40.0, "B")]
    embedder = StubEmbedder(impostor=(26.5, 33.5))  # the 27-33 s "A" turn is somebody else
    stretches, stats = harvest_file(audio, turns, embedder, HarvestConfig(min_cosine=0.7))
    assert stats.speech_s >= stats.solo_s >= stats.after_margins_s >= stats.after_pauses_s >= stats.kept_s > 0
    assert stats.n_stretches == len(stretches) and {s.speaker for s in stretches} == {"A", "B"}
    solo = solo_regions(turns, 2.0)
    for s in stretches:  # inside a single-speaker region of its speaker, margins respected, long enough
        assert any(lo + 0.5 - 1e-9 <= s.start and s.end <= hi - 0.5 + 1e-9 for lo, hi in solo[s.speaker])
        assert s.duration >= 1.0 and s.cosine >= 0.7
        assert not (26.5 <= s.start and s.end <= 33.5)  # the impostor stretch was filtered out
    removed = stats.after_pauses_s - stats.kept_s  # by the cosine filter: the impostor's 27-33 s turn,
    assert 5.0 - 2 * 0.5 - 1e-9 <= removed <= 5.0 + 1e-9  # less 2 x 0.5 s margins, less at most 2 x 0.5 s snaps
    assert harvest_file(audio, turns, embedder, HarvestConfig(min_cosine=0.7))[0] == stretches  # deterministic


def test_remix_makes_conversations_of_one_recordings_speakers_each_stretch_used_once(tmp_path) -> None:
    import json
    from pathlib import Path

    from diarefine.adapt import RemixConfig, Stretch, remix
    from diarefine.audio import load_audio
    from diarefine.rttm import read_rttm

    audio = {fid: np.concatenate([speechlike(30.0, seed=k, f0=110 + 60 * k), speechlike(30.0, seed=k + 5, f0=260)])
             for k, fid in enumerate(("rec1", "rec2"))}
    stretches = [Stretch(fid, spk, float(t), float(t + 4.5), 1.0) for fid in audio
                 for spk, first in (("A", 0.0), ("B", 30.0)) for t in np.arange(first, first + 25.0, 5.0)]
    summary = remix(stretches, audio, tmp_path / "mix", RemixConfig(conversations_per_recording=2, seed=3))
    manifest = json.loads((tmp_path / "mix" / "manifest.json").read_text())
    ids = [c["file_id"] for c in manifest["conversations"]]
    assert ids == ["rec1-mix00", "rec1-mix01", "rec2-mix00", "rec2-mix01"] and len(summary.conversations) == 4
    used = [src for c in manifest["conversations"] for src in c["sources"]]
    assert len(used) == len(set(used))  # no stretch in two conversations
    for c in manifest["conversations"]:
        assert {Path(src).parts[-3] for src in c["sources"]} == {c["file_id"].split("-")[0]}  # one recording each
        turns = read_rttm(tmp_path / "mix" / "rttm" / f"{c['file_id']}.rttm")[c["file_id"]]
        mix = load_audio(tmp_path / "mix" / "audio" / f"{c['file_id']}.wav")
        assert {t.speaker for t in turns} == {"A", "B"} and max(t.end for t in turns) <= len(mix) / 16000
        speech = np.zeros(len(mix), bool)  # the RTTM agrees with the audio: the energy is inside its turns
        for t in turns:
            speech[int(t.start * 16000):int(t.end * 16000)] = True
        assert np.sqrt(np.mean(mix[speech] ** 2)) > 30 * np.sqrt(np.mean(mix[~speech] ** 2))
        assert np.abs(mix[:int(0.4 * 16000)]).max() < 1e-3
    remix(stretches, audio, tmp_path / "again", RemixConfig(conversations_per_recording=2, seed=3))
    assert all((tmp_path / "mix" / "rttm" / f"{i}.rttm").read_text() == (tmp_path / "again" / "rttm" / f"{i}.rttm")
               .read_text() for i in ids)  # deterministic by seed


def test_plan_groups_deal_each_file_once_and_can_mix_across_recordings() -> None:
    from pathlib import Path

    from diarefine.adapt import RemixConfig, plan_groups

    sources = {"r1": {"A": [Path(f"r1/A/{i}") for i in range(5)], "B": [Path(f"r1/B/{i}") for i in range(2)]},
               "r2": {"C": [Path("r2/C/0")]}}  # one speaker: no conversation of its own
    groups = plan_groups(sources, RemixConfig(conversations_per_recording=4, seed=1))
    assert [g for g, _ in groups] == ["r1-mix00", "r1-mix01"]  # 7 files over 3, one left with A only: merged
    used = [f for _, speakers in groups for files in speakers.values() for f in files]
    assert sorted(used) == sorted(sources["r1"]["A"] + sources["r1"]["B"])  # each once, none lost
    assert all(len(speakers) >= 2 for _, speakers in groups)
    mixed = plan_groups(sources, RemixConfig(conversations_per_recording=4, seed=1, across_recordings=True))
    assert len(mixed) >= 3 and all(g.startswith("all-mix") and len(speakers) >= 2 for g, speakers in mixed)
    assert {spk for _, speakers in mixed for spk in speakers} == {"r1_A", "r1_B", "r2_C"}
    assert sum(len(files) for _, speakers in mixed for files in speakers.values()) == 8


def test_choose_threshold_minimises_the_distance_to_the_true_boundaries() -> None:
    from diarefine.adapt import choose_threshold, refinement_cost

    true = np.array([0.3, -0.2, 0.4, np.nan, np.nan])
    change = ~np.isnan(true)
    offset = np.array([0.3, -0.2, -0.5, 0.8, 0.0])  # right, right, wrong, moves a no-change window, stays
    confidence = np.array([0.95, 0.85, 0.6, 0.7, 0.9])
    threshold, costs = choose_threshold(offset, confidence, true, change, (0.5, 0.65, 0.8, 1.0))
    assert threshold == 0.8 and costs[1.0] == refinement_cost(np.zeros(5), true, change)
    assert costs[0.8] < costs[0.65] < costs[0.5] and costs[0.8] < costs[1.0]


def test_adapt_end_to_end_on_the_sample_with_a_tiny_model(tmp_path) -> None:
    """Harvest -> re-mix -> prepare -> fine-tune -> threshold on the bundled sample, then refine with the
    adapted checkpoint: it carries its threshold and what it was adapted on; same seed, same weights."""
    import torch
    from fixtures import tiny_contrastive_checkpoint

    from diarefine.adapt import AdaptConfig, adapt
    from diarefine.models import load_checkpoint
    from diarefine.refine import Refiner
    from diarefine.refine.files import open_input
    from diarefine.rttm import read_rttm
    from diarefine.samples import bundled_sample

    sample = bundled_sample()
    start = tiny_contrastive_checkpoint(tmp_path / "tiny.pt", inference_profile={"max_speech_s": 9.0})
    hypothesis = open_input(sample.audio, read_rttm(sample.rttm)["sample"])
    config = AdaptConfig(max_epochs=2, minutes=2.0, draws_per_change=4, seed=5)
    result = adapt([hypothesis], tmp_path / "adapted.pt", start, config, work_dir=tmp_path / "work")
    assert result.checkpoint.is_file() and result.card.is_file()
    assert result.harvest[0].kept_s > 5.0 and result.n_conversations >= 2 and result.n_held_out_conversations >= 1
    assert result.n_train_windows > 0 and result.n_held_out_windows > 0 and 1 <= result.epochs <= 2
    assert result.after.cost_s <= result.before_retuned.cost_s + 1e-9  # never worse than the starting weights
    adapted = load_checkpoint(result.checkpoint)
    assert adapted.threshold == result.threshold and adapted.adaptation["files"] == ["sample"]
    assert adapted.adaptation["from"] == str(start) and adapted.front_end == load_checkpoint(start).front_end
    card = result.card.read_text()
    assert f"adapted from `{start}`" in card and "`sample`" in card and f"**{result.threshold:g}**" in card
    refiner = Refiner(result.checkpoint)
    assert refiner.threshold == result.threshold  # refine uses the tuned threshold by default
    assert adapted.inference_profile == {"max_speech_s": 9.0} and adapted.profile is None  # the start's, at refine
    assert refiner.profile.max_speech_s == 9.0 and Refiner(start).profile.max_speech_s == 9.0
    assert Refiner(result.checkpoint, threshold=0.2).threshold == 0.2
    assert refiner.refine_input(hypothesis).turns
    again = adapt([hypothesis], tmp_path / "again.pt", start, config)
    assert result.kept_start_weights == again.kept_start_weights and again.work_dir is None
    for key, value in adapted.model.state_dict().items():
        assert torch.equal(value, load_checkpoint(again.checkpoint).model.state_dict()[key]), key


def test_adapt_command_writes_the_checkpoint_and_card_or_nothing(tmp_path, capsys) -> None:
    import soundfile as sf
    from fixtures import tiny_contrastive_checkpoint

    from diarefine.cli import main
    from diarefine.samples import bundled_sample

    sample = bundled_sample()
    start = tiny_contrastive_checkpoint(tmp_path / "tiny.pt")
    stereo = tmp_path / "call.wav"  # another rate and two channels: resampled and mixed down, not refused
    mono, _ = sf.read(sample.audio, dtype="float32")
    from scipy.signal import resample_poly
    wide = resample_poly(mono, 3, 1)[:, None] * np.array([[1.0, 0.5]])
    sf.write(stereo, wide.astype(np.float32), 48_000)
    hyp = tmp_path / "call.rttm"
    hyp.write_text(sample.rttm.read_text().replace("sample", "call"))
    typo = tmp_path / "adapt.toml"
    typo.write_text("[adapt]\nmax_epoch = 2\n")
    out = tmp_path / "out" / "adapted.pt"
    common = ["adapt", "--audio", str(stereo), "--rttm", str(hyp), "-o", str(out), "--from", str(start), "--quiet",
              "--jobs", "1"]
    assert main([*common, "--config", str(typo)]) == 2
    assert "max_epoch" in capsys.readouterr().err and not out.exists()
    assert main([*common, "--audio-dir", str(tmp_path)]) == 2  # one recording or folders, not both
    assert main([*common, "--epochs", "1", "--seed", "3", "--error-model", "pyannote-like"]) == 0
    printed = capsys.readouterr().out
    assert "held-out MAE" in printed and out.is_file() and out.with_suffix(".md").is_file()
    assert sorted(p.name for p in out.parent.iterdir()) == ["adapted.md", "adapted.pt"]  # no temporary left
