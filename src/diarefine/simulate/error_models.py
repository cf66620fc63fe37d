"""Hypothesis error models: where a diarization system puts a speaker change, relative to the truth.

A model says three things, all measured on real (reference, system) pairs by `fit_error_model`:

* the signed offset (hypothesis - reference, seconds) of a detected change: ``gaussian``
  (N(0, sigma), the original research plan's choice) or ``empirical`` (drawn from the
  measured 20 ms histogram of matched offsets, uniform within a bin);
* ``false_change_rate``: the share of hypothesis changes with no reference change within 2 s;
* ``miss_rate``: the share of reference changes with no hypothesis change within 2 s.

Models are JSON files (schema ``diarefine.error_model/1``), loaded by path or by the name of a
shipped one: ``empirical`` (fitted on VoxConverse test/dev system outputs: median |offset|
about 150 ms, 29% false changes), ``pyannote-like`` (fitted on the built-in segmentation-3.0 +
CAM++ diarizer's output, resegmentation included, on simulated dev conversations and
ami-debug/train: median |offset| about 45 ms, 2% false changes, 11% missed changes),
``gaussian-0.5``, ``gaussian-1.0``. `perturb` applies a model to reference turns to make a realistic hypothesis.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..display import percent, seconds
from ..errors import DiarefineError, InputFileError
from ..fileio import read_text_lines, write_json
from ..metrics.boundary import (
    HISTOGRAM_QUANTILES,
    HISTOGRAM_SCHEMA,
    MATCH_TOLERANCE_S,
    boundary_metrics,
    nearest_distances,
    offset_histogram,
)
from ..registry import Registry
from ..types import Seconds, Turn

SCHEMA = "diarefine.error_model/1"
DEFAULT_ERROR_MODEL = "empirical"
ERROR_MODELS: Registry[type["ErrorModel"]] = Registry("error-model kind")


@dataclass(frozen=True)
class ErrorModel:
    """Base: the change-level error rates; subclasses draw offsets."""

    name: ClassVar[str]  # the kind, set by the registry
    label: str
    false_change_rate: float = 0.0
    miss_rate: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        if not (0 <= self.false_change_rate < 1 and 0 <= self.miss_rate < 1):
            raise ValueError("false_change_rate and miss_rate must be in [0, 1)")

    def sample_offsets(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` signed offsets (hypothesis - reference, seconds) of detected changes."""
        raise NotImplementedError

    def offset_quantiles(self, n: int = 200_000, seed: int = 0) -> dict[str, float]:
        """Quantiles of the signed and absolute offset, by sampling (for reports)."""
        x = self.sample_offsets(n, np.random.default_rng(seed))
        out = {f"q{q:g}": float(np.quantile(x, q)) for q in HISTOGRAM_QUANTILES}
        out.update({f"abs_q{q:g}": float(np.quantile(np.abs(x), q)) for q in (0.5, 0.9)})
        out["share_beyond_2s"] = float(np.mean(np.abs(x) > 2.0))
        return out

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "kind": self.name, "label": self.label, "false_change_rate": self.false_change_rate,
                "miss_rate": self.miss_rate, "source": self.source}


@ERROR_MODELS.register("gaussian")
@dataclass(frozen=True)
class GaussianErrors(ErrorModel):
    """Offsets ~ N(0, sigma_s), untruncated: |offset| > 2 s puts the change outside its window."""

    sigma_s: Seconds = 0.5

    def sample_offsets(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.normal(0.0, self.sigma_s, size=n)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "sigma_s": self.sigma_s}


@ERROR_MODELS.register("empirical")
@dataclass(frozen=True)
class EmpiricalErrors(ErrorModel):
    """Offsets drawn from a measured histogram (bin by count, then uniform within the bin)."""

    bin_edges_s: tuple[float, ...] = field(default=(), repr=False)
    counts: tuple[int, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.bin_edges_s) != len(self.counts) + 1 or sum(self.counts) <= 0:
            raise ValueError("an empirical model needs len(bin_edges_s) == len(counts) + 1 and some counts")

    @classmethod
    def from_histogram(cls, histogram: Mapping, label: str = "empirical", source: str = "") -> "EmpiricalErrors":
        """From an ``offset_histogram.json`` record (written by ``diarefine analyze``)."""
        if histogram.get("schema") != HISTOGRAM_SCHEMA:
            raise DiarefineError(f"not an offset histogram (schema {histogram.get('schema')!r}, "
                                 f"expected {HISTOGRAM_SCHEMA!r})")
        return cls(label, float(histogram["false_change_rate"]), float(histogram["miss_rate"]), source,
                   tuple(histogram["bin_edges_s"]), tuple(int(c) for c in histogram["counts"]))

    def sample_offsets(self, n: int, rng: np.random.Generator) -> np.ndarray:
        edges = np.asarray(self.bin_edges_s)
        p = np.asarray(self.counts, dtype=float)
        bins = rng.choice(len(p), size=n, p=p / p.sum())
        return edges[bins] + rng.random(n) * (edges[bins + 1] - edges[bins])

    def to_dict(self) -> dict:
        return {**super().to_dict(), "n_matched": int(sum(self.counts)), "bin_edges_s": list(self.bin_edges_s),
                "counts": list(self.counts)}


def error_model_from_dict(data: Mapping, where: str = "error model") -> ErrorModel:
    """Rebuild a model from its JSON record (refusing other schemas and unknown kinds)."""
    if data.get("schema") == HISTOGRAM_SCHEMA:
        return EmpiricalErrors.from_histogram(data, source=where)
    if data.get("schema") != SCHEMA:
        raise DiarefineError(f"{where}: not a diarefine error model (schema {data.get('schema')!r}, expected {SCHEMA!r})")
    fields = {k: v for k, v in data.items() if k not in ("schema", "kind", "n_matched")}
    cls = ERROR_MODELS.get(data.get("kind", ""))
    for key in ("bin_edges_s", "counts"):
        if key in fields:
            fields[key] = tuple(fields[key])
    try:
        return cls(**fields)
    except (TypeError, ValueError) as exc:
        raise DiarefineError(f"{where}: {exc}") from None


def shipped_error_models() -> dict[str, Path]:
    """Name -> path of the models that ship with diarefine."""
    root = Path(str(resources.files("diarefine") / "assets" / "error_models"))
    return {p.stem: p for p in sorted(root.glob("*.json"))}


def load_error_model(name_or_path: str | Path = DEFAULT_ERROR_MODEL) -> ErrorModel:
    """A shipped model by name (`shipped_error_models`: ``empirical``, ``pyannote-like``,
    ``gaussian-0.5``, ``gaussian-1.0``) or a JSON file."""
    shipped = shipped_error_models()
    path = shipped.get(str(name_or_path), Path(name_or_path))
    if str(name_or_path) not in shipped and not path.is_file():
        raise InputFileError(path, f"error model not found: give a JSON file or one of {', '.join(shipped)}")
    try:
        data = json.loads("\n".join(read_text_lines(path)))
    except json.JSONDecodeError as exc:
        raise InputFileError(path, f"not valid JSON ({exc})") from None
    return error_model_from_dict(data, str(path))


def save_error_model(model: ErrorModel, path: str | Path) -> None:
    write_json(path, model.to_dict())


def fit_histogram(pairs: Sequence[tuple[Mapping[str, Sequence[Turn]], Mapping[str, Sequence[Turn]]]],
                  tolerance_s: Seconds = MATCH_TOLERANCE_S) -> dict:
    """The offset histogram of one or more (reference, hypothesis) sets, pooled (files matched by id;
    only files present in both are used)."""
    from ..changes import find_changes

    offsets, r2h, h2r = [], [], []
    for reference, hypothesis in pairs:
        common = sorted(set(reference) & set(hypothesis))
        if not common:
            raise DiarefineError("a reference / hypothesis pair has no file id in common")
        ref_changes = {f: find_changes(reference[f]) for f in common}
        hyp_changes = {f: find_changes(hypothesis[f]) for f in common}
        offsets.append(boundary_metrics(ref_changes, hyp_changes, match_tolerance_s=tolerance_s,
                                       detection_tolerances_s=()).offsets_s)  # offsets only: no P/R/F1
        for f in common:
            rt, ht = [c.time for c in ref_changes[f]], [c.time for c in hyp_changes[f]]
            r2h.append(nearest_distances(rt, ht))
            h2r.append(nearest_distances(ht, rt))
    return offset_histogram(np.concatenate(offsets), np.concatenate(r2h), np.concatenate(h2r), tolerance_s)


def fit_summary_rows(histogram: Mapping, model: ErrorModel) -> list[list[str]]:
    """(measure, value) rows of ``diarefine fit-errors``'s table: matched changes, |offset| quantiles, rates."""
    q = histogram["abs_offset_quantiles_s"]
    return [["matched changes", str(histogram["n_matched"])],
            ["|offset| median / p90 / p95", " / ".join(seconds(q[k]) for k in ("0.5", "0.9", "0.95"))],
            ["false-change rate (hyp changes, no ref within 2 s)", percent(model.false_change_rate, 1)],
            ["miss rate (ref changes, no hyp within 2 s)", percent(model.miss_rate, 1)]]


def fit_error_model(pairs, label: str = "empirical", source: str = "") -> EmpiricalErrors:
    """An empirical model from (reference, hypothesis) turn sets (see `fit_histogram`)."""
    return EmpiricalErrors.from_histogram(fit_histogram(pairs), label, source)
