"""silero-vad, shared by the baseline diarizer (speech regions) and edge refinement (frame probabilities).

Its TorchScript weights ship in the ``silero-vad`` wheel, so nothing is downloaded.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import torch

from .audio import SAMPLE_RATE
from .errors import DiarefineError
from .intervals import as_intervals
from .types import Seconds

INSTALL_HINT = "pip install silero-vad (a dependency of diarefine; reinstall with -c constraints.txt)"
#: silero scores 512-sample chunks at 16 kHz: one probability every 32 ms.
VAD_FRAME_S: Seconds = 512 / SAMPLE_RATE


@functools.cache
def silero_model():
    """silero-vad's TorchScript model from its wheel, loaded once per process."""
    try:
        from silero_vad import load_silero_vad
    except ImportError as exc:
        raise DiarefineError(f"silero-vad cannot be imported ({exc}): {INSTALL_HINT}") from None
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
