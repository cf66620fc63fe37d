"""``diarefine simulate``: a corpus of simulated conversations (audio/, rttm/, uem/, manifest.json).

Deterministic by seed: conversation i of split k draws everything from
``default_rng([seed, k, i])``, so the output does not depend on the number of workers.
Speakers can be split into disjoint train / dev / test sets (``splits``); each split is a
folder with the same layout. ``speed_factors`` adds voices: each speaker may also speak at those
speeds (`sources.change_speed`), labelled as speakers of their own in its split. The corpus is
written under a temporary name and renamed into place when complete.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile as sf

from ..changes import find_changes
from ..config import to_dict
from ..errors import DiarefineError
from ..rttm import write_rttm, write_uem
from ..types import Region
from ..units import SAMPLE_RATE
from ..workers import process_pool
from .acoustics import add_noise, coloured_noise, looped, reverberate, synthetic_rir
from .conversation import TurnTaking, build_conversation
from .sources import SPEED_RANGE, SourceRef, find_speech_files, load_source, voice_name

MANIFEST_SCHEMA = "diarefine.simulation/1"


@dataclass(frozen=True)
class Acoustics:
    speaker_gain_db: tuple[float, float] = (-6.0, 0.0)
    noise: Literal["none", "coloured", "recorded"] = "none"
    noise_dir: str = ""  # folder of noise recordings for noise = "recorded"
    snr_db: tuple[float, float] = (10.0, 30.0)
    reverb_prob: float = 0.0
    rt60_s: tuple[float, float] = (0.2, 0.7)


@dataclass(frozen=True)
class SimulationConfig:
    num_conversations: int = 100
    seed: int = 0
    speaker_regex: str = ""
    splits: tuple[tuple[str, float], ...] = ()  # e.g. (("train", 0.8), ("dev", 0.1), ("test", 0.1))
    turn_taking: TurnTaking = field(default_factory=TurnTaking)
    acoustics: Acoustics = field(default_factory=Acoustics)
    #: Extra voices: each speaker of a conversation speaks at 1 or one of these speeds (drawn evenly),
    #: labelled ``SPEAKER-spSPEED``; never two voices of one speaker in a conversation. E.g. (0.9, 1.1).
    speed_factors: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        lo, hi = SPEED_RANGE
        out_of_range = [f for f in self.speed_factors if not lo <= f <= hi or f == 1.0]
        if out_of_range or len(set(self.speed_factors)) != len(self.speed_factors):
            raise ValueError(f"speed_factors must be distinct speeds in [{lo:g}, {hi:g}] other than 1 "
                             f"(e.g. 0.9, 1.1), got {list(self.speed_factors)}")


def parse_splits(text: str) -> tuple[tuple[str, float], ...]:
    """``"train=0.8,dev=0.1,test=0.1"`` -> (("train", 0.8), ...); shares must sum to 1.

    >>> parse_splits("train=8,dev=1,test=1")
    (('train', 0.8), ('dev', 0.1), ('test', 0.1))
    """
    try:
        pairs = [(name.strip(), float(share)) for name, share in (item.split("=") for item in text.split(","))]
    except ValueError:
        raise DiarefineError(f"--splits {text!r}: expected NAME=SHARE,NAME=SHARE (e.g. train=0.8,dev=0.1,test=0.1)") from None
    total = sum(share for _, share in pairs)
    if total <= 0 or any(share < 0 for _, share in pairs) or len({n for n, _ in pairs}) != len(pairs):
        raise DiarefineError(f"--splits {text!r}: shares must be non-negative with distinct names")
    return tuple((name, round(share / total, 6)) for name, share in pairs)


def parse_speed_factors(text: str) -> tuple[float, ...]:
    """``"0.9,1.1"`` -> (0.9, 1.1) (checked by `SimulationConfig`).

    >>> parse_speed_factors("0.9, 1.1")
    (0.9, 1.1)
    """
    try:
        return tuple(float(f) for f in text.split(","))
    except ValueError:
        raise DiarefineError(f"--speed-perturb {text!r}: expected speeds separated by commas (e.g. 0.9,1.1)") from None


def _allocate(n: int, shares: list[float]) -> list[int]:
    """Split n items by shares (largest remainder), at least one per positive share when n allows."""
    raw = np.array(shares) * n
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts))[: n - counts.sum()]:
        counts[i] += 1
    for i in range(len(counts)):
        if shares[i] > 0 and counts[i] == 0 and counts.max() > 1:
            counts[i] += 1
            counts[np.argmax(counts)] -= 1
    return counts.tolist()


@dataclass(frozen=True)
class Job:
    split_index: int
    index: int
    file_id: str
    out_dir: str
    speaker_files: dict[str, list[SourceRef]]  # speaker label (a voice) -> its sources


def _render(job: Job, config: SimulationConfig, noise_files: list[str]) -> dict:
    """Build, render and write one conversation; returns its manifest entry."""
    rng = np.random.default_rng([config.seed, job.split_index, job.index, 1])
    tt, ac = config.turn_taking, config.acoustics
    conv = build_conversation(job.file_id, job.speaker_files, tt, rng)
    if not conv.placements:
        raise DiarefineError(f"{job.file_id}: the speakers' recordings hold no detectable speech")
    gains = {s: float(rng.uniform(*ac.speaker_gain_db)) for s in conv.speakers}
    tracks = conv.speaker_tracks(gains)
    if ac.reverb_prob > 0 and rng.random() < ac.reverb_prob:
        tracks = {s: reverberate(t, synthetic_rir(rng.uniform(*ac.rt60_s), rng)) for s, t in tracks.items()}
    mix = np.sum(list(tracks.values()), axis=0)
    turns = conv.turns(tt.split_pause_s)
    speech = np.zeros(len(mix), bool)
    for t in turns:
        speech[int(t.start * SAMPLE_RATE): int(t.end * SAMPLE_RATE)] = True
    snr = None
    if ac.noise != "none":
        snr = float(rng.uniform(*ac.snr_db))
        if ac.noise == "coloured":
            noise = coloured_noise(len(mix), float(rng.uniform(0.0, 2.0)), rng)
        else:
            noise = looped(load_source(Path(noise_files[rng.integers(len(noise_files))])).samples, len(mix), rng)
        mix = add_noise(mix, noise, snr, speech)
    peak = float(np.max(np.abs(mix))) if mix.size else 0.0
    if peak > 0.95:
        mix *= 0.95 / peak
    out = Path(job.out_dir)
    sf.write(out / "audio" / f"{job.file_id}.wav", mix, SAMPLE_RATE, subtype="PCM_16")
    write_rttm(turns, out / "rttm" / f"{job.file_id}.rttm")
    duration = len(mix) / SAMPLE_RATE
    write_uem([Region(job.file_id, 0.0, duration)], out / "uem" / f"{job.file_id}.uem")  # Region quantizes
    return {"file_id": job.file_id, "speakers": conv.speakers, "duration_s": round(duration, 3),
            "n_turns": len(turns), "n_changes": len(find_changes(turns)), "snr_db": snr,
            "sources": sorted({SourceRef(str(p.piece.source.path), p.piece.source.speed).label()
                               for p in conv.placements})}


def _render_star(args) -> dict:
    return _render(*args)


@dataclass(frozen=True)
class SimulationSummary:
    out_dir: Path
    conversations: list[dict]

    @property
    def total_duration_s(self) -> float:
        return float(sum(c["duration_s"] for c in self.conversations))

    def summary_line(self) -> str:
        """``wrote N conversations (M min, K speaker changes) to OUT``."""
        n_changes = sum(c["n_changes"] for c in self.conversations)
        return (f"wrote {len(self.conversations)} conversations ({self.total_duration_s / 60:.1f} min, "
                f"{n_changes} speaker changes) to {self.out_dir}")


def _plan_jobs(by_speaker: dict[str, list[Path]], config: SimulationConfig, tmp: Path) -> tuple[list[Job], dict]:
    """Split speakers and conversations, choose each conversation's speakers; make the split folders."""
    lo_spk, hi_spk = config.turn_taking.n_speakers
    splits = config.splits or (("", 1.0),)
    names = sorted(by_speaker)
    order = np.random.default_rng([config.seed, 0]).permutation(len(names))
    speaker_counts = _allocate(len(names), [share for _, share in splits])
    conv_counts = _allocate(config.num_conversations, [share for _, share in splits])
    jobs, split_speakers, start = [], {}, 0
    for k, ((split, _), n_spk, n_conv) in enumerate(zip(splits, speaker_counts, conv_counts)):
        speakers = sorted(names[i] for i in order[start:start + n_spk])
        start += n_spk
        voices = (1.0, *config.speed_factors)
        split_speakers[split or "all"] = sorted(voice_name(s, f) for s in speakers for f in voices)
        if n_conv and len(speakers) < lo_spk:
            raise DiarefineError(f"split {split or 'all'!r} has {len(speakers)} speaker(s); a conversation needs "
                                 f"at least {lo_spk} (give more speakers or other --splits)")
        folder = tmp / split if split else tmp
        for sub in ("audio", "rttm", "uem"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        for i in range(n_conv):
            rng = np.random.default_rng([config.seed, k, i])
            n = min(int(rng.integers(lo_spk, hi_spk + 1)), len(speakers))
            chosen = sorted(rng.choice(speakers, size=n, replace=False).tolist())
            speeds = [1.0] * n if not config.speed_factors else rng.choice((1.0, *config.speed_factors), size=n)
            jobs.append(Job(k, i, f"{split or 'sim'}{i:05d}", str(folder),
                            {voice_name(s, float(f)): [SourceRef(str(p), float(f)) for p in by_speaker[s]]
                             for s, f in zip(chosen, speeds)}))
    return jobs, split_speakers


def _run_jobs(jobs: list[Job], config: SimulationConfig, noise_files: list[str], workers: int, progress) -> list[dict]:
    args = [(job, config, noise_files) for job in jobs]
    entries: list[dict] = []
    pool = process_pool(workers) if workers > 1 else None
    try:
        results = pool.map(_render_star, args, chunksize=4) if pool else map(_render_star, args)
        for entry in results:
            entries.append(entry)
            if progress:
                progress(len(entries))
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    return entries


def simulate_corpus(speech_dir: str | Path, out_dir: str | Path, config: SimulationConfig = SimulationConfig(),
                    workers: int = 1, overwrite: bool = False, progress=None) -> SimulationSummary:
    """Simulate ``config.num_conversations`` conversations from the recordings under ``speech_dir``."""
    if config.num_conversations < 1:
        raise DiarefineError("--num-conversations must be at least 1")
    by_speaker = find_speech_files(speech_dir, config.speaker_regex or None)
    return _write_corpus(out_dir, overwrite, lambda tmp: _plan_jobs(by_speaker, config, tmp), config, workers,
                         progress, {"speech_dir": str(speech_dir)})


def simulate_conversations(groups: Sequence[tuple[str, dict[str, list[Path]]]], out_dir: str | Path,
                           config: SimulationConfig = SimulationConfig(), workers: int = 1, overwrite: bool = False,
                           progress=None) -> SimulationSummary:
    """One conversation per (file id, {speaker: source files}) of ``groups``, with the turn taking and
    acoustics of ``config`` (its speaker and conversation counts and splits are not used): the
    caller chooses who talks with whom (``diarefine adapt``: speakers of one recording)."""
    if not groups:
        raise DiarefineError("no conversations to simulate")

    def plan(tmp: Path) -> tuple[list[Job], dict]:
        for sub in ("audio", "rttm", "uem"):
            (tmp / sub).mkdir(parents=True, exist_ok=True)
        jobs = [Job(0, i, file_id, str(tmp), {spk: [SourceRef(str(f)) for f in fs] for spk, fs in speakers.items()})
                for i, (file_id, speakers) in enumerate(groups)]
        return jobs, {file_id: sorted(speakers) for file_id, speakers in groups}

    return _write_corpus(out_dir, overwrite, plan, config, workers, progress, {})


def _write_corpus(out_dir: str | Path, overwrite: bool, plan, config: SimulationConfig, workers: int, progress,
                  manifest_extra: dict) -> SimulationSummary:
    """Render the jobs ``plan(tmp)`` lays out in a temporary folder, write the manifest, then rename
    it to ``out_dir`` (nothing is left behind on failure)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise DiarefineError(f"{out_dir}: output folder exists and is not empty (choose another or pass --overwrite)")
    noise_files = []
    if config.acoustics.noise == "recorded":
        noise_files = [str(p) for files in find_speech_files(config.acoustics.noise_dir).values() for p in files]
    tmp = out_dir.parent / f".{out_dir.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        jobs, split_speakers = plan(tmp)
        entries = _run_jobs(jobs, config, noise_files, workers, progress)
        manifest = {"schema": MANIFEST_SCHEMA, **manifest_extra, "config": to_dict(config),
                    "speakers": split_speakers, "conversations": entries}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return SimulationSummary(out_dir, entries)


__all__ = ["Acoustics", "SimulationConfig", "SimulationSummary", "TurnTaking", "parse_speed_factors", "parse_splits",
           "simulate_conversations", "simulate_corpus"]
