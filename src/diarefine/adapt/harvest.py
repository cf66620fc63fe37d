"""Harvest: the single-speaker stretches of a user's own recordings, found with their system's hypothesis.

Per (file, speaker), in order, each filter counted in `HarvestStats`:

1. the regions where the hypothesis has exactly this speaker and nobody else, at least
   ``min_solo_s`` long (`solo_regions`);
2. shrunk by ``margin_s`` at both ends: the hypothesis's boundaries are what we do not trust;
3. each end moved inwards to the nearest low-energy point within ``snap_s`` (a pause of at
   least 100 ms in the frame-energy activity of `simulate.sources`), so that a stretch neither
   starts nor ends inside a word; stretches under ``min_keep_s`` are dropped (`snap_to_pauses`);
4. kept only when its speaker embedding's cosine to the centroid of that speaker's stretches in
   the file reaches ``min_cosine``: a clustering error of the system must not become a wrongly
   labelled training source.

The stretches are the sources the re-mixed conversations of ``diarefine adapt`` are built from
(`remix`, `pipeline`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..embeddings.base import SpeakerEmbedder
from ..intervals import as_intervals, subtract, total, union
from ..simulate.sources import pause_centres_s, speech_activity
from ..types import Seconds, Turn


@dataclass(frozen=True)
class HarvestConfig:
    """Settings of `harvest_file` (seconds; cosine in [-1, 1])."""

    min_solo_s: Seconds = 2.0  # least single-speaker region of the hypothesis
    margin_s: Seconds = 0.5  # cut from both ends of each region
    snap_s: Seconds = 0.5  # how far inwards an end may move to reach a pause
    min_keep_s: Seconds = 1.0  # least stretch after margins and snapping
    min_cosine: float = 0.5  # least cosine of a stretch to its speaker's centroid

    def __post_init__(self) -> None:
        if min(self.min_solo_s, self.margin_s, self.snap_s, self.min_keep_s) < 0:
            raise ValueError("harvest lengths must be >= 0")
        if not -1.0 <= self.min_cosine <= 1.0:
            raise ValueError(f"min_cosine must be in [-1, 1], got {self.min_cosine}")


@dataclass(frozen=True)
class Stretch:
    """One harvested single-speaker stretch: where it is and how well it agrees with its speaker."""

    file_id: str
    speaker: str
    start: Seconds
    end: Seconds
    cosine: float  # to the centroid of the speaker's stretches in the file

    @property
    def duration(self) -> Seconds:
        return self.end - self.start


@dataclass(frozen=True)
class HarvestStats:
    """Seconds of one file at each step of the harvest (what each filter removed is the difference)."""

    file_id: str
    speech_s: Seconds  # the hypothesis's speech, any speaker
    solo_s: Seconds  # single-speaker regions of at least min_solo_s
    after_margins_s: Seconds
    after_pauses_s: Seconds  # snapped to pauses, at least min_keep_s
    kept_s: Seconds  # after the cosine filter
    n_stretches: int


def solo_regions(turns: Sequence[Turn], min_solo_s: Seconds) -> dict[str, np.ndarray]:
    """Speaker -> [K, 2] regions (s) where only that speaker is active, each at least ``min_solo_s``.

    >>> solo_regions([Turn("f", 0, 5, "A"), Turn("f", 4, 9, "B")], 2.0)["A"].tolist()
    [[0.0, 4.0]]
    """
    by_speaker: dict[str, list[tuple[float, float]]] = {}
    for t in turns:
        by_speaker.setdefault(t.speaker, []).append((t.start, t.end))
    out = {}
    for speaker, own in sorted(by_speaker.items()):
        others = [span for other, spans in by_speaker.items() if other != speaker for span in spans]
        alone = subtract(union(own), others)
        out[speaker] = alone[alone[:, 1] - alone[:, 0] >= min_solo_s] if len(alone) else alone
    return out


def shrink(regions: np.ndarray, margin_s: Seconds) -> np.ndarray:
    """``regions`` [K, 2] with ``margin_s`` cut from both ends (emptied ones dropped).

    >>> shrink(np.array([[0.0, 3.0], [5.0, 5.8]]), 0.5).tolist()
    [[0.5, 2.5]]
    """
    return as_intervals(regions + np.array([margin_s, -margin_s])) if len(regions) else as_intervals([])


def snap_to_pauses(regions: np.ndarray, pauses_s: np.ndarray, snap_s: Seconds, min_keep_s: Seconds) -> np.ndarray:
    """Each region's start moved forward to the first pause centre within ``snap_s`` (if any) and its
    end back to the last one; regions then shorter than ``min_keep_s`` are dropped. ``pauses_s``: sorted.

    >>> snap_to_pauses(np.array([[1.0, 6.0]]), np.array([1.3, 3.0, 5.9]), 0.5, 1.0).tolist()
    [[1.3, 5.9]]
    """
    out = []
    for start, end in regions:
        after = pauses_s[(pauses_s >= start) & (pauses_s <= min(end, start + snap_s))]
        before = pauses_s[(pauses_s <= end) & (pauses_s >= max(start, end - snap_s))]
        new_start = after[0] if len(after) else start
        new_end = before[-1] if len(before) else end
        if new_end - new_start >= min_keep_s:
            out.append((new_start, new_end))
    return as_intervals(out)


def harvest_file(samples: np.ndarray, turns: Sequence[Turn], embedder: SpeakerEmbedder,
                 config: HarvestConfig = HarvestConfig()) -> tuple[list[Stretch], HarvestStats]:
    """The stretches of one recording (``samples`` float32 [N] at 16 kHz, its hypothesis ``turns``)
    and what each step kept; ``embedder`` gives the embeddings of the cosine filter."""
    file_id = turns[0].file_id if turns else ""
    regions = solo_regions(turns, config.min_solo_s)
    pauses = pause_centres_s(speech_activity(samples))
    shrunk = {spk: shrink(r, config.margin_s) for spk, r in regions.items()}
    snapped = {spk: snap_to_pauses(r, pauses, config.snap_s, config.min_keep_s) for spk, r in shrunk.items()}
    stretches = []
    for speaker, spans in snapped.items():
        if not len(spans):
            continue
        vectors = embedder.embed_spans(samples, spans, [speaker] * len(spans))  # [K, E], unit length
        centroid = vectors.mean(axis=0)
        cosines = vectors @ centroid / max(float(np.linalg.norm(centroid)), 1e-8)
        stretches += [Stretch(file_id, speaker, float(s), float(e), float(c))
                      for (s, e), c in zip(spans, cosines) if c >= config.min_cosine]
    stats = HarvestStats(file_id, total(as_intervals([(t.start, t.end) for t in turns])),
                         sum(total(r) for r in regions.values()), sum(total(r) for r in shrunk.values()),
                         sum(total(r) for r in snapped.values()), sum(s.duration for s in stretches), len(stretches))
    return sorted(stretches, key=lambda s: (s.start, s.speaker)), stats
