"""Re-mix: new conversations from harvested stretches, with the simulator's turn taking.

The stretches of each recording are written out as single-speaker source files and dealt
round-robin over at most ``conversations_per_recording`` conversations (fewer when there are
few stretches, so that each conversation gets two speakers; `plan_groups`), so that a stretch
is used in at most one of them (and the simulator never reuses
audio within one). By default a conversation holds only speakers of one recording: same room,
microphones and channel, so the boundary a model learns to find is a change of speaker, not of
acoustics; with ``across_recordings`` all recordings are one pool (for corpora of one channel
whose recordings are short or have one speaker each). The true
boundaries of the result are exact by construction; audio / RTTM / UEM / manifest are written
as ``diarefine simulate`` writes them (`simulate.corpus.simulate_conversations`).
"""

from __future__ import annotations

import tempfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import DiarefineError
from ..simulate.conversation import TurnTaking
from ..simulate.corpus import (
    Acoustics,
    SimulationConfig,
    SimulationSummary,
    simulate_conversations,
)
from ..units import SAMPLE_RATE
from .harvest import Stretch


@dataclass(frozen=True)
class RemixConfig:
    """How harvested stretches become conversations."""

    conversations_per_recording: int = 4  # each speaker's stretches are dealt over these
    seed: int = 0
    turn_taking: TurnTaking = field(default_factory=TurnTaking)
    speaker_gain_db: tuple[float, float] = (-3.0, 0.0)  # levels stay close to the recording's own
    across_recordings: bool = False  # one pool of all recordings' speakers (ids "all-mix<i>")

    def __post_init__(self) -> None:
        if self.conversations_per_recording < 1:
            raise ValueError("conversations_per_recording must be at least 1")


def write_sources(stretches: Sequence[Stretch], audio: Mapping[str, np.ndarray], folder: Path
                  ) -> dict[str, dict[str, list[Path]]]:
    """Each stretch as ``folder/<file id>/<speaker>/<k>.wav`` (16 kHz, cut from ``audio[file id]``);
    returns file id -> speaker -> its source files, in time order."""
    out: dict[str, dict[str, list[Path]]] = {}
    for s in sorted(stretches, key=lambda s: (s.file_id, s.speaker, s.start)):
        files = out.setdefault(s.file_id, {}).setdefault(s.speaker, [])
        path = folder / s.file_id / s.speaker / f"{len(files):04d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        samples = audio[s.file_id][int(round(s.start * SAMPLE_RATE)):int(round(s.end * SAMPLE_RATE))]
        sf.write(path, samples, SAMPLE_RATE, subtype="FLOAT")
        files.append(path)
    return out


def plan_groups(sources: Mapping[str, Mapping[str, Sequence[Path]]], config: RemixConfig
                ) -> list[tuple[str, dict[str, list[Path]]]]:
    """(conversation id, {speaker: source files}) of every conversation.

    Per recording (or, with ``across_recordings``, over all of them, speakers named
    ``<file id>_<speaker>``, up to ``conversations_per_recording`` per recording): the files,
    shuffled per speaker (seeded by the pool), are dealt round-robin, one speaker after another
    without restarting, over ``min(conversations_per_recording, files // 2)`` conversations, so
    that each gets about two or more stretches of different speakers; a conversation left with one
    speaker joins the one before it (or after). Every file is used once; a pool of one speaker
    gives none. Ids are ``<file id>-mix<i>`` (``all-mix<i>``)."""
    pools = {fid: dict(speakers) for fid, speakers in sources.items()}
    cap = config.conversations_per_recording
    if config.across_recordings:
        pools = {"all": {f"{fid}_{spk}": files for fid in sorted(sources) for spk, files in sources[fid].items()}}
        cap *= len(sources)
    groups = []
    for pool_id in sorted(pools):
        speakers = {spk: list(files) for spk, files in pools[pool_id].items() if files}
        if len(speakers) < 2:
            continue
        rng = np.random.default_rng([config.seed, zlib.crc32(pool_id.encode())])
        dealt = [(spk, speakers[spk][i]) for spk in sorted(speakers) for i in rng.permutation(len(speakers[spk]))]
        slots: list[dict[str, list[Path]]] = [{} for _ in range(max(1, min(cap, len(dealt) // 2)))]
        for k, (speaker, path) in enumerate(dealt):
            slots[k % len(slots)].setdefault(speaker, []).append(path)
        merged: list[dict[str, list[Path]]] = []
        for slot in slots:
            if len(slot) >= 2 or not merged:
                merged.append(slot)
            else:
                for speaker, files in slot.items():
                    merged[-1].setdefault(speaker, []).extend(files)
        if len(merged) > 1 and len(merged[0]) < 2:  # the first one had one speaker: joins the next
            for speaker, files in merged.pop(0).items():
                merged[0].setdefault(speaker, []).extend(files)
        groups += [(f"{pool_id}-mix{i:02d}", slot) for i, slot in enumerate(merged)]
    return groups


def remix_sources(sources: Mapping[str, Mapping[str, Sequence[Path]]], out_dir: str | Path,
                  config: RemixConfig = RemixConfig(), workers: int = 1, overwrite: bool = False,
                  progress=None) -> SimulationSummary:
    """Conversations of the source files `write_sources` wrote (file id -> speaker -> files), written
    to ``out_dir`` like ``simulate``'s output."""
    groups = plan_groups(sources, config)
    if not groups:
        raise DiarefineError("no recording has harvested speech of two speakers: nothing to re-mix "
                             "(give more or longer recordings, lower the harvest's min_solo_s / min_cosine, "
                             "or mix across recordings)")
    simulation = SimulationConfig(seed=config.seed, turn_taking=config.turn_taking,
                                  acoustics=Acoustics(speaker_gain_db=config.speaker_gain_db))
    return simulate_conversations(groups, out_dir, simulation, workers, overwrite, progress)


def remix(stretches: Sequence[Stretch], audio: Mapping[str, np.ndarray], out_dir: str | Path,
          config: RemixConfig = RemixConfig(), workers: int = 1, overwrite: bool = False,
          progress=None) -> SimulationSummary:
    """Conversations of the stretches' own speakers (cut from ``audio``: file id -> 16 kHz samples),
    written to ``out_dir`` like ``simulate``'s output."""
    with tempfile.TemporaryDirectory(prefix="diarefine-remix-") as folder:
        return remix_sources(write_sources(stretches, audio, Path(folder)), out_dir, config, workers, overwrite,
                             progress)
