"""Worker processes that die with their parent, and cleanup of what killed runs left behind.

`process_pool` is the `ProcessPoolExecutor` every parallel command uses (``prepare``,
``simulate``, ``score`` / ``analyze``): if the parent is killed (SIGKILL, OOM killer), its
workers get SIGTERM from the kernel (Linux ``PR_SET_PDEATHSIG``) instead of living on as
orphans. `remove_stale_partials` deletes the ``NAME.partial-PID`` files of dead processes.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

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
    for partial in path.parent.glob(f"{path.name}.partial-*"):
        pid = partial.name.rsplit("-", 1)[1]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            partial.unlink(missing_ok=True)
            removed.append(partial)
            log.warning("removed %s, left behind by a killed run (process %s)", partial, pid)
    return removed
