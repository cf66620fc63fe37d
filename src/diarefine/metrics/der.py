"""Diarization error rate, computed by pyannote.metrics (the only module that uses it).

Conventions (ARCHITECTURE.md): the headline is collar 0 with overlapped speech scored,
restricted to the UEM when one is given. The secondary number, labelled "md-eval +/-250 ms",
is pyannote.metrics with ``collar=0.5`` (pyannote's collar is the total width, so +/-250 ms
around every reference boundary). A set of files is scored by summing each component's
seconds over files (total-time weighted), never by averaging per-file rates.

Without a UEM the scored region is what pyannote.metrics would assume: the extent from the
earliest to the latest turn of reference and hypothesis together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

from ..rttm import to_annotation, to_timeline
from ..types import Region, Seconds, Turn

#: name -> pyannote collar (total width, s)
DER_CONVENTIONS: dict[str, Seconds] = {"collar 0": 0.0, "md-eval +/-250 ms": 0.5}
HEADLINE = "collar 0"
MDEVAL = "md-eval +/-250 ms"


@dataclass(frozen=True)
class DerComponents:
    """Seconds of scored reference speech and of each error type; ``der`` is their ratio."""

    total_s: Seconds = 0.0  # reference speech in the scored region (overlap counted per speaker)
    missed_s: Seconds = 0.0
    false_alarm_s: Seconds = 0.0
    confusion_s: Seconds = 0.0

    @property
    def error_s(self) -> Seconds:
        return self.missed_s + self.false_alarm_s + self.confusion_s

    @property
    def der(self) -> float:
        return self.error_s / self.total_s if self.total_s > 0 else float("nan")

    def __add__(self, other: "DerComponents") -> "DerComponents":
        return DerComponents(self.total_s + other.total_s, self.missed_s + other.missed_s,
                             self.false_alarm_s + other.false_alarm_s, self.confusion_s + other.confusion_s)

    def rate(self, seconds: Seconds) -> float:
        """A component as a share of reference speech."""
        return seconds / self.total_s if self.total_s > 0 else float("nan")

    def to_dict(self) -> dict:
        return {"der": self.der, "missed": self.rate(self.missed_s), "false_alarm": self.rate(self.false_alarm_s),
                "confusion": self.rate(self.confusion_s), "total_s": self.total_s, "missed_s": self.missed_s,
                "false_alarm_s": self.false_alarm_s, "confusion_s": self.confusion_s}


def default_uem(reference: Sequence[Turn], hypothesis: Sequence[Turn]) -> Timeline:
    """pyannote.metrics' implicit UEM: the extent of reference and hypothesis together."""
    turns = list(reference) + list(hypothesis)
    if not turns:
        return Timeline()
    return Timeline([Segment(min(t.start for t in turns), max(t.end for t in turns))])


def file_der(
    reference: Sequence[Turn] | Annotation,
    hypothesis: Sequence[Turn] | Annotation,
    uem: Sequence[Region] | Timeline | None = None,
    collar_s: Seconds = 0.0,
    skip_overlap: bool = False,
) -> DerComponents:
    """DER components of one file (pyannote.metrics `DiarizationErrorRate`).

    Turns or ready-made pyannote Annotations (to score one file several ways without
    rebuilding them); with annotations, ``uem`` must be given.
    """
    metric = DiarizationErrorRate(collar=collar_s, skip_overlap=skip_overlap)
    if uem is None:
        if isinstance(reference, Annotation) or isinstance(hypothesis, Annotation):
            raise ValueError("give a uem when passing annotations")
        uem = default_uem(reference, hypothesis)
    elif not isinstance(uem, Timeline):
        uem = to_timeline(uem)
    if not uem:
        return DerComponents()
    if not isinstance(reference, Annotation):
        reference = to_annotation(reference)
    if not isinstance(hypothesis, Annotation):
        hypothesis = to_annotation(hypothesis)
    detail = metric.compute_components(reference, hypothesis, uem=uem)
    return DerComponents(
        total_s=float(detail["total"]),
        missed_s=float(detail["missed detection"]),
        false_alarm_s=float(detail["false alarm"]),
        confusion_s=float(detail["confusion"]),
    )


@dataclass(frozen=True)
class DerResult:
    """DER of a set of files under one convention: pooled components plus the per-file ones."""

    convention: str
    total: DerComponents
    per_file: dict[str, DerComponents]


def corpus_der(
    reference: Mapping[str, Sequence[Turn]],
    hypothesis: Mapping[str, Sequence[Turn]],
    uem: Mapping[str, Sequence[Region]] | None = None,
    convention: str = HEADLINE,
) -> DerResult:
    """Total-time-weighted DER over the reference's files (a missing hypothesis is empty)."""
    if convention not in DER_CONVENTIONS:
        raise ValueError(f"unknown DER convention {convention!r}; choose from {sorted(DER_CONVENTIONS)}")
    per_file = {
        file_id: file_der(reference[file_id], hypothesis.get(file_id, []),
                          None if uem is None else uem.get(file_id), DER_CONVENTIONS[convention])
        for file_id in sorted(reference)
    }
    return DerResult(convention, sum(per_file.values(), DerComponents()), per_file)
