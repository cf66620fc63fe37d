"""Figures of boundary errors (matplotlib, Agg backend: no display needed); written atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .fileio import atomic_path  # noqa: E402


def _save(fig, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)


def plot_offset_histogram(offsets_s: np.ndarray, path: str | Path, title: str = "", bin_s: float = 0.02) -> None:
    """Histogram of signed (hypothesis - reference) offsets of matched changes, in seconds."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    edges = np.arange(-2.0, 2.0 + bin_s / 2, bin_s)
    ax.hist(offsets_s, bins=edges, color="#3b6ea5")
    ax.axvline(0.0, color="black", lw=0.8)
    if offsets_s.size:
        median = float(np.median(np.abs(offsets_s)))
        ax.set_title(f"{title}\nhypothesis - reference offset of matched changes "
                     f"(n={offsets_s.size}, median |offset| {1000 * median:.0f} ms)", fontsize=10)
    ax.set_xlabel("offset (s)")
    ax.set_ylabel("changes")
    ax.set_xlim(-2, 2)
    _save(fig, path)


def plot_distance_cdf(ref_to_hyp_s: np.ndarray, hyp_to_ref_s: np.ndarray, path: str | Path, title: str = "") -> None:
    """Cumulative distribution of distances to the nearest change on the other side."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    for distances, label in ((ref_to_hyp_s, "reference -> nearest hypothesis"),
                             (hyp_to_ref_s, "hypothesis -> nearest reference")):
        if distances.size == 0:
            continue
        sorted_d = np.sort(distances)
        ax.step(sorted_d, np.arange(1, sorted_d.size + 1) / sorted_d.size, where="post", label=label)
    for x in (0.25, 0.5, 1.0):
        ax.axvline(x, color="grey", lw=0.5, ls=":")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 1)
    ax.set_xlabel("distance to nearest change (s)")
    ax.set_ylabel("share of changes")
    ax.set_title(f"{title}\ndistance to the nearest change on the other side", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    _save(fig, path)
