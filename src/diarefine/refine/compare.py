"""Before / after tables: DER (both conventions, with its split) and boundary metrics of several
versions of one system's output (hypothesis, refined, ...) against one reference, plus what
`refine` did to the changes; and the oracles, the most that moving changes (or speech edges)
could do for a hypothesis. Used by ``diarefine demo`` and the refine benchmarks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..changes import find_changes, move_changes
from ..display import percent, seconds
from ..metrics.boundary import MATCH_TOLERANCE_S, match_change_times
from ..metrics.der import HEADLINE, MDEVAL
from ..metrics.scoring import SetScore, score_set
from ..rttm import merge_turns
from ..types import CHANGE_KINDS, Region, Seconds, Turn
from .edges import OFFSET, ONSET, find_edges, move_edges


@dataclass(frozen=True)
class MoveCounts:
    """What refine did to a set of files' changes (see `pipeline.FileRefinement`)."""

    changes: int = 0
    moved: int = 0
    kept: int = 0
    clamped: int = 0

    def __add__(self, other: "MoveCounts") -> "MoveCounts":
        return MoveCounts(self.changes + other.changes, self.moved + other.moved, self.kept + other.kept,
                          self.clamped + other.clamped)

    @classmethod
    def of(cls, refinements) -> "MoveCounts":
        return sum((cls(r.n_changes, r.n_moved, r.n_kept, r.n_clamped) for r in refinements), cls())


@dataclass
class Comparison:
    """Scores of each version (in the given order) and, for refined ones, their move counts."""

    scores: list[SetScore]
    moves: dict[str, MoveCounts] = field(default_factory=dict)

    def rows(self) -> list[list[str]]:
        out = []
        for s in self.scores:
            der, mdeval, b = s.der[HEADLINE].total, s.der[MDEVAL].total, s.boundary
            m = self.moves.get(s.name)
            out.append([s.name, percent(der.der), percent(der.rate(der.missed_s)), percent(der.rate(der.false_alarm_s)),
                        percent(der.rate(der.confusion_s)), percent(mdeval.der), seconds(b.matched.mae_s),
                        seconds(b.matched.median_s),
                        *(percent(b.matched.accuracy.get(x), 1) for x in (0.05, 0.1, 0.2)),
                        f"{m.moved} / {m.kept}" + (f" ({m.clamped} clamped)" if m.clamped else "") if m else "-"])
        return out

    def table(self, title: str) -> tuple[str, list[str], list[list[str]]]:
        header = ["system", "DER c0", "miss", "FA", "conf", "DER md-eval", "MAE", "median", "acc@50ms",
                  "acc@100ms", "acc@200ms", "moved / kept"]
        return title, header, self.rows()

    def relative_change(self, before: str, after: str, convention: str = HEADLINE) -> float:
        """(after - before) / before of pooled DER under ``convention`` (negative: refinement helped;
        from a DER of 0: 0 when it stays 0, +inf when it rises)."""
        by_name = {s.name: s.der[convention].total.der for s in self.scores}
        if by_name[before] == 0:
            return 0.0 if by_name[after] == 0 else float("inf")
        return (by_name[after] - by_name[before]) / by_name[before]

    def to_dict(self) -> dict:
        return {"systems": [s.to_dict() for s in self.scores],
                "moves": {name: vars(m) for name, m in self.moves.items()}}


def compare(reference: Mapping[str, Sequence[Turn]], versions: Mapping[str, Mapping[str, Sequence[Turn]]],
            uem: Mapping[str, Sequence[Region]] | None = None, moves: Mapping[str, MoveCounts] | None = None,
            jobs: int = 1) -> Comparison:
    """Score every version of the output against ``reference`` (files paired by id)."""
    scores = [score_set(reference, hyp, uem, name=name, jobs=jobs) for name, hyp in versions.items()]
    return Comparison(scores, dict(moves or {}))


def change_oracle(reference: Sequence[Turn], hypothesis: Sequence[Turn],
                  tolerance_s: Seconds = MATCH_TOLERANCE_S, kinds: Collection[str] = CHANGE_KINDS) -> list[Turn]:
    """The hypothesis with every change matched to a reference change (one to one, within ``tolerance_s``)
    moved exactly onto it: the most that moving changes can do for this hypothesis. With ``kinds``
    (of `types.CHANGE_KINDS`), only the hypothesis changes of those kinds move: where that share lies."""
    unknown = set(kinds) - set(CHANGE_KINDS)
    if unknown:
        raise ValueError(f"unknown change kinds {sorted(unknown)}; known: {', '.join(CHANGE_KINDS)}")
    hyp = merge_turns(hypothesis)
    hyp_changes, ref_changes = find_changes(hyp), find_changes(reference)
    r, h = match_change_times(np.array([c.time for c in ref_changes]), np.array([c.time for c in hyp_changes]),
                              tolerance_s)
    times = [c.time for c in hyp_changes]
    for i, j in zip(r, h):
        if hyp_changes[j].kind in kinds:
            times[j] = ref_changes[i].time
    return move_changes(hyp, hyp_changes, times).turns


def edge_oracle(reference: Sequence[Turn], hypothesis: Sequence[Turn], tolerance_s: Seconds = 0.5) -> list[Turn]:
    """The hypothesis with every speech edge matched to a reference edge of its kind moved onto it."""
    hyp_edges, ref_edges = find_edges(hypothesis), find_edges(reference)
    times = [e.time for e in hyp_edges]
    for kind in (ONSET, OFFSET):
        h = [i for i, e in enumerate(hyp_edges) if e.kind == kind]
        r = np.array([e.time for e in ref_edges if e.kind == kind])
        ri, hi = match_change_times(r, np.array([hyp_edges[i].time for i in h]), tolerance_s)
        for i, j in zip(ri, hi):
            times[h[j]] = float(r[i])
    return move_edges(hypothesis, hyp_edges, times).turns
