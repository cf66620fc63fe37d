"""diarefine: make speaker-diarization boundaries precise.

``diarefine.refine(audio, turns)`` is the one-call API (``diarefine.refine`` is the inference
package, and calling it refines one file); the pieces live in submodules (`diarefine.refine`,
`diarefine.diarize`, `diarefine.rttm`, ...), imported on demand so that ``import diarefine``
stays light. docs/ARCHITECTURE.md maps them.
"""

from __future__ import annotations

from . import refine
from ._version import __version__

__all__ = ["__version__", "refine"]
