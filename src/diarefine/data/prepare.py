"""``diarefine prepare``: a corpus + an error model -> an HDF5 cache of training windows.

Per recording (one worker process each): load the audio once, compute every speaker's chunk
embeddings once (from the reference turns, or from a perturbed copy with ``embed_from =
"hypothesis"`` so training sees the contaminated turns inference sees), draw the windows
(`windows.draw_windows`), crop them from memory, compute features in batches, and average
each side's chunk embeddings outside the window. The main process appends results in file-id
order, so the cache does not depend on the number of workers. Peak memory is one recording's
audio and windows per worker, whatever the corpus size.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ..audio import crop_array, load_audio
from ..changes import find_changes
from ..config import to_dict
from ..embeddings import EMBEDDERS, ProfileConfig, window_embedding
from ..errors import DiarefineError
from ..features import FEATURES
from ..rttm import merge_turns
from ..simulate.error_models import DEFAULT_ERROR_MODEL, load_error_model
from ..simulate.perturb import perturb_file
from ..units import SAMPLE_RATE, WINDOW_S
from ..workers import process_pool, take_shard
from .cache import CacheWriter
from .corpus import Recording
from .windows import difficulty, draw_windows

log = logging.getLogger("diarefine")

FEATURE_BATCH = 64
#: Audio whose peak stays below this (-80 dBFS) is silent: it gives no training windows.
SILENT_PEAK = 1e-4


@dataclass(frozen=True)
class PrepareConfig:
    """Everything that decides a cache's content (stored in it, hashed)."""

    features: dict = field(default_factory=lambda: {"name": "fbank"})
    embeddings: dict = field(default_factory=lambda: {"name": "resemblyzer"})
    profile: ProfileConfig = field(default_factory=ProfileConfig)
    window_s: float = WINDOW_S
    error_model: str = DEFAULT_ERROR_MODEL
    draws_per_change: int = 4
    embed_from: Literal["reference", "hypothesis"] = "reference"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.draws_per_change < 1:
            raise ValueError("draws_per_change must be at least 1")


def shard_recordings(recordings: Sequence[Recording], shard: tuple[int, int] | None) -> list[Recording]:
    """Recordings sorted by file id, every n-th from the i-th (each recording in exactly one shard)."""
    return take_shard(recordings, shard, key=lambda r: r.file_id)


class WindowBuilder:
    """Turns one recording into cache rows; built once per worker process (loads the models)."""

    def __init__(self, config: PrepareConfig) -> None:
        self.config = config
        self.extractor = FEATURES.build(config.features).eval()
        if not self.extractor.cacheable:
            raise DiarefineError("a learned layer mix cannot be cached; use features.mix = 'layer' or 'average'")
        self.embedder = EMBEDDERS.build(config.embeddings)
        self.error_model = load_error_model(config.error_model)

    def cache_config(self) -> dict:
        c = self.config
        return {"window": {"window_s": c.window_s, "n_frames": self.extractor.n_frames, "sample_rate": SAMPLE_RATE},
                "features": self.extractor.describe(), "embeddings": self.embedder.describe(),
                "profile": to_dict(c.profile), "error_model": self.error_model.to_dict() | {"name": c.error_model},
                "draws_per_change": c.draws_per_change, "embed_from": c.embed_from, "seed": c.seed}

    def rng(self, file_id: str, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, zlib.crc32(file_id.encode()), stream])

    def build(self, recording: Recording) -> dict[str, np.ndarray]:
        c = self.config
        audio = load_audio(recording.audio)
        duration = len(audio) / SAMPLE_RATE
        turns = merge_turns(recording.turns)
        # Silent audio (a wrong or empty file) has nothing to learn from, whatever its RTTM says.
        changes = find_changes(turns) if np.abs(audio).max(initial=0.0) > SILENT_PEAK else []
        offsets = self.error_model.sample_offsets(len(changes) * c.draws_per_change, self.rng(recording.file_id, 0))
        specs = draw_windows(changes, turns, duration, offsets.reshape(len(changes), c.draws_per_change),
                             self.error_model.false_change_rate, self.rng(recording.file_id, 1), c.window_s)
        profile_turns = turns
        if c.embed_from == "hypothesis":
            profile_turns, _ = perturb_file(turns, self.error_model, self.rng(recording.file_id, 2))
        chunks = self.embedder.speaker_chunks(audio, profile_turns, c.profile)
        feats, masks = self.features(audio, [s.center_s for s in specs])
        sides = [[window_embedding(chunks, spk, s.center_s, c.window_s, c.profile, self.embedder.dim)
                  for spk in (s.left_speaker, s.right_speaker)] for s in specs]
        offset = np.array([s.offset_s for s in specs], np.float32)
        return {
            "features": feats, "mask": masks,
            "left_emb": np.stack([l.vector for l, _ in sides]) if specs else np.zeros((0, self.embedder.dim)),
            "right_emb": np.stack([r.vector for _, r in sides]) if specs else np.zeros((0, self.embedder.dim)),
            "left_emb_ok": np.array([l.ok for l, _ in sides], bool),
            "right_emb_ok": np.array([r.ok for _, r in sides], bool),
            "offset_s": offset, "has_change": ~np.isnan(offset), "initial_error_s": -offset,
            "center_s": np.array([s.center_s for s in specs]),
            "change_index": np.array([s.change_index for s in specs], np.int32),
            "difficulty": np.array([difficulty(x) for x in offset], np.int8),
            "source": np.array([s.source for s in specs], np.int8),
            "pause_s": np.array([s.pause_s for s in specs], np.float32),
            "clean_overlap_s": np.array([s.clean_overlap_s for s in specs], np.float32),
        }

    def features(self, audio: np.ndarray, centers_s: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
        """Windows cropped from the in-memory audio -> float16 features [W, T, D] and masks [W, T]."""
        feats, masks = [], []
        for lo in range(0, len(centers_s), FEATURE_BATCH):
            batch = centers_s[lo:lo + FEATURE_BATCH]
            spans = [self.extractor.input_span(c, self.config.window_s) for c in batch]  # with the extractor's context
            waves, valid = zip(*(crop_array(audio, start, int(round(duration * SAMPLE_RATE))) for start, duration in spans))
            with torch.inference_mode():
                f, m = self.extractor(torch.from_numpy(np.stack(waves)), torch.from_numpy(np.stack(valid)))
            feats.append(f.numpy().astype(np.float16))
            masks.append(m.numpy())
        if not feats:
            return np.zeros((0, self.extractor.n_frames, self.extractor.dim), np.float16), \
                np.zeros((0, self.extractor.n_frames), bool)
        return np.concatenate(feats), np.concatenate(masks)


_builder: WindowBuilder | None = None


def _init_worker(config: PrepareConfig, threads: int) -> None:
    global _builder
    torch.set_num_threads(threads)
    _builder = WindowBuilder(config)


def _build_in_worker(recording: Recording) -> tuple[str, dict]:
    assert _builder is not None
    return recording.file_id, _builder.build(recording)


def prepare_cache(recordings: Sequence[Recording], out: str | Path, config: PrepareConfig = PrepareConfig(),
                  workers: int = 1, shard: tuple[int, int] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> tuple[Path, int]:
    """Write the cache of ``recordings`` (or one shard of them) to ``out``; returns (path, windows).

    ``progress(recordings_done, windows_done)`` is called after each recording."""
    recordings = shard_recordings(recordings, shard)
    if not recordings:
        raise DiarefineError("no recordings to prepare (empty corpus or shard)")
    builder = WindowBuilder(config)
    audio = {r.file_id: r.audio for r in recordings}
    cache_config = builder.cache_config() | {"shard": list(shard) if shard else None}
    with CacheWriter(out, cache_config, builder.extractor.n_frames, builder.extractor.dim,
                     builder.embedder.dim) as writer:
        if workers <= 1:
            results = ((r.file_id, builder.build(r)) for r in recordings)
            _consume(results, writer, progress, audio)
        else:
            threads = max(1, torch.get_num_threads() // workers)
            with process_pool(workers, _init_worker, (config, threads)) as pool:
                _consume(pool.map(_build_in_worker, recordings), writer, progress, audio)
        n = writer.n
    return Path(out), n


def _consume(results, writer: CacheWriter, progress, audio: dict[str, Path]) -> None:
    unusable = []
    for done, (file_id, arrays) in enumerate(results, 1):
        if len(arrays["features"]) == 0:
            unusable.append(file_id)
        writer.append(file_id, arrays, audio[file_id])
        if progress:
            progress(done, writer.n)
    if unusable:
        log.warning("%d of %d recording(s) gave no training window (silent audio, or no speaker change in "
                    "the reference: too short or one speaker): %s%s", len(unusable), done, ", ".join(unusable[:5]),
                    " ..." if len(unusable) > 5 else "")
