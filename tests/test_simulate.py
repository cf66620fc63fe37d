"""Simulated conversations: determinism, RTTM / audio agreement, speaker splits, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fixtures import make_speech_dir

from diarefine.changes import find_changes
from diarefine.cli import main
from diarefine.errors import DiarefineError, InputFileError
from diarefine.rttm import read_rttm, read_uem
from diarefine.simulate import Acoustics, SimulationConfig, parse_splits, simulate_corpus
from diarefine.simulate.sources import change_speed, find_speech_files


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory) -> Path:
    return make_speech_dir(tmp_path_factory.mktemp("speech"))


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name != "manifest.json"}


def test_speakers_are_found_recursively_by_the_first_name_field(speech_dir: Path) -> None:
    found = find_speech_files(speech_dir)
    assert sorted(found) == ["100", "101", "102", "103"] and all(len(f) == 2 for f in found.values())
    by_regex = find_speech_files(speech_dir, r"^(?P<speaker>\d+)/")
    assert sorted(by_regex) == sorted(found)


def test_simulation_is_deterministic_and_independent_of_workers(speech_dir: Path, tmp_path: Path) -> None:
    config = SimulationConfig(num_conversations=3, seed=7)
    simulate_corpus(speech_dir, tmp_path / "a", config, workers=1)
    simulate_corpus(speech_dir, tmp_path / "b", config, workers=2)
    simulate_corpus(speech_dir, tmp_path / "c", SimulationConfig(num_conversations=3, seed=8))
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert a == b and len(a) == 9
    assert a != c


def test_rttm_speech_is_where_the_audio_has_energy(speech_dir: Path, tmp_path: Path) -> None:
    summary = simulate_corpus(speech_dir, tmp_path / "sim", SimulationConfig(num_conversations=2, seed=1))
    for entry in summary.conversations:
        fid = entry["file_id"]
        audio, rate = sf.read(tmp_path / "sim" / "audio" / f"{fid}.wav", dtype="float32")
        turns = read_rttm(tmp_path / "sim" / "rttm" / f"{fid}.rttm")[fid]
        uem = read_uem(tmp_path / "sim" / "uem" / f"{fid}.uem")[fid]
        assert rate == 16_000 and uem[0].end == pytest.approx(len(audio) / rate, abs=1e-3)
        speech = np.zeros(len(audio), bool)
        for t in turns:
            speech[int(t.start * rate):int(t.end * rate)] = True
        assert np.mean(audio[speech] ** 2) > 1000 * np.mean(audio[~speech] ** 2)  # silence outside turns
        frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)
        energy = np.mean(frames ** 2, axis=1)
        on = speech[: len(frames) * 160].reshape(-1, 160).all(axis=1)
        assert np.median(energy[on]) > 1e-4  # speech inside turns (pauses of < 0.5 s allowed)
        assert entry["n_changes"] == len(find_changes(turns)) and len(entry["speakers"]) >= 2
        assert {t.speaker for t in turns} <= set(entry["speakers"])


def test_source_audio_is_used_at_most_once_per_conversation(speech_dir: Path, tmp_path: Path) -> None:
    summary = simulate_corpus(speech_dir, tmp_path / "sim", SimulationConfig(num_conversations=2, seed=3))
    for entry in summary.conversations:
        fid = entry["file_id"]
        turns = read_rttm(tmp_path / "sim" / "rttm" / f"{fid}.rttm")[fid]
        per_speaker = {s: sum(t.duration for t in turns if t.speaker == s) for s in entry["speakers"]}
        assert all(total <= 2 * 6.0 + 1e-6 for total in per_speaker.values())  # each speaker owns 2 x 6 s


def test_splits_have_disjoint_speakers_and_their_own_folders(speech_dir: Path, tmp_path: Path) -> None:
    config = SimulationConfig(num_conversations=4, splits=parse_splits("train=0.5,test=0.5"),
                              acoustics=Acoustics(noise="coloured", reverb_prob=1.0))
    simulate_corpus(speech_dir, tmp_path / "sim", config)
    manifest = json.loads((tmp_path / "sim" / "manifest.json").read_text())
    train, test = set(manifest["speakers"]["train"]), set(manifest["speakers"]["test"])
    assert len(train) == len(test) == 2 and not train & test
    for split, speakers in (("train", train), ("test", test)):
        for rttm in (tmp_path / "sim" / split / "rttm").glob("*.rttm"):
            assert {t.speaker for ts in read_rttm(rttm).values() for t in ts} <= speakers


def test_bad_simulation_input_is_refused_without_output(tmp_path: Path, speech_dir: Path, capsys) -> None:
    with pytest.raises(InputFileError, match="speech folder not found"):
        simulate_corpus(tmp_path / "missing", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputFileError, match="no audio files"):
        simulate_corpus(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(DiarefineError, match="splits"):
        parse_splits("train0.8")
    with pytest.raises(DiarefineError, match="needs at least 2"):
        simulate_corpus(speech_dir, tmp_path / "out", SimulationConfig(splits=parse_splits("a=0.9,b=0.1")))
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.partial*"))
    assert main(["simulate", str(tmp_path / "missing"), "-o", str(tmp_path / "out")]) == 2
    assert "speech folder not found" in capsys.readouterr().err


def test_simulate_cli_writes_a_corpus(speech_dir: Path, tmp_path: Path, capsys) -> None:
    assert main(["simulate", str(speech_dir), "-o", str(tmp_path / "sim"), "--num-conversations", "2",
                 "--seed", "1", "--jobs", "1"]) == 0
    assert "wrote 2 conversations" in capsys.readouterr().out
    assert len(list((tmp_path / "sim" / "rttm").glob("*.rttm"))) == 2
    assert main(["simulate", str(speech_dir), "-o", str(tmp_path / "sim"), "--num-conversations", "2"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_simulate_reads_a_toml_config_and_refuses_typos(speech_dir: Path, tmp_path: Path, capsys) -> None:
    good = tmp_path / "sim.toml"
    good.write_text("[simulate]\nnum_conversations = 1\n[simulate.turn_taking]\nn_speakers = [2, 2]\n"
                    "overlap_prob = 0.0\n")
    assert main(["simulate", str(speech_dir), "-o", str(tmp_path / "sim"), "--config", str(good)]) == 0
    manifest = json.loads((tmp_path / "sim" / "manifest.json").read_text())
    assert len(manifest["conversations"]) == 1 and len(manifest["conversations"][0]["speakers"]) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text("[simulate.turn_taking]\noverlap_prb = 0.1\n")
    assert main(["simulate", str(speech_dir), "-o", str(tmp_path / "x"), "--config", str(bad)]) == 2
    assert "unknown key 'overlap_prb'" in capsys.readouterr().err


def test_change_speed_scales_tempo_and_pitch() -> None:
    t = np.arange(16_000) / 16_000
    tone = np.sin(2 * np.pi * 200 * t).astype(np.float32)  # 1 s at 200 Hz
    faster = change_speed(tone, 1.1)
    assert len(faster) == pytest.approx(16_000 / 1.1, abs=1)
    peak_hz = np.argmax(np.abs(np.fft.rfft(faster))) * 16_000 / len(faster)
    assert peak_hz == pytest.approx(220, abs=2)
    assert change_speed(tone, 1.0) is tone
    with pytest.raises(ValueError, match="speed"):
        change_speed(tone, 3.0)


def test_speed_factors_add_voices_of_their_own_in_the_speakers_split(speech_dir: Path, tmp_path: Path) -> None:
    config = SimulationConfig(num_conversations=8, seed=5, splits=parse_splits("train=0.5,test=0.5"),
                              speed_factors=(0.9, 1.1))
    simulate_corpus(speech_dir, tmp_path / "sim", config, workers=2)
    manifest = json.loads((tmp_path / "sim" / "manifest.json").read_text())
    voices = {split: set(v) for split, v in manifest["speakers"].items()}
    assert all(len(v) == 2 * 3 for v in voices.values()) and not voices["train"] & voices["test"]
    used = set()
    for entry in manifest["conversations"]:
        split = entry["file_id"].rstrip("0123456789")
        turns = read_rttm(tmp_path / "sim" / split / "rttm" / f"{entry['file_id']}.rttm")[entry["file_id"]]
        labels = {t.speaker for t in turns}
        assert labels <= voices[split] and labels <= set(entry["speakers"])
        persons = [s.split("-sp")[0] for s in entry["speakers"]]
        assert len(persons) == len(set(persons))  # never two voices of one speaker in a conversation
        for speaker in entry["speakers"]:  # a voice's sources are played at its speed
            speed = speaker.split("-sp")[1] if "-sp" in speaker else None
            mine = [s for s in entry["sources"] if Path(s.split("@")[0]).name.startswith(speaker.split("-sp")[0] + "-")]
            assert mine and all((s.split("@")[1] if "@" in s else None) == speed for s in mine)
        used |= labels
    assert any("-sp" in s for s in used) and any("-sp" not in s for s in used)
    again = tmp_path / "again"
    simulate_corpus(speech_dir, again, config, workers=1)
    assert _files(tmp_path / "sim") == _files(again)


def test_bad_speed_factors_are_refused(speech_dir: Path, tmp_path: Path, capsys) -> None:
    for bad, message in (("1.0", "other than 1"), ("0.9,x", "separated by commas"), ("0.2", "in \\[0.5, 2\\]")):
        assert main(["simulate", str(speech_dir), "-o", str(tmp_path / "out"), "--speed-perturb", bad]) == 2
        assert re.search(message, capsys.readouterr().err)
        assert not (tmp_path / "out").exists()
    toml = tmp_path / "sim.toml"
    toml.write_text("[simulate]\nspeed_factors = [0.9, 0.9]\n")
    assert main(["simulate", str(speech_dir), "-o", str(tmp_path / "out"), "--config", str(toml)]) == 2
    assert "distinct" in capsys.readouterr().err
