"""Small hand-written RTTM fixtures (the tests use no data from outside the project)."""

from __future__ import annotations

from pathlib import Path


#: Two interleaved files; "conv" has a gap, an overlap, a touching same-speaker pair and a 3 s pause.
RTTM_FIXTURE = """\
# hand-written fixture
SPEAKER conv 1 0.000 5.000 <NA> <NA> A <NA> <NA>
SPEAKER other 1 1.000 2.000 <NA> <NA> X <NA> <NA>
SPEAKER conv 1 6.000 3.000 <NA> <NA> B <NA> <NA>

SPEAKER conv 1 8.500 1.500 <NA> <NA> A <NA> <NA>
SPEAKER conv 1 10.000 2.000 <NA> <NA> A <NA> <NA>
;; a NIST-style comment
SPEAKER conv 1 15.000 2.000 <NA> <NA> B <NA> <NA>
SPEAKER other 1 3.000 4.000 <NA> <NA> Y <NA> <NA>
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def speechlike(duration_s: float, seed: int, f0: float = 150.0, sample_rate: int = 16_000):
    """A float32 signal of harmonic bursts (0.3-1.2 s) separated by quiet pauses (0.15-0.5 s): voice-like
    energy structure with low-energy cut points, made in the test (no external data)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = int(duration_s * sample_rate)
    out = (rng.standard_normal(n) * 1e-4).astype(np.float32)
    t = 0.1
    while t < duration_s - 0.3:
        burst = min(rng.uniform(0.3, 1.2), duration_s - t - 0.05)
        lo, hi = int(t * sample_rate), int((t + burst) * sample_rate)
        k = np.arange(hi - lo) / sample_rate
        pitch = f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * k))
        phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
        wave = sum(np.sin(h * phase) / h for h in range(1, 6)) * np.hanning(hi - lo)
        out[lo:hi] += (0.2 * wave).astype(np.float32)
        t += burst + rng.uniform(0.15, 0.5)
    return out


def make_speech_dir(root: Path, n_speakers: int = 4, files_per_speaker: int = 2, duration_s: float = 6.0) -> Path:
    """A LibriSpeech-style folder SPK/CHAPTER/SPK-CHAPTER-UTT.flac of synthetic single-speaker audio."""
    import soundfile as sf

    for s in range(n_speakers):
        speaker = str(100 + s)
        folder = root / speaker / "7"
        folder.mkdir(parents=True)
        for u in range(files_per_speaker):
            sf.write(folder / f"{speaker}-7-{u:04d}.flac", speechlike(duration_s, seed=10 * s + u, f0=110 + 40 * s),
                     16_000)
    return root
