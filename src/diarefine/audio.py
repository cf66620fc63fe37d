"""Audio input: any format soundfile reads, mixed to mono, resampled to 16 kHz, cropped to windows.

Windows are read from disk with a seek (never a whole-file load per window). Resampling is
polyphase with an anti-aliasing filter (`scipy.signal.resample_poly`); a window's native
samples are read with a margin and aligned so that its output samples sit exactly at
``k / sample_rate`` seconds, the same instants as in a whole-file load.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf

from .errors import InputFileError
from .units import SAMPLE_RATE, WINDOW_S, Seconds

log = logging.getLogger(__name__)

#: File name endings treated as audio when folders are searched (anything libsndfile reads).
AUDIO_SUFFIXES = frozenset({".flac", ".wav", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".sph"})
#: Turns may end this much after the audio (hand labels rounded up, e.g. to 0.5 s) before the pair is
#: refused as a wrong or truncated audio file; `refine` clips such turns to the audio with a warning.
LENGTH_TOLERANCE_S: Seconds = 1.0
#: Native audio read on each side of a window so that the resampling filter has context.
RESAMPLE_MARGIN_S: Seconds = 0.05


@dataclass(frozen=True)
class AudioInfo:
    """What the file header says: native sample rate, channels and length."""

    path: Path
    sample_rate: int
    n_channels: int
    n_frames: int  # native samples per channel

    @property
    def duration_s(self) -> Seconds:
        return self.n_frames / self.sample_rate


def audio_info(path: str | Path) -> AudioInfo:
    """Header of an audio file; a missing, unreadable or empty file raises `InputFileError`."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "audio file not found" if not path.exists() else "is not a file")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise InputFileError(path, f"cannot be read as audio ({exc}); give a WAV, FLAC, OGG or other "
                                   "format that libsndfile reads") from None
    if info.frames == 0:
        raise InputFileError(path, "audio file holds no samples")
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames))


def check_audio_covers(info: AudioInfo, turns_end_s: Seconds, file_id: str,
                       tolerance_s: Seconds = LENGTH_TOLERANCE_S) -> None:
    """Refuse audio that ends before its RTTM does (a wrong or truncated file), naming the file."""
    if turns_end_s > info.duration_s + tolerance_s:
        raise InputFileError(info.path, f"audio lasts {info.duration_s:.2f} s but the RTTM of {file_id!r} has "
                                        f"speech until {turns_end_s:.2f} s; give the audio that RTTM was made from")


def to_mono(samples: np.ndarray) -> np.ndarray:
    """[n] or [n, channels] -> [n] float32, the mean of the channels (one channel: a view, no copy).

    >>> to_mono(np.array([[1.0, 0.0], [0.5, 0.5]])).tolist()
    [0.5, 0.5]
    """
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 1:
        return samples
    return samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1, dtype=np.float32)


def resample(samples: np.ndarray, orig_rate: int, target_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Polyphase resampling with an anti-aliasing low-pass (float32 [n] -> [n * target / orig]).

    >>> resample(np.zeros(44_100, dtype=np.float32), 44_100).shape
    (16000,)
    """
    if orig_rate == target_rate:
        return np.asarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly  # imported when needed: scipy.signal takes about 1 s to import

    g = gcd(orig_rate, target_rate)
    return resample_poly(samples, target_rate // g, orig_rate // g).astype(np.float32)


def _log_conversion(info: AudioInfo, sample_rate: int) -> None:
    if info.n_channels > 1:
        log.info("%s: mixing %d channels down to mono", info.path, info.n_channels)
    if info.sample_rate != sample_rate:
        log.info("%s: resampling %d Hz -> %d Hz", info.path, info.sample_rate, sample_rate)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Whole file as mono float32 [n] at ``sample_rate`` (for short files and embeddings)."""
    info = audio_info(path)
    _log_conversion(info, sample_rate)
    samples, _ = sf.read(str(info.path), dtype="float32", always_2d=True)
    return resample(to_mono(samples), info.sample_rate, sample_rate)


def read_window(
    path: str | Path | AudioInfo,
    start_s: Seconds,
    duration_s: Seconds,
    sample_rate: int = SAMPLE_RATE,
) -> tuple[np.ndarray, np.ndarray]:
    """Mono audio of [start_s, start_s + duration_s) at ``sample_rate``, zero-padded outside the file.

    Returns ``(samples [N] float32, valid [N] bool)`` with ``N = round(duration_s * sample_rate)``;
    ``valid`` is False where the window lies before 0 s or after the end of the file.
    Sample ``i`` is the instant ``start_s + i / sample_rate`` (``start_s`` is rounded to the
    output sample grid).
    """
    info = path if isinstance(path, AudioInfo) else audio_info(path)
    n_out = int(round(duration_s * sample_rate))
    first_out = int(round(start_s * sample_rate))  # output-grid index of the window's first sample
    total_out = int(np.ceil(info.n_frames * sample_rate / info.sample_rate))
    samples = np.zeros(n_out, dtype=np.float32)
    valid = np.zeros(n_out, dtype=bool)
    lo, hi = max(first_out, 0), min(first_out + n_out, total_out)
    if hi <= lo:
        return samples, valid
    g = gcd(info.sample_rate, sample_rate)
    up, down = sample_rate // g, info.sample_rate // g
    margin = int(np.ceil(RESAMPLE_MARGIN_S * info.sample_rate / down)) * down if up != down else 0
    # Native read start on a multiple of `down`, so output samples fall on the file's grid.
    native_lo = max(0, (lo * down // up) // down * down - margin)
    native_hi = min(info.n_frames, -(-hi * down // up) + margin + down)
    try:
        with sf.SoundFile(str(info.path)) as f:
            f.seek(native_lo)
            chunk = f.read(native_hi - native_lo, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise InputFileError(info.path, f"cannot read samples {native_lo}-{native_hi} ({exc})") from None
    converted = resample(to_mono(chunk), info.sample_rate, sample_rate)
    offset = native_lo * up // down  # output-grid index of converted[0]
    piece = converted[lo - offset: hi - offset]
    samples[lo - first_out: lo - first_out + piece.size] = piece
    valid[lo - first_out: hi - first_out] = True
    return samples, valid


def crop_centered(
    path: str | Path | AudioInfo,
    center_s: Seconds,
    duration_s: Seconds = WINDOW_S,
    sample_rate: int = SAMPLE_RATE,
) -> tuple[np.ndarray, np.ndarray]:
    """The window of ``duration_s`` centred on ``center_s`` (see `read_window`)."""
    return read_window(path, center_s - duration_s / 2, duration_s, sample_rate)


def crop_array(audio: np.ndarray, start_s: float, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` from ``start_s`` of in-memory 16 kHz audio [N], zero-padded outside, with a validity mask.

    >>> crop_array(np.ones(4, np.float32), -2 / 16000, 8)[1].tolist()
    [False, False, True, True, True, True, False, False]
    """
    first = int(round(start_s * SAMPLE_RATE))
    out, valid = np.zeros(n_samples, np.float32), np.zeros(n_samples, bool)
    lo, hi = max(first, 0), min(first + n_samples, len(audio))
    if hi > lo:
        out[lo - first:hi - first] = audio[lo:hi]
        valid[lo - first:hi - first] = True
    return out, valid


def trim_context(x, have_s: Seconds, want_s: Seconds = 0.0):
    """Windows [..., N] read with ``have_s`` of context on each side -> the same windows with ``want_s``
    (<= ``have_s``) of context: the middle samples (numpy arrays or torch tensors).

    >>> trim_context(np.arange(10), 3 / SAMPLE_RATE, 1 / SAMPLE_RATE).tolist()
    [2, 3, 4, 5, 6, 7]
    """
    cut = round((have_s - want_s) * SAMPLE_RATE)
    return x[..., cut:x.shape[-1] - cut]
