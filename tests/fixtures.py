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


#: Input sizes of the synthetic caches the model tests use (tiny, so CPU tests stay fast).
SYNTH_FEATURE_DIM, SYNTH_EMBEDDING_DIM = 12, 8


def synthetic_cache(path: Path, n: int = 48, seed: int = 0, feature_name: str = "synthetic") -> Path:
    """A window cache whose frames show who speaks: frame features are the active speaker's
    embedding plus noise, switching from left to right at the true offset (uniform in [-1, 1] s);
    a quarter of the windows hold one speaker only (no change). Built with the real CacheWriter."""
    import numpy as np

    from diarefine.data.cache import CacheWriter

    rng = np.random.default_rng(seed)
    t_frames, d, e = 200, SYNTH_FEATURE_DIM, SYNTH_EMBEDDING_DIM
    centres = (np.arange(t_frames) + 0.5) / 50 - 2.0
    left = rng.standard_normal((n, e)).astype(np.float32)
    right = rng.standard_normal((n, e)).astype(np.float32)
    left /= np.linalg.norm(left, axis=1, keepdims=True)
    right /= np.linalg.norm(right, axis=1, keepdims=True)
    has_change = np.arange(n) % 4 != 3
    offset = np.where(has_change, rng.uniform(-1, 1, n), np.nan).astype(np.float32)
    after = centres[None, :] >= np.nan_to_num(offset, nan=9.0)[:, None]  # [n, T]: right speaker active
    speaker = np.where(after[..., None], right[:, None, :], left[:, None, :])  # [n, T, E]
    features = np.concatenate([speaker, np.zeros((n, t_frames, d - e))], axis=2)
    features = (features + 0.1 * rng.standard_normal(features.shape)).astype(np.float16)
    mask = np.ones((n, t_frames), bool)
    mask[: n // 8, :20] = False  # a few windows start before the file
    difficulty = np.where(has_change, np.searchsorted([0.25, 0.75], np.abs(np.nan_to_num(offset))), -1)
    config = {"window": {"window_s": 4.0, "n_frames": t_frames, "sample_rate": 16_000},
              "features": {"name": feature_name, "dim": d}, "embeddings": {"name": "synthetic", "dim": e}}
    with CacheWriter(path, config, t_frames, d, e) as writer:
        writer.append("synthetic", {
            "features": features, "mask": mask, "left_emb": left, "right_emb": right,
            "left_emb_ok": np.ones(n, bool), "right_emb_ok": np.ones(n, bool), "offset_s": offset,
            "has_change": has_change, "initial_error_s": np.nan_to_num(-offset), "center_s": np.arange(n) * 5.0,
            "change_index": np.where(has_change, np.arange(n), -1), "difficulty": difficulty.astype(np.int8),
            "source": (~has_change).astype(np.int8), "pause_s": np.where(has_change, 0.3, 0.0).astype(np.float32),
            "clean_overlap_s": np.zeros(n, np.float32)})
    return path


def tiny_contrastive_checkpoint(path: Path, inference_profile: dict | None = None) -> Path:
    """A random contrastive model on fbank + the dummy embedder (no trained weights, any prediction)."""
    import torch

    from diarefine.embeddings import EMBEDDERS
    from diarefine.features import FEATURES
    from diarefine.models import MODELS, save_checkpoint

    torch.manual_seed(0)
    model = MODELS.build("contrastive", feature_dim=80, embedding_dim=32, channels=16, cond_dim=16,
                         dilations=[1, 2], dropout=0.0)
    with torch.no_grad():  # a strong random prior makes some predictions confident, so changes move
        model.position_prior.normal_(0, 3.0)
    features = FEATURES.build("fbank")
    embedder = EMBEDDERS.build({"name": "dummy", "dim": 32})
    cache_config = {"features": features.describe(), "embeddings": embedder.describe(),
                    "window": {"window_s": 4.0, "n_frames": 200, "sample_rate": 16000}}
    return save_checkpoint(path, model, cache_config, inference_profile=inference_profile)
