"""Signal helpers shared by the classical refiners, edge refinement and the baseline diarizer:
frame energy, its floor / peak, runs of active frames and their crossings, the analysis
windows slid across a window, and silero-vad (whose TorchScript weights ship in its wheel).

Waveforms are 16 kHz mono float32; frame indices are 0-based; times are seconds.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch

from .errors import DiarefineError
from .intervals import as_intervals
from .units import SAMPLE_RATE, Seconds, quantize_times

#: Energy frames: 25 ms long, every 10 ms.
ENERGY_HOP_S: Seconds = 0.01
ENERGY_FRAME_S: Seconds = 0.025
#: Fewest valid energy frames (0.5 s) from which a window's floor and peak are estimated.
MIN_RANGE_FRAMES = 50
#: silero scores 512-sample chunks at 16 kHz: one probability every 32 ms.
VAD_FRAME_S: Seconds = 512 / SAMPLE_RATE
VAD_INSTALL_HINT = "pip install silero-vad (a dependency of diarefine; reinstall with -c constraints.txt)"


def frame_energy_db(waves: torch.Tensor, valid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """waves [B, N] -> energies [B, F] dB and frame validity [B, F] bool (25 ms frames every 10 ms;
    frame f is centred on ``(f + 0.5) * 10 ms``)."""
    hop, size = int(ENERGY_HOP_S * SAMPLE_RATE), int(ENERGY_FRAME_S * SAMPLE_RATE)
    pad = size - hop
    frames = torch.nn.functional.pad(waves, (pad // 2, pad - pad // 2)).unfold(1, size, hop)  # [B, F, size]
    energy = 10 * torch.log10(frames.pow(2).mean(-1) + 1e-10)
    centres = (torch.arange(energy.shape[1], device=waves.device) * hop + hop // 2).clamp(max=valid.shape[1] - 1)
    return energy, valid[:, centres]


def energy_range(energy_db: torch.Tensor, valid: torch.Tensor,
                 min_frames: int = MIN_RANGE_FRAMES) -> tuple[float, float] | None:
    """(floor, peak) in dB of one window's energies [F]: the 5th and 95th percentiles of its valid
    frames [F] bool; None with fewer than ``min_frames`` valid frames.

    >>> [round(x, 2) for x in energy_range(torch.arange(100.0), torch.ones(100, dtype=torch.bool))]
    [4.95, 94.05]
    >>> energy_range(torch.arange(100.0), torch.arange(100) < 20) is None
    True
    """
    if int(valid.sum()) < min_frames:
        return None
    floor, peak = torch.quantile(energy_db[valid], torch.tensor([0.05, 0.95], device=energy_db.device)).tolist()
    return floor, peak


def runs(active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts [K], ends [K]) frame indices of the runs of True in a 1-D bool array (ends exclusive).

    >>> [x.tolist() for x in runs(np.array([True, False, True, True, False]))]
    [[0, 2], [1, 4]]
    """
    padded = np.concatenate([[False], np.asarray(active, bool), [False]]).astype(np.int8)
    steps = np.diff(padded)
    return np.flatnonzero(steps == 1), np.flatnonzero(steps == -1)


def crossings(active: np.ndarray, onset: bool, min_quiet: int = 1, min_active: int = 1) -> np.ndarray:
    """Frame indices where ``active`` [F] switches on (onset) or off (offset, the first quiet frame).

    Only active runs of at least ``min_active`` frames count, with at least ``min_quiet`` quiet
    frames on the silent side (the window's border counts as quiet).

    >>> a = np.array([0, 0, 1, 1, 1, 0, 1, 0, 0], bool)
    >>> crossings(a, True).tolist(), crossings(a, False).tolist(), crossings(a, False, 2, 2).tolist()
    ([2, 6], [5, 7], [])
    """
    starts, ends = runs(active)
    quiet_before = starts - np.concatenate([[0], ends[:-1]])
    quiet_after = np.concatenate([starts[1:], [len(active)]]) - ends
    long_enough = ends - starts >= min_active
    if onset:
        return starts[long_enough & (quiet_before >= min_quiet)]
    return ends[long_enough & (quiet_after >= min_quiet)]


def sliding_spans(window_s: Seconds, analysis_s: Seconds, hop_s: Seconds) -> np.ndarray:
    """[K, 2] (start, end) in seconds from the window start of analysis windows slid across it.

    >>> sliding_spans(4.0, 1.0, 1.0).tolist()
    [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0], [3.0, 4.0]]
    """
    starts = np.arange(0.0, window_s - analysis_s + 1e-9, hop_s)
    return quantize_times(np.stack([starts, starts + analysis_s], axis=1))


@functools.cache
def silero_model():
    """silero-vad's TorchScript model from its wheel, loaded once per process."""
    try:
        from silero_vad import load_silero_vad
    except ImportError as exc:
        raise DiarefineError(f"silero-vad cannot be imported ({exc}): {VAD_INSTALL_HINT}") from None
    with warnings.catch_warnings():  # its importlib.resources / torch.jit.load calls are deprecated upstream
        warnings.simplefilter("ignore", DeprecationWarning)
        return load_silero_vad()


@torch.inference_mode()
def speech_probabilities(waves: np.ndarray) -> np.ndarray:
    """16 kHz mono windows [B, N] -> speech probability [B, N // 512]; frame f covers [f, f + 1) * 32 ms.

    Each window is scored from a fresh state (silero's ``audio_forward``), so windows are independent.
    """
    model = silero_model()
    model.reset_states()
    return model.audio_forward(torch.from_numpy(np.ascontiguousarray(waves, dtype=np.float32)), SAMPLE_RATE).numpy()


def speech_regions(audio: np.ndarray, threshold: float, min_speech_s: Seconds, min_silence_s: Seconds) -> np.ndarray:
    """silero-vad speech of 16 kHz mono audio [N] -> [K, 2] seconds."""
    from silero_vad import get_speech_timestamps

    stamps = get_speech_timestamps(torch.from_numpy(audio), silero_model(), threshold=threshold,
                                   sampling_rate=SAMPLE_RATE, min_speech_duration_ms=int(min_speech_s * 1000),
                                   min_silence_duration_ms=int(min_silence_s * 1000))
    return as_intervals([(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps])
