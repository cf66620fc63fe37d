"""Worker processes that die with their parent, per-file jobs over a corpus (shards, workers,
results in input order), and cleanup of what killed runs left behind.

`process_pool` is the `ProcessPoolExecutor` every parallel command uses (``prepare``,
``simulate``, ``score`` / ``analyze``): if the parent is killed (SIGKILL, OOM killer), its
workers get SIGTERM from the kernel (Linux ``PR_SET_PDEATHSIG``) instead of living on as
orphans. `remove_stale_partials` deletes the ``NAME.partial-PID`` files of dead processes. `take_shard`
and `map_files` split a corpus over the array jobs of a scheduler and the cores of one machine:
each file is computed the same way whatever the split (same ``threads`` per file).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from .errors import DiarefineError

T = TypeVar("T")

log = logging.getLogger("diarefine")

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def exit_with_parent(parent_pid: int) -> None:
    """Ask the kernel to send this process SIGTERM when its parent dies (Linux; elsewhere nothing),
    and exit now if the parent is already gone."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):  # no libc prctl: fall back to the check below only
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _start_worker(parent_pid: int, initializer: Callable | None, initargs: tuple) -> None:
    exit_with_parent(parent_pid)
    if initializer is not None:
        initializer(*initargs)


def process_pool(workers: int, initializer: Callable | None = None, initargs: tuple = ()) -> ProcessPoolExecutor:
    """A `ProcessPoolExecutor` of ``workers`` processes that exit when this process dies."""
    return ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(os.getpid(), initializer, initargs))


def pid_alive(pid: int) -> bool:
    """Whether a process with this PID exists (on this machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_partials(path: str | Path) -> list[Path]:
    """Delete ``PATH.partial-PID`` files whose process is dead (a killed earlier run); returns them.

    Files of live processes (another run writing the same output right now) are left alone.
    """
    path = Path(path)
    removed = []
    for stale in path.parent.glob(f"{path.name}.partial-*"):
        pid = stale.name.rsplit("-", 1)[1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            stale.unlink(missing_ok=True)
            removed.append(stale)
            log.warning("removed %s, left behind by a killed run (process %s)", stale, pid)
    return removed


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (1, 4): the 0-based shard index and the shard count (1-based on the command line).

    >>> parse_shard("2/4")
    (1, 4)
    """
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise DiarefineError(f"--shard {text!r}: expected I/N, e.g. 1/4") from None
    if not 1 <= i <= n:
        raise DiarefineError(f"--shard {text!r}: need 1 <= I <= N")
    return i - 1, n


def take_shard(items: Iterable[T], shard: tuple[int, int] | None, key: Callable[[T], str]) -> list[T]:
    """``items`` sorted by ``key`` (a file id), every n-th from the i-th: each item is in exactly one
    of the n shards, whatever order the items came in.

    >>> take_shard(["c", "a", "b", "d"], (1, 2), key=str)
    ['b', 'd']
    """
    ordered = sorted(items, key=key)
    return ordered if shard is None else ordered[shard[0]::shard[1]]


def default_threads(jobs: int) -> int:
    """Torch threads per worker when ``jobs`` workers share this machine's CPUs."""
    import torch

    return max(1, torch.get_num_threads() // max(1, jobs))


def same(value: T) -> T:
    """The value itself: `map_files`' factory when the state is a plain value (a config)."""
    return value


_state: Any = None  # what `map_files`' factory built in this worker process


def _start_files_worker(threads: int, factory: Callable[..., Any], factory_args: tuple) -> None:
    global _state
    import torch

    torch.set_num_threads(threads)
    _state = factory(*factory_args)


def _call_with_state(function: Callable[[Any, Any], Any], item: Any) -> Any:
    return function(_state, item)


def map_files(function: Callable[[Any, T], Any], items: Sequence[T], factory: Callable[..., Any],
              factory_args: tuple = (), jobs: int = 1, threads: int | None = None) -> Iterator[Any]:
    """``function(state, item)`` for every item, in order, where ``state = factory(*factory_args)``
    is built once per process (a model, a config): in this process when ``jobs`` <= 1, else in
    each of ``jobs`` worker processes (`process_pool`). Every process runs ``threads`` torch threads
    (default: the CPUs shared out), so a file's result does not depend on ``jobs``. ``function``
    and ``factory`` must be importable (module-level) for the workers."""
    import torch

    jobs = max(1, min(jobs, len(items)))  # never more workers than files
    threads = threads or default_threads(jobs)
    if jobs == 1:
        torch.set_num_threads(threads)
        state = factory(*factory_args)
        yield from (function(state, item) for item in items)
        return
    with process_pool(jobs, _start_files_worker, (threads, factory, factory_args)) as pool:
        yield from pool.map(partial(_call_with_state, function), items)
