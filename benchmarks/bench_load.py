"""``refine`` on a quiet and on a busy machine (not a test; run by hand).

    python benchmarks/bench_load.py [--repeats 5] [--busy 2] [--model contrastive-seg] \
        [--settings default OMP_WAIT_POLICY= OMP_WAIT_POLICY=ACTIVE]

Runs ``diarefine refine`` on the bundled 30 s sample (the CLI as a subprocess, start-up
included) ``--repeats`` times on a quiet machine, then again while ``--busy`` pure-Python
busy loops (other users' jobs) hold the cores, and prints wall time, CPU time (user + system of
the command) and real-time factor, median and worst. With N busy loops on C cores a fair
scheduler gives the command about C / (N + 1) of the machine, so its wall time should grow by
about (N + 1) / C, and its CPU time not at all; CPU time that grows under load is time spent
spinning (OpenMP threads waiting for each other while descheduled). ``--settings`` compares
environments for the command (``default``: as the CLI sets it; ``NAME=VALUE[,NAME=VALUE]``;
``GOMP_SPINCOUNT=300000`` is libgomp's own default); runs of the settings
are interleaved so that drift of a shared machine hits them alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from diarefine.audio import audio_info
from diarefine.display import print_table
from diarefine.samples import bundled_sample

BUSY_LOOP = "while True: pass"


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s) of one run of ``command``."""
    before = os.times()
    t0 = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def measure(commands: dict[str, tuple[list[str], dict[str, str]]], repeats: int,
            busy: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) of every run of every command, ``repeats`` rounds interleaved, with ``busy`` loops."""
    loops = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(busy)]
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    try:
        time.sleep(0.5 if busy else 0)
        for _ in range(repeats):
            for name, (command, env) in commands.items():
                runs[name].append(run_once(command, env))
        return runs
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def environment(setting: str) -> dict[str, str]:
    if setting == "default":
        return dict(os.environ)
    return {**os.environ, **dict(item.split("=", 1) for item in setting.split(","))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--busy", type=int, default=2, help="busy loops in the loaded runs")
    parser.add_argument("--model", default=None, help="default: refine's own")
    parser.add_argument("--settings", nargs="+", default=["default", "GOMP_SPINCOUNT=300000"])
    args = parser.parse_args()
    sample = bundled_sample()
    duration = audio_info(sample.audio).duration_s
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        command = ["diarefine", "refine", str(sample.audio), str(sample.rttm), "-o", str(Path(tmp) / "out.rttm"),
                   *(["--model", args.model] if args.model else [])]
        commands = {setting: (command, environment(setting)) for setting in args.settings}
        for label, busy in (("quiet", 0), (f"{args.busy} busy loops", args.busy)):
            for setting, runs in measure(commands, args.repeats, busy).items():
                walls, cpus = [w for w, _ in runs], [c for _, c in runs]
                rows.append([label, setting, f"{statistics.median(walls):.1f} / {max(walls):.1f} s",
                             f"{statistics.median(cpus):.1f} / {max(cpus):.1f} s",
                             f"{statistics.median(walls) / duration:.3f} / {max(walls) / duration:.3f}"])
    print_table(f"refine on the bundled sample ({duration:.0f} s), {os.cpu_count()} CPUs; median / worst of "
                f"{args.repeats}", ["machine", "setting", "wall", "CPU (user + sys)", "real-time factor"], rows)


if __name__ == "__main__":
    main()
