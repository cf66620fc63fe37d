"""Time how long the CLI takes to answer without doing work (``--help``, ``--version``, a
sub-command's ``--help``), and which heavy packages it imported (not a test).

    python benchmarks/bench_cli_startup.py [--runs 7]

Each row runs a fresh ``python -m diarefine.cli ...`` process ``--runs`` times (after one
warm-up run that writes the bytecode caches) and prints the median and minimum wall time.
The last column lists the heavy packages the parser imported (building it should import
none: commands import torch, pyannote.metrics, lightning and h5py only when they run).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from diarefine.display import print_table

HEAVY = ("torch", "pyannote.metrics", "lightning", "h5py", "scipy", "matplotlib")
CASES = (["--help"], ["--version"], ["refine", "--help"], ["train", "--help"])


def wall_seconds(args: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "diarefine.cli", *args], capture_output=True, check=True)
    return time.perf_counter() - began


def heavy_imports(args: list[str]) -> list[str]:
    """The heavy packages imported while parsing ``args`` (help and version exit through SystemExit)."""
    code = ("import contextlib, io, sys\nfrom diarefine.cli import build_parser\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        build_parser().parse_args({args!r})\n    except SystemExit:\n        pass\n"
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    rows = []
    for case in CASES:
        wall_seconds(case)  # warm-up: bytecode caches
        times = [wall_seconds(case) for _ in range(args.runs)]
        rows.append([f"diarefine {' '.join(case)}", f"{statistics.median(times):.3f}", f"{min(times):.3f}",
                     ", ".join(heavy_imports(case)) or "none"])
    print_table(f"CLI start-up ({args.runs} runs each, python -m diarefine.cli)",
                ["command", "median s", "min s", "heavy packages imported"], rows)


if __name__ == "__main__":
    main()
