"""A torch ``Dataset`` over one or more cache files (shards), read lazily, and its collate function.

h5py handles are opened on first access in each process (DataLoader workers fork or spawn
after the dataset is built), never shared across processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DiarefineError
from .cache import check_config, read_config

#: Per-window fields a model batch uses; metadata fields come along for evaluation.
TENSOR_FIELDS = ("features", "mask", "left_emb", "right_emb", "offset_s", "has_change")
META_FIELDS = ("left_emb_ok", "right_emb_ok", "initial_error_s", "difficulty", "source", "center_s", "change_index",
               "file_index")
#: Per-window fields of newer caches only; read when every cache given has them.
OPTIONAL_FIELDS = ("pause_s", "clean_overlap_s")


#: Cache settings that may differ between caches read together: which shard of the recordings,
#: the seed of the initial-boundary draws (more data from the same recipe), and the hypothesis
#: error model (windows of several systems' errors on the same front end).
_PER_CACHE_KEYS = ("shard", "seed", "error_model")


def _settings(config: dict) -> dict:
    """A cache config without the keys that may differ between caches read together."""
    return {k: v for k, v in config.items() if k not in _PER_CACHE_KEYS}


class WindowDataset(Dataset):
    """Windows of cache file(s); item i is a dict of numpy arrays (see `collate_windows`).

    ``expected`` (a cache config, e.g. from a checkpoint) makes it refuse caches built otherwise;
    several shards must share one config. ``in_memory`` reads every field once into RAM
    (about 32 kB per window with 80-d features): random batches then cost nothing, where
    random reads from HDF5 manage about 1000 windows/s.
    """

    def __init__(self, paths: str | Path | Sequence[str | Path], expected: dict | None = None,
                 in_memory: bool = False) -> None:
        self._handles: dict[int, h5py.File] = {}
        self.paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
        if not self.paths:
            raise DiarefineError("no cache files given")
        configs = [check_config(p, expected) if expected else read_config(p) for p in self.paths]
        base = _settings(configs[0])
        for path, cfg in zip(self.paths[1:], configs[1:]):
            other = _settings(cfg)
            if other != base:
                differ = sorted(k for k in base.keys() | other.keys() if base.get(k) != other.get(k))
                raise DiarefineError(f"{path}: built with other settings than {self.paths[0]} ({', '.join(differ)}); "
                                     "caches read together must match")
        models = [c.get("error_model") for c in configs]  # pooled error models: the config lists them all
        self.config = base | {"error_model": models[0] if all(m == models[0] for m in models) else models}
        sizes, optional = [], set(OPTIONAL_FIELDS)
        for p in self.paths:
            with h5py.File(p, "r") as h5:
                sizes.append(len(h5["offset_s"]))
                optional &= set(h5.keys())
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        #: The per-window fields items carry: the model inputs, the metadata, and the optional ones all caches have.
        self.fields = TENSOR_FIELDS + META_FIELDS + tuple(f for f in OPTIONAL_FIELDS if f in optional)
        self._memory = {name: self.column(name) for name in self.fields} if in_memory else None

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def _file(self, k: int) -> h5py.File:
        if k not in self._handles:
            self._handles[k] = h5py.File(self.paths[k], "r")
        return self._handles[k]

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        if self._memory is not None:
            return {name: values[i] for name, values in self._memory.items()}
        k = int(np.searchsorted(self.offsets, i, side="right") - 1)
        h5, row = self._file(k), i - int(self.offsets[k])
        return {name: h5[name][row] for name in self.fields}

    def __getitems__(self, indices: Sequence[int]) -> list[dict[str, np.ndarray]]:
        """A batch of items with one sorted read per field and shard (what ``DataLoader`` calls when
        batching): ~20x faster than item by item on chunked HDF5."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise IndexError(f"index out of range 0..{len(self) - 1}")
        if self._memory is not None:
            batch = {name: values[idx] for name, values in self._memory.items()}
            return [{name: col[i] for name, col in batch.items()} for i in range(idx.size)]
        shard = np.searchsorted(self.offsets, idx, side="right") - 1
        columns: dict[str, np.ndarray] = {}
        for k in np.unique(shard):
            positions = np.flatnonzero(shard == k)
            rows = idx[positions] - self.offsets[k]
            unique_rows, inverse = np.unique(rows, return_inverse=True)  # h5py wants increasing indices
            h5 = self._file(int(k))
            for name in self.fields:
                values = h5[name][unique_rows][inverse]
                if name not in columns:
                    columns[name] = np.empty((idx.size, *values.shape[1:]), values.dtype)
                columns[name][positions] = values
        return [{name: col[i] for name, col in columns.items()} for i in range(idx.size)]

    @property
    def feature_dim(self) -> int:
        return int(self._file(0)["features"].shape[2])

    @property
    def embedding_dim(self) -> int:
        return int(self._file(0)["left_emb"].shape[1])

    @property
    def n_frames(self) -> int:
        return int(self._file(0)["features"].shape[1])

    def window_files(self) -> tuple[np.ndarray, dict[str, str]]:
        """File id of every window [N] (str), and each file's audio path as stored at build time
        ("" when unknown: caches from before audio paths were stored)."""
        ids, paths = [], {}
        for k in range(len(self.paths)):
            h5 = self._file(k)
            file_ids = h5["file_ids"].asstr()[:]
            stored = h5["audio_paths"].asstr()[:] if "audio_paths" in h5 else [""] * len(file_ids)
            paths.update(zip(file_ids, stored))
            ids.append(file_ids[h5["file_index"][:]])
        return np.concatenate(ids), paths

    def column(self, name: str) -> np.ndarray:
        """One per-window field for all windows (e.g. ``difficulty`` for stratified reports)."""
        if getattr(self, "_memory", None) is not None and name in self._memory:
            return self._memory[name]
        return np.concatenate([self._file(k)[name][:] for k in range(len(self.paths))])

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_handles"] = {}
        return state

    def __del__(self) -> None:
        for h in self._handles.values():
            try:
                h.close()
            except Exception:  # interpreter shutdown: h5py may already be gone
                pass


def collate_windows(items: Sequence[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
    """Stack items into a batch: features [B, T, D] float32, mask [B, T] bool, left_emb / right_emb
    [B, E] float32, offset_s [B] float32 (0 where no change), has_change [B] bool, plus metadata."""
    batch = {name: torch.from_numpy(np.stack([it[name] for it in items])) for name in items[0]}
    batch["features"] = batch["features"].float()
    batch["offset_s"] = torch.nan_to_num(batch["offset_s"], nan=0.0)
    return batch
