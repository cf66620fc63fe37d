"""Small hand-written RTTM fixtures (the tests use no data from outside the project)."""

from __future__ import annotations

from pathlib import Path


#: Two interleaved files; "conv" has a gap, an overlap, a touching same-speaker pair and a 3 s pause.
RTTM_FIXTURE = """\
# hand-written fixture
SPEAKER conv 1 0.000 5.000 <NA> <NA> A <NA> <NA>
SPEAKER other 1 1.000 2.000 <NA> <NA> X <NA> <NA>
SPEAKER conv 1 6.000 3.000 <NA> <NA> B <NA> <NA>

SPEAKER conv 1 8.500 1.500 <NA> <NA> A <NA> <NA>
SPEAKER conv 1 10.000 2.000 <NA> <NA> A <NA> <NA>
;; a NIST-style comment
SPEAKER conv 1 15.000 2.000 <NA> <NA> B <NA> <NA>
SPEAKER other 1 3.000 4.000 <NA> <NA> Y <NA> <NA>
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
