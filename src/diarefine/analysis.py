"""Boundary-error analysis of a diarization system ("phase 1"): how far off are its speaker changes?

`analyze_boundaries` measures, for a (reference, hypothesis) set of RTTMs:

* distances from each reference change to the nearest hypothesis change, and back;
* the share of hypothesis changes with no reference change within 2 s (windows that a
  refiner must leave alone);
* how much of the collar-0 DER lies near reference changes, two ways: removing +/-X around
  every reference *change* from the UEM, and pyannote's standard collar (+/-X around every
  reference boundary, speech onsets and offsets included);
* the histogram of signed offsets (hypothesis - reference) of one-to-one matched changes,
  saved as JSON for the hypothesis error model to sample from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .display import percent, seconds
from .metrics.boundary import MATCH_TOLERANCE_S, nearest_distances, offset_histogram
from .metrics.der import HEADLINE, MDEVAL
from .metrics.scoring import STANDARD_DER_SPECS, DerSpec, SetScore, score_set
from .types import Region, Seconds, Turn

#: Radii (s) around reference changes whose share of the collar-0 error is reported.
NEAR_CHANGE_RADII_S: tuple[Seconds, ...] = (0.25, 0.5)
#: Distance shares reported for nearest-change distances.
WITHIN_S: tuple[Seconds, ...] = (0.25, 0.5, 1.0)


def _zone_spec(radius_s: Seconds) -> DerSpec:
    return DerSpec(f"collar 0, without +/-{radius_s:g} s of reference changes", 0.0, radius_s)


def _collar_spec(radius_s: Seconds) -> DerSpec:
    return DerSpec(f"pyannote collar {2 * radius_s:g} (+/-{radius_s:g} s of every boundary)", 2 * radius_s)


@dataclass(frozen=True)
class DistanceStats:
    """Distances (s) from each change of one side to the nearest change of the other."""

    n: int
    n_unmatched: int  # the other side of the file has no change at all
    mean_s: float
    median_s: float
    p90_s: float
    within: dict[Seconds, float]  # radius -> share of changes with a counterpart that close

    @classmethod
    def of(cls, distances_s: np.ndarray) -> "DistanceStats":
        finite = distances_s[np.isfinite(distances_s)]
        n = int(distances_s.size)
        if finite.size == 0:
            nan = float("nan")
            return cls(n, n, nan, nan, nan, {r: (0.0 if n else nan) for r in WITHIN_S})
        return cls(n, n - int(finite.size), float(finite.mean()), float(np.median(finite)),
                   float(np.percentile(finite, 90)), {r: float(np.mean(distances_s <= r + 1e-9)) for r in WITHIN_S})

    def to_dict(self) -> dict:
        return {"n": self.n, "n_without_counterpart": self.n_unmatched, "mean_s": self.mean_s,
                "median_s": self.median_s, "p90_s": self.p90_s,
                **{f"within_{r:g}s": v for r, v in self.within.items()}}


@dataclass(frozen=True)
class NearChangeError:
    """Collar-0 error (s and DER points) lying within ``radius_s`` of reference changes / boundaries."""

    radius_s: Seconds
    change_zone_error_s: Seconds  # error removed by excluding +/-radius around reference changes
    collar_error_s: Seconds  # error removed by pyannote's collar of +/-radius (all boundaries)
    total_error_s: Seconds
    total_speech_s: Seconds

    def to_dict(self) -> dict:
        def share(x: float) -> float:
            return x / self.total_error_s if self.total_error_s else float("nan")

        def points(x: float) -> float:
            return x / self.total_speech_s if self.total_speech_s else float("nan")

        return {"radius_s": self.radius_s,
                "near_changes": {"error_s": self.change_zone_error_s, "share_of_error": share(self.change_zone_error_s),
                                 "der_points": points(self.change_zone_error_s)},
                "near_any_boundary_collar": {"error_s": self.collar_error_s, "share_of_error": share(self.collar_error_s),
                                             "der_points": points(self.collar_error_s)}}


@dataclass(frozen=True)
class BoundaryAnalysis:
    """The phase-1 report of one system; `to_dict` is report.json."""

    score: SetScore = field(repr=False)
    ref_to_hyp: DistanceStats
    hyp_to_ref: DistanceStats
    no_change_share: float  # hypothesis changes with no reference change within 2 s
    near_change_error: tuple[NearChangeError, ...]
    ref_to_hyp_distances_s: np.ndarray = field(repr=False)
    hyp_to_ref_distances_s: np.ndarray = field(repr=False)

    def offset_histogram(self) -> dict:
        """Histogram of matched (hypothesis - reference) offsets: the empirical error model's input."""
        b = self.score.boundary
        return offset_histogram(b.offsets_s, self.ref_to_hyp_distances_s, self.hyp_to_ref_distances_s,
                                b.match_tolerance_s)

    def summary_rows(self) -> list[list[str]]:
        """(measure, value) rows of ``diarefine analyze``'s console table."""
        der = self.score.der
        r2h, h2r = self.ref_to_hyp, self.hyp_to_ref
        rows = [["reference / hypothesis changes", f"{r2h.n} / {h2r.n}"],
                ["ref -> nearest hyp: mean / median / p90", " / ".join(seconds(x) for x in (r2h.mean_s, r2h.median_s,
                                                                                         r2h.p90_s))],
                ["hyp -> nearest ref: mean / median / p90", " / ".join(seconds(x) for x in (h2r.mean_s, h2r.median_s,
                                                                                         h2r.p90_s))],
                ["ref changes with a hyp change within 0.25 / 0.5 / 1 s",
                 " / ".join(percent(v, 1) for v in r2h.within.values())],
                ["hyp changes with no ref change within 2 s", percent(self.no_change_share, 1)],
                ["DER collar 0", percent(der[HEADLINE].total.der)],
                [f"DER {MDEVAL}", percent(der[MDEVAL].total.der)]]
        for near in self.near_change_error:
            d = near.to_dict()["near_changes"]
            rows.append([f"collar-0 error within +/-{near.radius_s:g} s of ref changes",
                         f"{percent(d['share_of_error'], 1)} of error ({percent(d['der_points'])} DER)"])
        return rows

    def to_dict(self) -> dict:
        return {
            "n_files": len(self.score.pairing.file_ids),
            "n_reference_changes": self.ref_to_hyp.n,
            "n_hypothesis_changes": self.hyp_to_ref.n,
            "reference_to_nearest_hypothesis": self.ref_to_hyp.to_dict(),
            "hypothesis_to_nearest_reference": self.hyp_to_ref.to_dict(),
            "hypothesis_changes_without_reference_within_2s": self.no_change_share,
            "der": {name: self.score.der[name].total.to_dict() for name in (HEADLINE, MDEVAL)},
            "error_near_reference_changes": [e.to_dict() for e in self.near_change_error],
            "boundary_metrics": self.score.boundary.to_dict(),
            "offset_histogram": self.offset_histogram(),
        }


def analyze_boundaries(
    reference: Mapping[str, Sequence[Turn]],
    hypothesis: Mapping[str, Sequence[Turn]],
    uem: Mapping[str, Sequence[Region]] | None = None,
    *,
    allow_missing: bool = False,
    jobs: int = 1,
    progress=None,
    name: str = "hypothesis",
) -> BoundaryAnalysis:
    """Measure a system's boundary errors against a reference (see the module docstring)."""
    specs = list(STANDARD_DER_SPECS)
    for radius in NEAR_CHANGE_RADII_S:
        specs += [_zone_spec(radius), _collar_spec(radius)]
    score = score_set(reference, hypothesis, uem, name=name, allow_missing=allow_missing,
                      specs=specs, jobs=jobs, progress=progress)
    ref_to_hyp, hyp_to_ref = [], []
    for file_id in score.pairing.file_ids:
        ref_t = [c.time for c in score.ref_changes[file_id]]
        hyp_t = [c.time for c in score.hyp_changes[file_id]]
        ref_to_hyp.append(nearest_distances(ref_t, hyp_t))
        hyp_to_ref.append(nearest_distances(hyp_t, ref_t))
    r2h = np.concatenate(ref_to_hyp) if ref_to_hyp else np.zeros(0)
    h2r = np.concatenate(hyp_to_ref) if hyp_to_ref else np.zeros(0)
    full = score.der[HEADLINE].total
    near = tuple(
        NearChangeError(radius, full.error_s - score.der[_zone_spec(radius).name].total.error_s,
                        full.error_s - score.der[_collar_spec(radius).name].total.error_s,
                        full.error_s, full.total_s)
        for radius in NEAR_CHANGE_RADII_S
    )
    no_change = float(np.mean(h2r > MATCH_TOLERANCE_S)) if h2r.size else float("nan")
    return BoundaryAnalysis(score, DistanceStats.of(r2h), DistanceStats.of(h2r), no_change, near, r2h, h2r)


def _fmt(x: float | None, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    if unit == "%":
        return f"{100 * x:.1f}%"
    if unit == "s":
        return f"{x:.3f} s"
    return f"{x:g}"


def report_markdown(analysis: BoundaryAnalysis, title: str = "Boundary-error analysis") -> str:
    """report.md: the key numbers as Markdown tables."""
    d = analysis.to_dict()
    lines = [f"# {title}", "", f"Files: {d['n_files']}. Reference changes: {d['n_reference_changes']}. "
             f"Hypothesis changes: {d['n_hypothesis_changes']}.", ""]
    lines += ["## Distance to the nearest change on the other side", "",
              "| direction | mean | median | p90 | within 0.25 s | within 0.5 s | within 1 s |",
              "|---|---|---|---|---|---|---|"]
    for label, stats in (("reference -> hypothesis", analysis.ref_to_hyp), ("hypothesis -> reference", analysis.hyp_to_ref)):
        lines.append(f"| {label} | {_fmt(stats.mean_s, 's')} | {_fmt(stats.median_s, 's')} | {_fmt(stats.p90_s, 's')} | "
                     + " | ".join(_fmt(stats.within[r], "%") for r in WITHIN_S) + " |")
    lines += ["", f"Hypothesis changes with no reference change within 2 s (a refiner must leave these alone): "
              f"{_fmt(analysis.no_change_share, '%')}.", "", "## DER", "",
              "| convention | DER | missed | false alarm | confusion |", "|---|---|---|---|---|"]
    for name, der in d["der"].items():
        lines.append(f"| {name} | {_fmt(der['der'], '%')} | {_fmt(der['missed'], '%')} | "
                     f"{_fmt(der['false_alarm'], '%')} | {_fmt(der['confusion'], '%')} |")
    lines += ["", "## Collar-0 error near reference changes (what a boundary refiner can fix)", "",
              "| radius | near speaker changes: share of error | DER points | pyannote collar (all boundaries): share | DER points |",
              "|---|---|---|---|---|"]
    for e in d["error_near_reference_changes"]:
        a, b = e["near_changes"], e["near_any_boundary_collar"]
        lines.append(f"| +/-{e['radius_s']:g} s | {_fmt(a['share_of_error'], '%')} | {_fmt(a['der_points'], '%')} | "
                     f"{_fmt(b['share_of_error'], '%')} | {_fmt(b['der_points'], '%')} |")
    bm, hist = d["boundary_metrics"], d["offset_histogram"]
    lines += ["", f"## Matched changes (one-to-one within {bm['match_tolerance_s']:g} s)", "",
              f"Matched {bm['n_matched']}, missed {bm['n_missed']}, false alarms {bm['n_false_alarm']}. "
              f"MAE {_fmt(bm['matched']['mae_s'], 's')}, median {_fmt(bm['matched']['median_s'], 's')}, "
              f"acc@100ms {_fmt(bm['matched']['acc@100ms'], '%')}.", "",
              "| tolerance | precision | recall | F1 |", "|---|---|---|---|"]
    for ms in ("50ms", "100ms", "250ms", "500ms"):
        lines.append(f"| {ms} | {_fmt(bm[f'precision@{ms}'], '%')} | {_fmt(bm[f'recall@{ms}'], '%')} | "
                     f"{_fmt(bm[f'f1@{ms}'], '%')} |")
    q = hist["offset_quantiles_s"]
    lines += ["", "Signed offset (hypothesis - reference) quantiles: "
              + ", ".join(f"q{k}={_fmt(v, 's')}" for k, v in q.items()) + ".",
              "", "Figures: `offset_histogram.png`, `distance_cdf.png`. Histogram for the error model: "
              "`offset_histogram.json`.", ""]
    return "\n".join(lines)


def write_report(analysis: BoundaryAnalysis, out_dir: str | Path, title: str = "Boundary-error analysis") -> list[Path]:
    """Write report.md, report.json, offset_histogram.json and the PNG figures to ``out_dir`` (all or none)."""
    from .fileio import OutputSet, atomic_write_text, write_json
    from .plots import plot_distance_cdf, plot_offset_histogram

    out = Path(out_dir)
    paths = [out / "report.md", out / "report.json", out / "offset_histogram.json",
             out / "offset_histogram.png", out / "distance_cdf.png"]
    with OutputSet(dirs=[out]) as outputs:
        atomic_write_text(outputs.path(paths[0]), report_markdown(analysis, title))
        write_json(outputs.path(paths[1]), analysis.to_dict())
        write_json(outputs.path(paths[2]), analysis.offset_histogram())
        plot_offset_histogram(analysis.score.boundary.offsets_s, outputs.path(paths[3]), title=title)
        plot_distance_cdf(analysis.ref_to_hyp_distances_s, analysis.hyp_to_ref_distances_s, outputs.path(paths[4]),
                          title=title)
    return paths
