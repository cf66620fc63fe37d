"""Single-speaker source recordings: discovery by speaker, speech activity, low-energy cut points.

A folder is searched recursively for audio files. The speaker of a file is its name's first
field (LibriSpeech ``103-1240-0000.flac`` -> ``103``), or group ``speaker`` (else group 1) of a
``speaker_regex`` matched against the path relative to the folder. A source may be played at
another speed (`SourceRef.speed`): tempo and pitch both scale, which makes a new voice from the
same person (Kaldi's speed perturbation, Ko et al., 2015), so that 201 recorded speakers can
stand for three times as many.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..audio import AUDIO_SUFFIXES, load_audio, resample
from ..errors import DiarefineError, InputFileError
from ..units import SAMPLE_RATE

#: Speech-activity frames: 20 ms windows every 10 ms.
ACTIVITY_HOP_S = 0.01
ACTIVITY_WIN_S = 0.02
#: A pause (run of low-energy frames) at least this long is a place where speech may be cut.
MIN_PAUSE_S = 0.1


def speaker_of(relative: Path, speaker_regex: re.Pattern | None) -> str | None:
    """The speaker label of a file (see the module docstring); None if the regex does not match.

    >>> speaker_of(Path("103/1240/103-1240-0000.flac"), None)
    '103'
    >>> speaker_of(Path("spk_07/take2.wav"), re.compile(r"spk_(?P<speaker>\\d+)/"))
    '07'
    """
    if speaker_regex is None:
        return re.split(r"[-_.\s]", relative.name, maxsplit=1)[0]
    match = speaker_regex.search(relative.as_posix())
    if match is None:
        return None
    return match.group("speaker") if "speaker" in match.groupdict() else match.group(1)


def find_speech_files(root: str | Path, speaker_regex: str | None = None) -> dict[str, list[Path]]:
    """Speaker -> sorted audio files under ``root`` (recursive)."""
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "speech folder not found")
    pattern = None
    if speaker_regex:
        try:
            pattern = re.compile(speaker_regex)
        except re.error as exc:
            raise DiarefineError(f"--speaker-regex {speaker_regex!r} is not a valid regular expression ({exc})") from None
    by_speaker: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in AUDIO_SUFFIXES or not path.is_file():
            continue
        speaker = speaker_of(path.relative_to(root), pattern)
        if speaker:
            by_speaker.setdefault(speaker, []).append(path)
    if not by_speaker:
        raise InputFileError(root, f"no audio files ({', '.join(sorted(AUDIO_SUFFIXES))}) with a speaker label found")
    return by_speaker


#: Speeds a source may be played at (outside, the voice no longer sounds like speech).
SPEED_RANGE: tuple[float, float] = (0.5, 2.0)


@dataclass(frozen=True)
class SourceRef:
    """A source file and the speed it is played at (1: as recorded); picklable, for worker jobs."""

    path: str
    speed: float = 1.0

    def label(self) -> str:
        """The path, with ``@speed`` when not 1 (the manifest's record of what was used).

        >>> SourceRef("a/103-1.flac", 1.1).label(), SourceRef("a/103-1.flac").label()
        ('a/103-1.flac@1.1', 'a/103-1.flac')
        """
        return self.path if self.speed == 1.0 else f"{self.path}@{self.speed:g}"


def voice_name(speaker: str, speed: float) -> str:
    """The speaker label of ``speaker``'s voice at ``speed`` (Kaldi's ``sp`` prefix, as a suffix here).

    >>> voice_name("103", 1.0), voice_name("103", 0.9)
    ('103', '103-sp0.9')
    """
    return speaker if speed == 1.0 else f"{speaker}-sp{speed:g}"


def change_speed(samples: np.ndarray, speed: float) -> np.ndarray:
    """[N] 16 kHz samples played ``speed`` times faster: [about N / speed], tempo and pitch x ``speed``.

    >>> change_speed(np.zeros(16_000, np.float32), 0.9).shape
    (17778,)
    """
    if not SPEED_RANGE[0] <= speed <= SPEED_RANGE[1]:
        raise ValueError(f"speed {speed} outside {SPEED_RANGE}")
    if speed == 1.0:
        return samples
    return resample(samples, round(SAMPLE_RATE * speed), SAMPLE_RATE)  # read as if recorded at rate x speed


@dataclass(frozen=True)
class SourceRecording:
    """One source file at 16 kHz (played at ``speed``) with its frame-level speech activity (10 ms frames)."""

    path: Path
    samples: np.ndarray  # [N] float32
    active: np.ndarray  # [F] bool, frame f covers [f * 10 ms, (f + 1) * 10 ms)
    speed: float = 1.0

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE

    def cut_points_s(self) -> np.ndarray:
        """Centres of pauses of at least MIN_PAUSE_S (s), sorted: where speech may be cut."""
        return pause_centres_s(self.active)

    def speech_extent(self, start_s: float, end_s: float) -> tuple[float, float] | None:
        """First and last active instant within [start_s, end_s) (s), None if all quiet."""
        lo, hi = int(round(start_s / ACTIVITY_HOP_S)), int(round(end_s / ACTIVITY_HOP_S))
        idx = np.flatnonzero(self.active[lo:hi])
        if idx.size == 0:
            return None
        return (lo + idx[0]) * ACTIVITY_HOP_S, (lo + idx[-1] + 1) * ACTIVITY_HOP_S

    def pauses_within(self, start_s: float, end_s: float, min_pause_s: float) -> list[tuple[float, float]]:
        """Quiet runs of at least ``min_pause_s`` strictly inside [start_s, end_s) (s)."""
        lo, hi = int(round(start_s / ACTIVITY_HOP_S)), int(round(end_s / ACTIVITY_HOP_S))
        quiet = np.concatenate([[False], ~self.active[lo:hi], [False]])
        edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
        out = []
        for s, e in zip(edges[0::2], edges[1::2]):
            if s > 0 and e < hi - lo and (e - s) * ACTIVITY_HOP_S >= min_pause_s:
                out.append(((lo + s) * ACTIVITY_HOP_S, (lo + e) * ACTIVITY_HOP_S))
        return out


def pause_centres_s(active: np.ndarray) -> np.ndarray:
    """Centres (s) of the quiet runs of at least MIN_PAUSE_S in an activity [F] of 10 ms frames, sorted.

    >>> pause_centres_s(np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], bool)).tolist()
    [0.07]
    """
    quiet = np.concatenate([[False], ~active, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    long_enough = (ends - starts) * ACTIVITY_HOP_S >= MIN_PAUSE_S
    return (starts[long_enough] + ends[long_enough]) / 2 * ACTIVITY_HOP_S


def speech_activity(samples: np.ndarray) -> np.ndarray:
    """Energy-based activity [F] of 10 ms frames: frame dB above max(p99 - 35 dB, p10 + 6 dB)."""
    hop, win = int(ACTIVITY_HOP_S * SAMPLE_RATE), int(ACTIVITY_WIN_S * SAMPLE_RATE)
    n_frames = len(samples) // hop
    padded = np.pad(samples, (0, max(0, n_frames * hop + win - len(samples))))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n_frames]
    db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    threshold = max(np.percentile(db, 99) - 35.0, np.percentile(db, 10) + 6.0)
    return db > threshold


@lru_cache(maxsize=64)
def load_source(path: Path, speed: float = 1.0) -> SourceRecording:
    """Load (and cache) a source file, played at ``speed``, with its speech activity."""
    samples = change_speed(load_audio(path), speed)
    return SourceRecording(path, samples, speech_activity(samples), speed)
