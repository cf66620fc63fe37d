"""The bundled demo recording (pyannote.audio's 30 s two-speaker sample, MIT; see its LICENSE)
and a deterministic jittered hypothesis of it, the default input of the main job."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .changes import find_changes, move_changes
from .types import Seconds, Turn


@dataclass(frozen=True)
class BundledSample:
    """Paths of the bundled sample: 16 kHz mono WAV, reference RTTM, UEM and transcript."""

    audio: Path
    rttm: Path
    uem: Path
    stm: Path
    file_id: str = "sample"


def bundled_sample() -> BundledSample:
    """Locate the bundled sample inside the installed package."""
    root = Path(str(resources.files("diarefine") / "assets" / "sample"))
    return BundledSample(root / "sample.wav", root / "sample.rttm", root / "sample.uem", root / "sample.stm")


def jitter_changes(turns: list[Turn], sigma_s: Seconds = 0.3, max_abs_s: Seconds = 1.0,
                   seed: int = 0) -> list[Turn]:
    """Move every speaker change by Gaussian noise (truncated to +/-``max_abs_s``), seeded.

    A stand-in for a diarization system's boundary jitter, used by the no-argument main job.
    """
    changes = find_changes(turns)
    rng = np.random.default_rng(seed)
    deltas = np.clip(rng.normal(0.0, sigma_s, size=len(changes)), -max_abs_s, max_abs_s)
    return move_changes(turns, changes, [c.time + d for c, d in zip(changes, deltas)]).turns
