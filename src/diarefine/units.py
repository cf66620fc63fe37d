"""Units, grids and shared defaults: the one home of every constant more than one module uses.

All times are seconds (`Seconds`). Audio is 16 kHz mono; frame features run at 50 frames/s,
so the 4 s refinement window is 200 frames; speaker changes, speech edges and diarized turns
are found on a 10 ms grid; turn times are stored on a 1 microsecond grid (RTTM's practical
resolution: write -> read round trips are exact and ``6.69 + 0.43 - 6.69`` noise stays out
of comparisons). A boundary moves only where a model's confidence exceeds its threshold.
"""

from __future__ import annotations

import numpy as np

Seconds = float

#: Sample rate (Hz) of every waveform diarefine works on; other rates are resampled on read.
SAMPLE_RATE = 16_000
#: Frames per second of every feature extractor and boundary model.
FRAME_RATE = 50.0
#: Hop of one feature frame (s).
FRAME_S: Seconds = 1 / FRAME_RATE
#: Length of the window cut around each change or edge (s).
WINDOW_S: Seconds = 4.0
#: Feature frames in one window.
WINDOW_FRAMES = round(WINDOW_S * FRAME_RATE)
#: Grid on which single-speaker runs, change points, speech edges and diarized turns are found (s).
GRID_S: Seconds = 0.01
#: Decimals of the storage grid of turn and region times (1 microsecond).
TIME_DECIMALS = 6
TIME_RESOLUTION_S: Seconds = 10.0 ** -TIME_DECIMALS
#: Longest recording diarefine accepts (s): times beyond it in an RTTM or UEM are refused, so a
#: file written in milliseconds or with a corrupt number cannot make any grid huge.
MAX_RECORDING_S: Seconds = 7 * 24 * 3600.0
#: A pause or overlap between two speakers no longer than this (one frame) is no shape to match:
#: the change counts as an exact hand-over (`types.Change.kind`, the shape matchers).
MIN_SEPARATION_S: Seconds = 0.02
#: Confidence threshold of checkpoints that do not come with a tuned one (classical refiners'
#: confidences are calibrated so that 0.5 is their operating point).
DEFAULT_THRESHOLD = 0.5


def quantize_time(t: Seconds) -> Seconds:
    """Round a time to the 1 microsecond storage grid.

    >>> quantize_time(6.69 + 0.43)
    7.12
    """
    return round(float(t), TIME_DECIMALS)


def quantize_times(times: np.ndarray) -> np.ndarray:
    """`quantize_time` of every element of an array (e.g. [K, 2] spans).

    >>> quantize_times(np.array([0.1 + 0.2, 1 / 3])).tolist()
    [0.3, 0.333333]
    """
    return np.round(np.asarray(times, dtype=np.float64), TIME_DECIMALS)


def confident(confidence, threshold: float):
    """Where a prediction moves its boundary: ``confidence > threshold`` (arrays or tensors, elementwise).

    The one comparison every caller uses, so "at the threshold" means "left alone" everywhere.

    >>> confident(np.array([0.4, 0.5, 0.6]), 0.5).tolist()
    [False, False, True]
    """
    return confidence > threshold
