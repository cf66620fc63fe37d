"""Re-mix: new conversations from harvested stretches, with the simulator's turn taking.

The stretches of each recording are written out as single-speaker source files, each
speaker's shuffled and dealt round-robin over ``conversations_per_recording`` conversations, so
that a stretch is used in at most one of them (and the simulator never reuses audio within
one). A conversation holds only speakers of one recording: same room, microphones and channel,
so the boundary a model learns to find is a change of speaker, not of acoustics. The true
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
    """(conversation id, {speaker: source files}) of every conversation: per recording, each
    speaker's files shuffled (seeded by the recording) and dealt round-robin; a conversation
    needs two speakers. Ids are ``<file id>-mix<i>``."""
    groups = []
    for file_id in sorted(sources):
        rng = np.random.default_rng([config.seed, zlib.crc32(file_id.encode())])
        slots: list[dict[str, list[Path]]] = [{} for _ in range(config.conversations_per_recording)]
        for speaker in sorted(sources[file_id]):
            files = list(sources[file_id][speaker])
            for k, i in enumerate(rng.permutation(len(files))):
                slots[k % len(slots)].setdefault(speaker, []).append(files[i])
        groups += [(f"{file_id}-mix{i:02d}", slot) for i, slot in enumerate(slots) if len(slot) >= 2]
    return groups


def remix(stretches: Sequence[Stretch], audio: Mapping[str, np.ndarray], out_dir: str | Path,
          config: RemixConfig = RemixConfig(), workers: int = 1, overwrite: bool = False,
          progress=None) -> SimulationSummary:
    """Conversations of the stretches' own speakers, written to ``out_dir`` like ``simulate``'s output."""
    with tempfile.TemporaryDirectory(prefix="diarefine-remix-") as folder:
        groups = plan_groups(write_sources(stretches, audio, Path(folder)), config)
        if not groups:
            raise DiarefineError("no recording has harvested speech of two speakers: nothing to re-mix "
                                 "(lower the harvest's min_solo_s / min_cosine, or give more recordings)")
        simulation = SimulationConfig(seed=config.seed, turn_taking=config.turn_taking,
                                      acoustics=Acoustics(speaker_gain_db=config.speaker_gain_db))
        return simulate_conversations(groups, out_dir, simulation, workers, overwrite, progress)
