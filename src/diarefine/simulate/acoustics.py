"""Room and noise for simulated conversations: synthetic reverberation and additive noise at an SNR."""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from ..units import SAMPLE_RATE


def coloured_noise(n_samples: int, beta: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1 / f^beta (0 white, 1 pink, 2 brown), unit RMS, [n]."""
    spectrum = np.fft.rfft(rng.standard_normal(n_samples))
    freqs = np.fft.rfftfreq(n_samples, d=1.0 / SAMPLE_RATE)
    freqs[0] = freqs[1] if n_samples > 1 else 1.0
    noise = np.fft.irfft(spectrum / freqs ** (beta / 2), n=n_samples)
    return (noise / (np.sqrt(np.mean(noise ** 2)) + 1e-12)).astype(np.float32)


def looped(samples: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """``n_samples`` of a recording from a random start, looping it as needed, unit RMS."""
    start = int(rng.integers(len(samples)))
    reps = -(-(start + n_samples) // len(samples))
    out = np.tile(samples, reps)[start:start + n_samples].astype(np.float64)
    return (out / (np.sqrt(np.mean(out ** 2)) + 1e-12)).astype(np.float32)


def synthetic_rir(rt60_s: float, rng: np.random.Generator, direct_to_reverb_db: float = 6.0) -> np.ndarray:
    """A room impulse response: a direct path, then exponentially decaying noise reaching -60 dB at rt60."""
    n = int(rt60_s * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * 10 ** (-3 * t / rt60_s)
    tail[: int(0.002 * SAMPLE_RATE)] = 0.0  # first reflections arrive after the direct sound
    tail *= 10 ** (-direct_to_reverb_db / 20) / (np.sqrt(np.sum(tail ** 2)) + 1e-12)
    tail[0] = 1.0
    return tail.astype(np.float32)


def reverberate(track: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve and keep the original length (the tail past the end is dropped)."""
    return fftconvolve(track, rir)[: len(track)].astype(np.float32)


def add_noise(mix: np.ndarray, noise: np.ndarray, snr_db: float, speech: np.ndarray) -> np.ndarray:
    """Add unit-RMS ``noise`` scaled so that mean speech power (over ``speech`` samples) / noise power = SNR."""
    speech_power = float(np.mean(mix[speech].astype(np.float64) ** 2)) if speech.any() else 0.0
    return (mix + noise * np.sqrt(speech_power / 10 ** (snr_db / 10))).astype(np.float32)
