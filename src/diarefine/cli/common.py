"""What the command modules share: progress bars, the worker-count default and option, and a config
table from TOML. Nothing heavy at module level: building the parser must stay fast."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path


def default_jobs() -> int:
    """Worker processes to use by default: the CPUs this process may run on (at most 8)."""
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n_cpus = os.cpu_count() or 1
    return max(1, min(8, n_cpus))


def add_jobs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=int, default=default_jobs(), help="worker processes (default: %(default)s)")


def progress_bar(total: int, desc: str, unit: str = "file") -> tuple[object, Callable[[int], None]]:
    """A tqdm bar (hidden when stderr is not a terminal) and a callback taking 'items done'."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, disable=None, leave=False)

    def update(done: int) -> None:
        bar.update(done - bar.n)

    return bar, update


def window_bar(desc: str, position: int = 0) -> tuple[object, Callable[[int, int], None]]:
    """A tqdm bar over one file's windows and the (done, total) callback that drives it."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="win", disable=None, leave=False, position=position)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return bar, update


def stage_bar(desc: str) -> tuple[object, Callable[[str, int, int], None]]:
    """A tqdm bar over the stages of one file's work and the (stage, done, total) callback that
    drives it (the bar restarts at each new stage, named in its description)."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="it", disable=None, leave=False)
    current = [""]

    def update(stage: str, done: int, total: int) -> None:
        if stage != current[0]:
            current[0] = stage
            bar.set_description(f"{desc}: {stage}")
            bar.reset(total=total or None)
        bar.update(done - bar.n)

    return bar, update


def open_recordings(audio: str | None, rttm: str | None, audio_dir: str | None, rttm_dir: str | None,
                    shard: str | None = None, pair_names: str = "--audio and --rttm") -> list:
    """The opened, checked inputs (`refine.files.FileInput`) of folder mode (``audio_dir`` + ``rttm_dir``,
    matched by file id; ``shard`` "I/N" takes every N-th) or of one (audio, RTTM) pair."""
    from ..errors import DiarefineError
    from ..refine.files import open_folder, open_pair
    from ..rttm import load_rttms, read_rttm
    from ..workers import parse_shard, take_shard

    if audio_dir is not None or rttm_dir is not None:
        if audio_dir is None or rttm_dir is None or audio or rttm:
            raise DiarefineError(f"folder mode needs --audio-dir and --rttm-dir (and no {pair_names})")
        inputs = open_folder(audio_dir, load_rttms(rttm_dir), rttm_dir)
        inputs = take_shard(inputs, parse_shard(shard) if shard else None, key=lambda f: f.file_id)
        if not inputs:
            raise DiarefineError(f"--shard {shard}: no recordings in this shard")
        return inputs
    if not audio or not rttm:
        raise DiarefineError(f"give {pair_names}, or --audio-dir and --rttm-dir")
    if shard:
        raise DiarefineError("--shard splits folders: use it with --audio-dir and --rttm-dir")
    return [open_pair(audio, read_rttm(rttm), rttm)]


def config_from_toml(path: str | Path | None, cls, section: str):
    """A dataclass config from a TOML file's ``[section]`` table (or the whole file, or the defaults);
    unknown keys are errors."""
    from ..config import from_dict, read_toml

    if path is None:
        return cls()
    data = read_toml(path)
    return from_dict(cls, data.get(section, data), f"{path}")
