"""Pure interval arithmetic on sorted ``[K, 2]`` arrays of (start, end) seconds."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def as_intervals(spans: Iterable[tuple[float, float]]) -> np.ndarray:
    """Any iterable of (start, end) -> float64 [K, 2], dropping empty spans."""
    arr = np.asarray(list(spans), dtype=np.float64).reshape(-1, 2)
    return arr[arr[:, 1] > arr[:, 0]]


def union(spans: Iterable[tuple[float, float]]) -> np.ndarray:
    """Merge overlapping or touching spans.

    >>> union([(3, 4), (0, 1), (0.5, 2)]).tolist()
    [[0.0, 2.0], [3.0, 4.0]]
    """
    arr = as_intervals(spans)
    if len(arr) == 0:
        return arr
    arr = arr[np.argsort(arr[:, 0], kind="stable")]
    out = [arr[0].copy()]
    for start, end in arr[1:]:
        if start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append(np.array([start, end]))
    return np.asarray(out)


def subtract(spans: Iterable[tuple[float, float]], removed: Iterable[tuple[float, float]]) -> np.ndarray:
    """Parts of ``spans`` not covered by ``removed``.

    >>> subtract([(0, 10)], [(2, 3), (5, 6)]).tolist()
    [[0.0, 2.0], [3.0, 5.0], [6.0, 10.0]]
    """
    keep, cut = union(spans), union(removed)
    out = []
    for start, end in keep:
        cursor = start
        for c_start, c_end in cut:
            if c_end <= cursor or c_start >= end:
                continue
            if c_start > cursor:
                out.append((cursor, c_start))
            cursor = max(cursor, c_end)
        if cursor < end:
            out.append((cursor, end))
    return as_intervals(out)


def total(spans: np.ndarray) -> float:
    """Total length of a union of spans (seconds).

    >>> total(np.array([[0.0, 2.0], [1.0, 3.0]]))
    3.0
    """
    merged = union(spans)
    return float((merged[:, 1] - merged[:, 0]).sum()) if len(merged) else 0.0
