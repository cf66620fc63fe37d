"""Time `diarefine score` against pyannote.metrics' DER alone, on the same files, in one run.

    python benchmarks/bench_score.py \
        --ref ../shared/data/rttm-pairs/voxconverse/ref/test \
        --hyp ../shared/data/rttm-pairs/voxconverse/hyp/test-vbx-vad-osd

Rows: pyannote.metrics DiarizationErrorRate at collar 0 only; the same plus collar 0.5 (the
two conventions the score table prints); then `diarefine score` (both DERs, change points,
boundary metrics and the printed table) with 1 and N worker processes. RTTM reading is
included in every row (pyannote.database's loader for the baselines, ours for score).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import time
import warnings
from pathlib import Path

from pyannote.database.util import load_rttm
from pyannote.metrics.diarization import DiarizationErrorRate


def pyannote_der(ref_dir: Path, hyp_dir: Path, collars: tuple[float, ...]) -> dict[float, float]:
    refs, hyps = {}, {}
    for path in sorted(ref_dir.glob("*.rttm")):
        refs.update(load_rttm(path))
    for path in sorted(hyp_dir.glob("*.rttm")):
        hyps.update(load_rttm(path))
    out = {}
    for collar in collars:
        metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
        for uri, ref in refs.items():
            metric(ref, hyps[uri])
        out[collar] = abs(metric)
    return out


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", type=Path, default=Path("../shared/data/rttm-pairs/voxconverse/ref/test"))
    parser.add_argument("--hyp", type=Path, default=Path("../shared/data/rttm-pairs/voxconverse/hyp/test-vbx-vad-osd"))
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    from diarefine.cli import main as cli_main

    warnings.filterwarnings("ignore")  # pyannote's "uem was approximated" warning, once per file
    n_files = len(list(args.ref.glob("*.rttm")))
    rows = []
    t0, der0 = timed(lambda: pyannote_der(args.ref, args.hyp, (0.0,)))
    rows.append(("pyannote.metrics DER, collar 0", t0, f"DER {100 * der0[0.0]:.2f}%"))
    t1, der1 = timed(lambda: pyannote_der(args.ref, args.hyp, (0.0, 0.5)))
    rows.append(("pyannote.metrics DER, collar 0 + collar 0.5", t1,
                 f"DER {100 * der1[0.0]:.2f}% / {100 * der1[0.5]:.2f}%"))
    for jobs in sorted({1, args.jobs}):
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            t, code = timed(lambda: cli_main(["score", str(args.ref), str(args.hyp), "--jobs", str(jobs)]))
        assert code == 0
        der_line = next(line for line in sink.getvalue().splitlines() if "DER (collar 0" in line)
        rows.append((f"diarefine score, --jobs {jobs}", t, der_line.split("│")[2].strip()))
    print(f"\n{n_files} files, {os.cpu_count()} CPUs visible, {len(os.sched_getaffinity(0))} usable\n")
    print(f"{'run':<46} {'seconds':>8} {'x collar-0 DER':>15} {'x both DERs':>12}  result")
    for name, seconds, note in rows:
        print(f"{name:<46} {seconds:8.2f} {seconds / t0:15.2f} {seconds / t1:12.2f}  {note}")


if __name__ == "__main__":
    main()
