"""Command-line interface: ``diarefine COMMAND``, one module per family of commands, each owning its
sub-parsers and nothing but argument handling around library functions:

* ``score``: score, analyze;
* ``data``: simulate, fit-errors, perturb, prepare;
* ``train``: train, evaluate;
* ``pipeline``: refine, diarize, demo (the main job).

Errors the user can fix (`DiarefineError`) print one line naming the file and the fix, and
exit with status 2; nothing partial is written (outputs are renamed into place when complete).
Options are never abbreviated (``--audio`` is not ``--audio-dir``).
Heavy imports (torch, pyannote) happen inside the commands, so ``diarefine --help`` is fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import DiarefineError
from . import data, pipeline, score, train

FAMILIES = (score, data, train, pipeline)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diarefine", description="Make speaker-diarization boundaries precise.",
                                     allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"diarefine {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for family in FAMILIES:
        family.add_parsers(sub)
    for command in sub.choices.values():  # "--audio" must not quietly become "--audio-dir"
        command.allow_abbrev = False
    return parser


#: OpenMP threads that wait for work spin for 10,000 iterations, not libgomp's default 300,000, before
#: they sleep: on a machine busy with other jobs, spinning threads of torch's thread pool burn the
#: cores they wait for. ``benchmarks/bench_load.py`` (refine on the 30 s sample, 2 cores, two busy
#: processes; median / worst of 5): libgomp's default 15.9 / 32.9 s wall, 11.6 / 29.9 s CPU; 10,000:
#: 13.4 / 16.2 s wall, 9.8 / 12.8 s CPU; quiet, both 7.3-7.4 s (and 25 s for a 5-minute file). 1,000
#: is a little better under load but 11% slower on a quiet machine. Set before torch is imported;
#: values the user set win.
OPENMP_SETTINGS = {"GOMP_SPINCOUNT": "10000"}


def main(argv: Sequence[str] | None = None) -> int:
    for name, value in OPENMP_SETTINGS.items():
        os.environ.setdefault(name, value)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="diarefine: %(levelname)s: %(message)s")
    if getattr(args, "jobs", 1) < 1:
        print("diarefine: error: --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except DiarefineError as exc:
        print(f"diarefine: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diarefine: interrupted", file=sys.stderr)
        return 130
