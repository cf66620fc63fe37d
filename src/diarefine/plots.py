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


def _plot_cdfs(curves: dict[str, np.ndarray], path: str | Path, markers_s: tuple[float, ...], linthresh: float,
               xmax: float, xlabel: str, ylabel: str, title: str, dashed: tuple[str, ...] = ()) -> None:
    """Empirical CDFs of non-negative values (s), one step curve per label, on a symlog x axis."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, values in curves.items():
        if values.size == 0:
            continue
        ordered = np.sort(values)
        ax.step(ordered, np.arange(1, ordered.size + 1) / ordered.size, where="post", label=label,
                ls="--" if label in dashed else "-")
    for x in markers_s:
        ax.axvline(x, color="grey", lw=0.5, ls=":")
    ax.set_xscale("symlog", linthresh=linthresh)
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, 1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    _save(fig, path)


def plot_distance_cdf(ref_to_hyp_s: np.ndarray, hyp_to_ref_s: np.ndarray, path: str | Path, title: str = "") -> None:
    """Cumulative distribution of distances to the nearest change on the other side."""
    _plot_cdfs({"reference -> nearest hypothesis": ref_to_hyp_s, "hypothesis -> nearest reference": hyp_to_ref_s},
               path, (0.25, 0.5, 1.0), 0.1, 10, "distance to nearest change (s)", "share of changes",
               f"{title}\ndistance to the nearest change on the other side")


def plot_error_cdfs(errors_by_model: dict[str, np.ndarray], path: str | Path, title: str = "") -> None:
    """Cumulative distribution of absolute boundary errors (s), one curve per model."""
    _plot_cdfs(errors_by_model, path, (0.05, 0.1, 0.2), 0.05, 4, "absolute boundary error (s)",
               "share of windows with a change", title or "boundary error CDF", dashed=("no refinement",))


def plot_timelines(tracks: dict[str, list], path: str | Path, title: str = "",
                   marks_s: dict[str, list[float]] | None = None) -> None:
    """Stacked speaker timelines (reference, hypothesis, refined, ...), one row per track.

    ``tracks`` maps a row name to its turns; speakers get a colour per row (labels of different
    systems need not agree). ``marks_s`` (row name -> times) draws thin lines, e.g. each row's
    speaker changes, so moved boundaries can be compared across rows.
    """
    names = list(tracks)
    end = max((t.end for turns in tracks.values() for t in turns), default=1.0)
    fig, axes = plt.subplots(len(names), 1, figsize=(12, 1.1 * len(names) + 0.6), sharex=True, squeeze=False)
    palette = plt.get_cmap("tab10")
    for ax, name in zip(axes[:, 0], names):
        turns = tracks[name]
        speakers = sorted({t.speaker for t in turns})
        for t in turns:
            k = speakers.index(t.speaker)
            ax.broken_barh([(t.start, t.end - t.start)], (k, 0.8), color=palette(k % 10))
        ax.set_yticks([k + 0.4 for k in range(len(speakers))], speakers, fontsize=7)
        ax.set_ylim(-0.2, max(len(speakers), 1))
        for t in (marks_s or {}).get(name, []):
            ax.axvline(t, color="black", lw=0.6, alpha=0.7)
        ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlim(0, end)
    axes[-1, 0].set_xlabel("time (s)")
    if title:
        axes[0, 0].set_title(title, fontsize=10)
    _save(fig, path)
