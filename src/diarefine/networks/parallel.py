"""Frozen-network inference spread over the CPU cores batch by batch, one torch thread per batch.

On a few cores torch's intra-op threads share one batch's small convolutions poorly: CAM++ on
1.5 s windows runs only about 1.2x faster on 2 threads than on 1 (2-core VM, README "Built-in
diarizers"), while two batches side by side, each on one thread, run 1.5x faster. Every batch is
computed as on a single thread, so the results are the same bits whatever the number of cores.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import TypeVar

import torch

Item = TypeVar("Item")
Result = TypeVar("Result")


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with torch's intra-op thread count at ``n``, then put it back."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def map_batches(fn: Callable[[Item], Result], items: Sequence[Item], workers: int | None = None,
                done: Callable[[int], None] | None = None) -> list[Result]:
    """``[fn(x) for x in items]`` with up to ``workers`` items (default: torch's thread count) at a time
    on Python threads, each item on one torch thread; ``done(k)`` after the k-th result, in order.

    ``fn`` runs in a worker thread: thread-local torch state (``torch.inference_mode``, autocast) must
    be entered inside it. Torch's thread count is process-wide, so do not run other torch work in the
    process meanwhile."""
    workers = max(1, min(workers or torch.get_num_threads(), len(items)))
    results: list[Result] = []
    with torch_threads(1), (ThreadPoolExecutor(workers, "diarefine-batch") if workers > 1 else nullcontext()) as pool:
        for result in (pool.map(fn, items) if pool else map(fn, items)):
            results.append(result)
            if done:
                done(len(results))
    return results
