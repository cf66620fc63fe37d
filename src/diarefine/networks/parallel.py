"""Frozen-network inference spread over the CPU cores batch by batch, one torch thread per batch.

On a few cores torch's intra-op threads share one batch's small convolutions poorly: on a 2-core
VM, CAM++ on the 798 resegmentation windows of a 10-minute file took 28.1 s on one thread, 18.9 s
on two, and 12.8 s as two batches side by side on one thread each (docs/RESULTS.md, "refine: speed").
Every batch is computed as on a single thread, and an item's result does not depend on which batch
it is in (`tests/test_parallel.py`), so the results are the same bits whatever the number of cores
and however `spread_batch_size` splits a short input; memory grows by about one batch per core.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import TypeVar

import torch

Item = TypeVar("Item")
Result = TypeVar("Result")


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with torch's intra-op thread count at ``n``, then put it back (set only when it differs,
    so that nested uses inside a worker leave the process's setting alone)."""
    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


def in_callers_mode(fn: Callable[[Item], Result]) -> Callable[[Item], Result]:
    """``fn`` run under the calling thread's grad, inference and CPU autocast modes, which torch keeps per
    thread (a worker thread would otherwise start with gradients on and autocast off)."""
    grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()
    autocast, dtype = torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")

    def run(item: Item) -> Result:
        with torch.inference_mode(inference), torch.set_grad_enabled(grad), \
                torch.autocast("cpu", dtype=dtype, enabled=autocast):
            return fn(item)

    return run


def spread_batch_size(n_items: int, max_batch: int, workers: int | None = None) -> int:
    """Items per batch for `map_batches`: at most ``max_batch``, and fewer when that would leave some of the
    ``workers`` (default: torch's thread count) without a batch, so that a short file's few chunks still
    use every core. Each item's result does not depend on the batch it is in (tests check it), so neither
    does the output.

    >>> spread_batch_size(9, 16, workers=2), spread_batch_size(100, 16, workers=2), spread_batch_size(1, 16, workers=4)
    (5, 16, 1)
    """
    return max(1, min(max_batch, math.ceil(n_items / (workers or torch.get_num_threads()))))


def map_batches(fn: Callable[[Item], Result], items: Sequence[Item], workers: int | None = None,
                done: Callable[[int], None] | None = None) -> list[Result]:
    """``[fn(x) for x in items]`` with up to ``workers`` items (default: torch's thread count) at a time
    on Python threads, each item on one torch thread and under the caller's grad / inference / autocast
    modes; ``done(k)`` after the k-th result, in order. Torch's thread count is process-wide: do not run
    other torch work in the process meanwhile. Nested calls (from inside ``fn``) run serially."""
    workers = max(1, min(workers or torch.get_num_threads(), len(items)))
    results: list[Result] = []
    with torch_threads(1), (ThreadPoolExecutor(workers, "diarefine-batch") if workers > 1 else nullcontext()) as pool:
        for result in (pool.map(in_callers_mode(fn), items) if pool else map(fn, items)):
            results.append(result)
            if done:
                done(len(results))
    return results
