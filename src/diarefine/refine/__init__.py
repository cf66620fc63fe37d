"""The inference path: any system's RTTM + audio -> refined RTTM.

``diarefine.refine(audio, turns)`` refines one file in one call; `Refiner` (``pipeline.py``) is
the reusable object behind it. Modules: ``files`` (audio by file id, opening a recording once),
``resolve`` (model names -> checkpoints and thresholds), ``inputs`` (extra model inputs),
``edges`` (speech-edge maths and the edge refiner), ``pipeline`` (the `Refiner`), ``compare``
(before / after tables), ``demo`` (the main job).

This package is also what ``diarefine.refine`` names, so it is callable: ``diarefine.refine(...)``
runs `refine`. Its heavy parts (torch, models) load on first use, so importing ``diarefine``
and the CLI's ``--help`` stay fast.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..types import Turn

#: Names this package offers, loaded from their module on first access (PEP 562).
_LAZY = {"Refiner": "pipeline", "FileRefinement": "pipeline", "apply_predictions": "pipeline",
         "EdgeConfig": "edges", "EdgeRefiner": "edges", "FileInput": "files", "open_input": "files",
         "resolve_model": "resolve", "run_demo": "demo"}
__all__ = ["refine", *_LAZY]


def refine(audio: str | Path, turns: "list[Turn] | Any", model: str | Path | None = None,
           threshold: float | None = None, device: str = "cpu", refine_edges: bool = False, match_shapes: bool = True,
           region_span_s: float = 0.0):
    """Refine one file's speaker changes: ``turns`` (a list of `Turn` or a pyannote ``Annotation``)
    -> the same type with the changes moved.

    ``model``: a shipped name (default ``contrastive-seg``), a classical refiner or a
    checkpoint path; ``threshold``: move a change only above this confidence (default: the
    model's own); ``refine_edges`` also moves speech onsets / offsets next to silence;
    ``match_shapes`` lets ``pause-match`` / ``overlap-match`` move the changes with a clean pause /
    overlap they are sure of; ``region_span_s`` > 0 lets changes that close share one segmentation-3.0 pass
    (faster on dense files, at a measured DER cost: docs/RESULTS.md, "refine: speed").

    >>> # refined = diarefine.refine("meeting.wav", read_rttm("meeting.rttm")["meeting"])
    """
    from pyannote.core import Annotation

    from ..rttm import from_annotation, to_annotation
    from .pipeline import Refiner

    refiner = Refiner(model, threshold, device, refine_edges=refine_edges, match_shapes=match_shapes,
                      region_span_s=region_span_s)
    if isinstance(turns, Annotation):
        file_id = turns.uri or Path(audio).stem
        return to_annotation(refiner.refine_file(audio, from_annotation(turns, file_id)).turns, uri=file_id)
    return refiner.refine_file(audio, turns).turns


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallablePackage(types.ModuleType):
    """The module type of this package: calling it calls `refine` (``diarefine.refine(audio, turns)``)."""

    def __call__(self, *args: Any, **kwargs: Any):
        return refine(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
