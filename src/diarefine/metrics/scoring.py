"""Score hypotheses against a reference over many files: DER (several conventions) and change points.

Files are paired by file id. The per-file work (pyannote.metrics DER, change points) is
independent, so it runs in worker processes when ``jobs > 1``; results are pooled
afterwards in file-id order, so they do not depend on ``jobs``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from pyannote.core import Segment, Timeline

from ..changes import find_changes
from ..errors import MismatchError
from ..rttm import to_annotation, to_timeline
from ..types import Change, Region, Seconds, Turn
from .boundary import BoundaryMetrics, boundary_metrics
from .der import DER_CONVENTIONS, DerComponents, DerResult, default_uem, file_der


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


def default_jobs() -> int:
    """Worker processes to use by default: the CPUs this process may run on (at most 8)."""
    try:
        n_cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n_cpus = os.cpu_count() or 1
    return max(1, min(8, n_cpus))


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
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
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
