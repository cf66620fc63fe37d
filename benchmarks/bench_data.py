"""Data-side benchmark: `simulate` N conversations, then `prepare` a cache from them.

    python benchmarks/bench_data.py --speech-dir ../shared/data/librispeech-train-clean-100-201spk

Runs the CLI commands as subprocesses (what a user runs) and reports wall time, the
simulated audio, prepare throughput in windows per second, the peak resident memory of the
prepare run (the largest of the main process and of any worker), and the cache size per
10k windows. Work happens in a temporary folder that is removed afterwards (--keep to keep it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
from rich.console import Console
from rich.table import Table


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of the largest process among the command and its children."""
    start = time.perf_counter()
    code = ("import resource, subprocess, sys, json; r = subprocess.run(sys.argv[1:]); "
            "print(json.dumps(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss), file=sys.stderr); "
            "sys.exit(r.returncode)")
    done = subprocess.run([sys.executable, "-c", code, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)
    if done.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr}")
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return time.perf_counter() - start, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-dir", required=True)
    parser.add_argument("--num-conversations", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--embedder", default="resemblyzer")
    parser.add_argument("--keep", help="keep the corpus and cache in this folder")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="diarefine-bench-"))
    exe = [sys.executable, "-m", "diarefine.cli"]
    try:
        sim_s, sim_mb = run(exe + ["simulate", args.speech_dir, "-o", str(work / "sim"), "--num-conversations",
                                   str(args.num_conversations), "--seed", "0", "--jobs", str(args.jobs), "--overwrite"])
        manifest = json.loads((work / "sim" / "manifest.json").read_text())
        audio_s = sum(c["duration_s"] for c in manifest["conversations"])
        changes = sum(c["n_changes"] for c in manifest["conversations"])
        cache = work / "cache.h5"
        cache.unlink(missing_ok=True)
        prep_s, prep_mb = run(exe + ["prepare", "--corpus", str(work / "sim"), "-o", str(cache), "--embedder",
                                     args.embedder, "--jobs", str(args.jobs)])
        with h5py.File(cache) as h5:
            n_windows = len(h5["offset_s"])
        size_mb = cache.stat().st_size / 2**20
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    table = Table(title=f"diarefine data benchmark ({os.cpu_count()} CPU cores, --jobs {args.jobs})")
    for col in ("step", "wall", "throughput", "peak RSS", "notes"):
        table.add_column(col)
    table.add_row("simulate", f"{sim_s:.1f} s", f"{audio_s / sim_s:.0f}x real time", f"{sim_mb:.0f} MB",
                  f"{args.num_conversations} conversations, {audio_s / 60:.1f} min, {changes} changes")
    table.add_row("prepare (fbank + " + args.embedder + ")", f"{prep_s:.1f} s", f"{n_windows / prep_s:.0f} windows/s",
                  f"{prep_mb:.0f} MB", f"{n_windows} windows, {size_mb:.1f} MB = "
                                       f"{size_mb / n_windows * 10_000 / 1024:.2f} GB per 10k windows")
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
