"""The HDF5 training cache: one file per split, appended recording by recording.

Layout (N windows, T frames, D feature dims, E embedding dims)::

    features        [N, T, D] float16   frame features of the window
    mask            [N, T]    bool      frame inside the file
    left_emb        [N, E]    float32   embedding of the left speaker (zeros when not ok)
    right_emb       [N, E]    float32
    left_emb_ok     [N]       bool      enough of the speaker's speech outside the window
    right_emb_ok    [N]       bool
    offset_s        [N]       float32   true change - window centre (s); NaN: no change
    has_change      [N]       bool
    initial_error_s [N]       float32   window centre - true change (s); NaN: no change
    center_s        [N]       float64   window centre in the recording (s)
    file_index      [N]       int32     row of ``file_ids``
    change_index    [N]       int32     labelled reference change of the file, -1 if none
    difficulty      [N]       int8      0 easy, 1 medium, 2 hard, -1 no change
    source          [N]       int8      0 drawn around a true change, 1 false-change window
    pause_s         [N]       float32   the hypothesis's pause at the window's change (`types.Change.pause_s`:
                                        its reference change's, shifted with it; 0 for false-change
                                        windows); absent from caches built before it
    clean_overlap_s [N]       float32   likewise the hypothesis's overlap at it (`types.Change.clean_overlap_s`)
    file_ids        [F]       str
    audio_paths     [F]       str       absolute path of each recording's audio when the cache was built
                                        (lets ``evaluate`` read windows for models that need audio)

Attributes: ``schema`` (version), ``config`` (JSON of the window / feature / embedding / draw
settings), ``config_hash``, ``complete``. The writer works on a temporary name and renames
when complete; readers refuse an incomplete file or a config that differs from theirs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from ..config import config_hash, diff_dicts
from ..errors import DiarefineError, InputFileError
from ..workers import remove_stale_partials

SCHEMA = "diarefine.window_cache/1"
#: The part of a cache's config a model depends on; `check_config` compares these sections.
MODEL_SECTIONS = ("window", "features", "embeddings")
PER_WINDOW = {
    "mask": np.bool_, "left_emb": np.float32, "right_emb": np.float32, "left_emb_ok": np.bool_,
    "right_emb_ok": np.bool_, "offset_s": np.float32, "has_change": np.bool_, "initial_error_s": np.float32,
    "center_s": np.float64, "file_index": np.int32, "change_index": np.int32, "difficulty": np.int8,
    "source": np.int8, "pause_s": np.float32, "clean_overlap_s": np.float32,
}


class CacheWriter:
    """Append windows to a new cache at ``path`` (via ``path.partial-PID``); `close` renames it into place.

    Partial files of dead processes (runs killed before they could clean up) are removed on start."""

    def __init__(self, path: str | Path, config: dict, n_frames: int, feature_dim: int, embedding_dim: int) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f"{self.path.name}.partial-{os.getpid()}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(self.path)
        self.h5 = h5py.File(self.tmp, "w")
        self.h5.attrs.update({"schema": SCHEMA, "config": json.dumps(config, sort_keys=True),
                              "config_hash": config_hash(config), "complete": False})
        self.n = 0
        self.file_ids: list[str] = []
        self.audio_paths: list[str] = []
        chunk = max(1, min(64, 2**20 // (n_frames * feature_dim * 2)))
        self.h5.create_dataset("features", (0, n_frames, feature_dim), np.float16,
                               maxshape=(None, n_frames, feature_dim), chunks=(chunk, n_frames, feature_dim))
        shapes = {"mask": (n_frames,), "left_emb": (embedding_dim,), "right_emb": (embedding_dim,)}
        for name, dtype in PER_WINDOW.items():
            shape = shapes.get(name, ())
            rows = 256 if shape else 4096
            self.h5.create_dataset(name, (0, *shape), dtype, maxshape=(None, *shape), chunks=(rows, *shape))

    def append(self, file_id: str, arrays: dict[str, np.ndarray], audio_path: str | Path = "") -> None:
        """Append one recording's windows (``arrays`` holds every per-window dataset but file_index)."""
        k = len(arrays["features"])
        if k == 0:
            return
        arrays = {**arrays, "file_index": np.full(k, len(self.file_ids), np.int32)}
        self.file_ids.append(file_id)
        self.audio_paths.append(str(Path(audio_path).resolve()) if audio_path else "")
        for name in ("features", *PER_WINDOW):
            ds = self.h5[name]
            ds.resize(self.n + k, axis=0)
            ds[self.n:self.n + k] = arrays[name]
        self.n += k

    def close(self) -> Path:
        self.h5.create_dataset("file_ids", data=np.array(self.file_ids, dtype=h5py.string_dtype()))
        self.h5.create_dataset("audio_paths", data=np.array(self.audio_paths, dtype=h5py.string_dtype()))
        self.h5.attrs["complete"] = True
        self.h5.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self.h5.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "CacheWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def read_config(path: str | Path) -> dict:
    """The config a cache was built with; refuses non-caches, other schemas and incomplete files."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "cache file not found (build one with `diarefine prepare`)")
    try:
        with h5py.File(path, "r") as h5:
            attrs = dict(h5.attrs)
    except OSError as exc:
        raise InputFileError(path, f"not an HDF5 cache ({exc})") from None
    if attrs.get("schema") != SCHEMA:
        raise InputFileError(path, f"cache schema {attrs.get('schema')!r}, this diarefine reads {SCHEMA!r}; rebuild it")
    if not attrs.get("complete"):
        raise InputFileError(path, "cache is incomplete (its prepare run did not finish); rebuild it")
    return json.loads(attrs["config"])


def check_config(path: str | Path, expected: dict, sections=MODEL_SECTIONS) -> dict:
    """Refuse a cache whose window / feature / embedding settings differ from ``expected``; say what differs."""
    found = read_config(path)
    diffs = diff_dicts({k: expected.get(k) for k in sections}, {k: found.get(k) for k in sections})
    if diffs:
        raise DiarefineError(f"{path}: cache was built with other settings than expected:\n  " + "\n  ".join(diffs)
                             + "\nrebuild it with `diarefine prepare` or use the matching model / config")
    return found
