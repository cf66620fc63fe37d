"""Score hypotheses against a reference over many files: DER (several conventions) and change points.

Files are paired by file id. The per-file work (pyannote.metrics DER, change points) is
independent, so it runs in worker processes when ``jobs > 1``; results are pooled
afterwards in file-id order, so they do not depend on ``jobs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyannote.core import Segment, Timeline

from ..changes import find_changes
from ..display import percent, seconds
from ..errors import MismatchError
from ..rttm import to_annotation, to_timeline
from ..types import Change, Region, Seconds, Turn
from ..workers import process_pool
from .boundary import BoundaryMetrics, boundary_metrics
from .der import DER_CONVENTIONS, HEADLINE, MDEVAL, DerComponents, DerResult, default_uem, file_der


@dataclass(frozen=True)
class DerSpec:
    """One way of scoring DER: a pyannote collar (total width, s), and optionally the
    zones within ``exclude_change_radius_s`` of each reference change removed from the UEM."""

    name: str
    collar_s: Seconds = 0.0
    exclude_change_radius_s: Seconds = 0.0


#: The two conventions of every table: headline collar 0, and md-eval +/-250 ms.
STANDARD_DER_SPECS: tuple[DerSpec, ...] = tuple(DerSpec(name, collar) for name, collar in DER_CONVENTIONS.items())


@dataclass(frozen=True)
class FilePairing:
    """Which files are scored: the reference's, each with a hypothesis (possibly empty)."""

    file_ids: list[str]
    missing_hypothesis: list[str]  # reference files with no hypothesis (scored as empty)
    ignored_hypothesis: list[str]  # hypothesis files with no reference (not scored)


def pair_files(
    reference: Mapping[str, Sequence[Turn]],
    hypothesis: Mapping[str, Sequence[Turn]],
    uem: Mapping[str, Sequence[Region]] | None = None,
    allow_missing: bool = False,
    hypothesis_name: str = "hypothesis",
) -> FilePairing:
    """Pair files by id; a file id on one side only is an error unless ``allow_missing``."""
    missing = sorted(set(reference) - set(hypothesis))
    extra = sorted(set(hypothesis) - set(reference))
    if (missing or extra) and not allow_missing:
        parts = []
        if missing:
            parts.append(f"{len(missing)} reference file id(s) have no hypothesis: {_preview(missing)}")
        if extra:
            parts.append(f"{len(extra)} hypothesis file id(s) have no reference: {_preview(extra)}")
        raise MismatchError(f"{hypothesis_name}: " + "; ".join(parts)
                            + ". Pass --allow-missing to score the reference's files anyway "
                              "(a missing hypothesis counts as no speech).")
    if uem is not None:
        no_uem = sorted(set(reference) - set(uem))
        if no_uem:
            raise MismatchError(f"{len(no_uem)} reference file id(s) have no UEM: {_preview(no_uem)}")
    return FilePairing(sorted(reference), missing, extra)


def _preview(ids: list[str], n: int = 5) -> str:
    return ", ".join(ids[:n]) + (f", ... ({len(ids) - n} more)" if len(ids) > n else "")


def _exclude_around(uem: Timeline, changes: Sequence[Change], radius_s: Seconds) -> Timeline:
    zones = Timeline([Segment(c.time - radius_s, c.time + radius_s) for c in changes]).support()
    return uem.extrude(zones)


def _score_one_file(task) -> tuple[str, dict[str, DerComponents], list[Change], list[Change]]:
    """Worker: DER under every spec and the change points of both sides, for one file."""
    file_id, ref, hyp, uem_regions, specs = task
    ref_changes = find_changes(ref)
    hyp_changes = find_changes(hyp)
    uem = to_timeline(uem_regions) if uem_regions is not None else default_uem(ref, hyp)
    ref_annotation, hyp_annotation = to_annotation(ref), to_annotation(hyp)  # built once, scored per spec
    der = {}
    for spec in specs:
        spec_uem = _exclude_around(uem, ref_changes, spec.exclude_change_radius_s) \
            if spec.exclude_change_radius_s > 0 else uem
        der[spec.name] = file_der(ref_annotation, hyp_annotation, spec_uem, spec.collar_s)
    return file_id, der, ref_changes, hyp_changes


@dataclass(frozen=True)
class SetScore:
    """Everything measured for one hypothesis over a set of files."""

    name: str
    pairing: FilePairing
    der: dict[str, DerResult]  # spec name -> pooled and per-file DER
    ref_changes: dict[str, list[Change]] = field(repr=False)
    hyp_changes: dict[str, list[Change]] = field(repr=False)
    boundary: BoundaryMetrics = field(repr=False)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "n_files": len(self.pairing.file_ids),
            "missing_hypothesis": self.pairing.missing_hypothesis,
            "ignored_hypothesis": self.pairing.ignored_hypothesis,
            "der": {name: result.total.to_dict() for name, result in self.der.items()},
            "boundary": self.boundary.to_dict(),
            "per_file": {
                file_id: {name: result.per_file[file_id].to_dict() for name, result in self.der.items()}
                for file_id in self.pairing.file_ids
            },
        }


def score_set(
    reference: Mapping[str, Sequence[Turn]],
    hypothesis: Mapping[str, Sequence[Turn]],
    uem: Mapping[str, Sequence[Region]] | None = None,
    *,
    name: str = "hypothesis",
    allow_missing: bool = False,
    specs: Sequence[DerSpec] = STANDARD_DER_SPECS,
    jobs: int = 1,
    progress=None,
) -> SetScore:
    """DER under each spec and hypothesis-vs-reference boundary metrics, over the reference's files.

    ``progress``, if given, is called with the number of files finished after each file.
    """
    pairing = pair_files(reference, hypothesis, uem, allow_missing, name)
    tasks = [(file_id, reference[file_id], hypothesis.get(file_id, []),
              None if uem is None else uem[file_id], tuple(specs))
             for file_id in pairing.file_ids]
    # Longest files first keeps the worker processes evenly loaded.
    tasks.sort(key=lambda task: -(len(task[1]) + len(task[2])))
    results = []
    if jobs > 1 and len(tasks) > 1:
        with process_pool(min(jobs, len(tasks))) as pool:
            for result in pool.map(_score_one_file, tasks, chunksize=1):
                results.append(result)
                if progress:
                    progress(len(results))
    else:
        for task in tasks:
            results.append(_score_one_file(task))
            if progress:
                progress(len(results))
    results.sort(key=lambda r: r[0])
    der = {
        spec.name: DerResult(spec.name, sum((r[1][spec.name] for r in results), DerComponents()),
                             {r[0]: r[1][spec.name] for r in results})
        for spec in specs
    }
    ref_changes = {r[0]: r[2] for r in results}
    hyp_changes = {r[0]: r[3] for r in results}
    return SetScore(name, pairing, der, ref_changes, hyp_changes, boundary_metrics(ref_changes, hyp_changes))


def score_rows(scores: Sequence[SetScore]) -> list[list[str]]:
    """The rows of ``diarefine score``'s table, one column per scored system: files, both DER
    conventions with their split, change counts and matching, boundary errors, detection P / R / F1."""
    def der_rows(convention: str, label: str) -> list[list[str]]:
        totals = [s.der[convention].total for s in scores]
        return [[label] + [percent(t.der) for t in totals],
                ["  missed speech"] + [percent(t.rate(t.missed_s)) for t in totals],
                ["  false alarm"] + [percent(t.rate(t.false_alarm_s)) for t in totals],
                ["  speaker confusion"] + [percent(t.rate(t.confusion_s)) for t in totals]]

    b = [s.boundary for s in scores]
    rows = [["files scored"] + [str(len(s.pairing.file_ids)) for s in scores]]
    rows += der_rows(HEADLINE, "DER (collar 0, overlap scored)")
    rows += der_rows(MDEVAL, f"DER ({MDEVAL})")
    rows += [["reference / hypothesis changes"] + [f"{x.n_ref} / {x.n_hyp}" for x in b],
             [f"matched within {b[0].match_tolerance_s:g} s"] + [str(x.n_matched) for x in b],
             ["  missed / false alarm"] + [f"{x.n_missed} / {x.n_false_alarm}" for x in b],
             ["  boundary MAE"] + [seconds(x.matched.mae_s) for x in b],
             ["  boundary median"] + [seconds(x.matched.median_s) for x in b],
             ["  boundary RMSE"] + [seconds(x.matched.rmse_s) for x in b]]
    for threshold in b[0].matched.accuracy:
        rows.append([f"  acc@{round(threshold * 1000)}ms"] + [percent(x.matched.accuracy[threshold], 1) for x in b])
    for i, det in enumerate(b[0].detection):
        rows.append([f"change P / R / F1 @{round(det.tolerance_s * 1000)}ms"]
                    + [" / ".join(percent(v, 1) for v in (x.detection[i].precision, x.detection[i].recall,
                                                          x.detection[i].f1)) for x in b])
    return rows
