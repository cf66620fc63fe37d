"""Build one conversation from single-speaker recordings with realistic turn-taking.

Distributions (all drawn from the conversation's own seeded generator; see `TurnTaking`):

* speech per turn: log-normal length (median 2.5 s, shape 0.7, clipped to 0.5-10 s), cut at
  the source's low-energy point nearest that length, trimmed to its speech extent;
* the next speaker: another speaker with audio left; with probability 0.1 the same speaker
  goes on after a pause (no change);
* between turns: a gap ~ Gamma(1.6, 0.25 s) (mean 0.4 s, many short gaps), a long pause of
  1-3 s with probability 0.05, or with probability 0.15 an overlap of 0.1-0.8 s (at most half
  of the shorter turn);
* backchannels: with probability 0.15 a turn of 3 s or more gets a 0.3-1.0 s piece of another
  speaker fully inside it (overlapped speech that makes no change point).

Each stretch of source audio is used at most once per conversation, so a conversation is as
long as its speakers' audio allows; it ends when fewer than two speakers have audio left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..types import Turn
from ..units import SAMPLE_RATE, quantize_time
from .sources import SourceRecording, SourceRef, load_source

FADE_S = 0.005
LEVEL_DBFS = -26.0


@dataclass(frozen=True)
class TurnTaking:
    n_speakers: tuple[int, int] = (2, 4)
    turn_median_s: float = 2.5
    turn_shape: float = 0.7
    turn_range_s: tuple[float, float] = (0.5, 10.0)
    gap_shape: float = 1.6
    gap_scale_s: float = 0.25
    long_pause_prob: float = 0.05
    long_pause_range_s: tuple[float, float] = (1.0, 3.0)
    overlap_prob: float = 0.15
    overlap_range_s: tuple[float, float] = (0.1, 0.8)
    backchannel_prob: float = 0.15
    backchannel_range_s: tuple[float, float] = (0.3, 1.0)
    same_speaker_prob: float = 0.1
    split_pause_s: float = 0.5  # pauses this long inside a turn split its RTTM line
    lead_s: float = 0.5  # silence before the first and after the last turn

    def __post_init__(self) -> None:
        if not 2 <= self.n_speakers[0] <= self.n_speakers[1]:
            raise ValueError("n_speakers must be a range (lo, hi) with 2 <= lo <= hi")


@dataclass
class Piece:
    """A stretch of one source's speech: [start_s, end_s) in the source."""

    source: SourceRecording
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class SpeakerPool:
    """A speaker's unused audio: its files in random order and a cursor; audio is never reused."""

    speaker: str
    files: list[SourceRef]
    file_index: int = 0
    cursor_s: float = 0.0

    def exhausted(self) -> bool:
        return self.file_index >= len(self.files)

    def take(self, target_s: float, max_s: float = float("inf"), min_s: float = 0.3) -> Piece | None:
        """The next piece of about ``target_s`` of speech, cut at a pause; None (nothing consumed)
        if the piece would be longer than ``max_s``; None when the speaker has no audio left."""
        while not self.exhausted():
            ref = self.files[self.file_index]
            source = load_source(Path(ref.path), ref.speed)
            cuts = source.cut_points_s()
            cuts = np.append(cuts[cuts > self.cursor_s + min_s], source.duration_s)
            end = float(cuts[np.argmin(np.abs(cuts - (self.cursor_s + target_s)))])
            extent = source.speech_extent(self.cursor_s, end)
            if extent is not None and extent[1] - extent[0] > max_s:
                return None
            self.cursor_s = end
            if end >= source.duration_s - 1e-9:
                self.file_index, self.cursor_s = self.file_index + 1, 0.0
            if extent is not None and extent[1] - extent[0] >= min_s / 2:
                return Piece(source, *extent)
        return None


@dataclass
class Placement:
    speaker: str
    piece: Piece
    at_s: float  # conversation time of piece.start_s


@dataclass
class Conversation:
    """Placed pieces of one conversation; `turns` and `render` turn them into RTTM and audio."""

    file_id: str
    speakers: list[str]
    placements: list[Placement] = field(default_factory=list)
    lead_s: float = 0.5

    @property
    def duration_s(self) -> float:
        return max(p.at_s + p.piece.duration_s for p in self.placements) + self.lead_s

    def turns(self, split_pause_s: float) -> list[Turn]:
        out = []
        for p in self.placements:
            pauses = p.piece.source.pauses_within(p.piece.start_s, p.piece.end_s, split_pause_s)
            bounds = [p.piece.start_s] + [x for pause in pauses for x in pause] + [p.piece.end_s]
            for s, e in zip(bounds[0::2], bounds[1::2]):
                out.append(Turn(self.file_id, quantize_time(p.at_s + s - p.piece.start_s),
                                quantize_time(p.at_s + e - p.piece.start_s), p.speaker))
        return sorted(out, key=lambda t: (t.start, t.end, t.speaker))

    def speaker_tracks(self, gains_db: dict[str, float]) -> dict[str, np.ndarray]:
        """One dry track [N] per speaker, each piece levelled to LEVEL_DBFS + the speaker's gain."""
        n = int(np.ceil(self.duration_s * SAMPLE_RATE))
        tracks = {s: np.zeros(n, np.float32) for s in self.speakers}
        fade = int(FADE_S * SAMPLE_RATE)
        for p in self.placements:
            lo, hi = int(round(p.piece.start_s * SAMPLE_RATE)), int(round(p.piece.end_s * SAMPLE_RATE))
            audio = p.piece.source.samples[lo:hi].astype(np.float64)
            rms = np.sqrt(np.mean(audio ** 2)) + 1e-9
            audio *= 10 ** ((LEVEL_DBFS + gains_db[p.speaker]) / 20) / rms
            ramp = np.linspace(0.0, 1.0, min(fade, len(audio) // 2))
            audio[:len(ramp)] *= ramp
            audio[len(audio) - len(ramp):] *= ramp[::-1]
            at = int(round(p.at_s * SAMPLE_RATE))
            tracks[p.speaker][at:at + len(audio)] += audio[: n - at].astype(np.float32)
        return tracks


def _lognormal_length(tt: TurnTaking, rng: np.random.Generator) -> float:
    return float(np.clip(tt.turn_median_s * np.exp(tt.turn_shape * rng.standard_normal()), *tt.turn_range_s))


def _gap(tt: TurnTaking, rng: np.random.Generator) -> float:
    if rng.random() < tt.long_pause_prob:
        return float(rng.uniform(*tt.long_pause_range_s))
    return float(rng.gamma(tt.gap_shape, tt.gap_scale_s))


def build_conversation(file_id: str, speaker_files: dict[str, list[SourceRef]], tt: TurnTaking,
                       rng: np.random.Generator) -> Conversation:
    """Lay out the turns of one conversation between the given speakers (see the module docstring)."""
    pools = {s: SpeakerPool(s, [files[i] for i in rng.permutation(len(files))]) for s, files in speaker_files.items()}
    conv = Conversation(file_id, sorted(speaker_files), lead_s=tt.lead_s)
    previous: str | None = None
    prev_end = tt.lead_s
    prev_duration = 0.0
    while True:
        alive = [s for s in conv.speakers if not pools[s].exhausted()]
        others = [s for s in alive if s != previous]
        if not others:
            break
        same = previous in alive and rng.random() < tt.same_speaker_prob
        speaker = previous if same else others[rng.integers(len(others))]
        piece = pools[speaker].take(_lognormal_length(tt, rng))
        if piece is None:
            continue
        if previous is None:
            start = tt.lead_s
        elif not same and rng.random() < tt.overlap_prob:
            overlap = min(rng.uniform(*tt.overlap_range_s), 0.5 * min(piece.duration_s, prev_duration))
            start = prev_end - overlap
        else:
            start = prev_end + _gap(tt, rng)
        conv.placements.append(Placement(speaker, piece, start))
        _maybe_backchannel(conv, pools, speaker, piece, start, tt, rng)
        prev_end, prev_duration, previous = max(prev_end, start + piece.duration_s), piece.duration_s, speaker
    return conv


def _maybe_backchannel(conv: Conversation, pools: dict[str, SpeakerPool], speaker: str, piece: Piece,
                       start: float, tt: TurnTaking, rng: np.random.Generator) -> None:
    if piece.duration_s < 3.0 or rng.random() >= tt.backchannel_prob:
        return
    listeners = [s for s in conv.speakers if s != speaker and not pools[s].exhausted()]
    if not listeners:
        return
    listener = listeners[rng.integers(len(listeners))]
    short = pools[listener].take(rng.uniform(*tt.backchannel_range_s), max_s=tt.backchannel_range_s[1] + 0.2)
    if short is not None and short.duration_s < piece.duration_s - 1.0:
        at = start + rng.uniform(0.5, piece.duration_s - 0.5 - short.duration_s)
        conv.placements.append(Placement(listener, short, at))
