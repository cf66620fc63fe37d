"""diarefine: make speaker-diarization boundaries precise.

``diarefine.refine(audio, turns)`` is the one-call API; the pieces live in submodules
(`diarefine.refinement`, `diarefine.diarize`, `diarefine.rttm`, ...), imported on demand so
that ``import diarefine`` stays light.
"""

from __future__ import annotations

__version__ = "0.1.0"


def refine(audio, turns, model=None, threshold=None, device="cpu", refine_edges=False):
    """Refine one file's speaker changes: ``turns`` (a list of `Turn` or a pyannote ``Annotation``)
    -> the same type with the changes moved. ``model``: a shipped name (default
    ``contrastive-librisim``) or a checkpoint path; ``refine_edges`` also moves speech onsets /
    offsets next to silence; see `diarefine.refinement.Refiner`."""
    from .refinement import refine as refine_turns

    return refine_turns(audio, turns, model=model, threshold=threshold, device=device, refine_edges=refine_edges)
