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


def config_from_toml(path: str | Path | None, cls, section: str):
    """A dataclass config from a TOML file's ``[section]`` table (or the whole file, or the defaults);
    unknown keys are errors."""
    from ..config import from_dict, read_toml

    if path is None:
        return cls()
    data = read_toml(path)
    return from_dict(cls, data.get(section, data), f"{path}")
