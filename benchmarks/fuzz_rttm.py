"""A mutation campaign against the RTTM reader and what reads its output (not a test; run by hand).

    python benchmarks/fuzz_rttm.py --cases 20000 [--score 300] [--seed 0]

Each case mutates a valid RTTM (the bundled sample's reference or a small hand-written one) with
1-4 random edits: numbers replaced by impossible, huge, negative, Python-only or non-ASCII
forms, times scaled to milliseconds, fields dropped or repeated, separators replaced by form
feeds / U+2028 / other line-splitting characters, control and bidi characters in labels, a byte
order mark, a 10^5-character token, random byte flips. Every case goes through `read_rttm`; those
read go on through `find_changes` and a write -> read round trip; ``--score N`` of them also go
through ``diarefine score`` (in process). Prints the counts: clean input errors, accepted, other
exceptions (the target is 0, with the first few shown), and the worst time and Python-heap
peak (tracemalloc, numpy included) of one case, with and without ``score``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from diarefine.changes import find_changes
from diarefine.cli import main as cli_main
from diarefine.display import print_table
from diarefine.errors import InputFileError
from diarefine.rttm import format_rttm, parse_rttm_with_files, read_rttm
from diarefine.samples import bundled_sample

SMALL = """SPEAKER conv 1 0.000 5.000 <NA> <NA> A <NA> <NA>
SPEAKER conv 1 6.000 3.000 <NA> <NA> B <NA> <NA>
SPEAKER conv 1 8.500 1.500 <NA> <NA> A <NA> <NA>
"""
NUMBERS = ["1e308", "1e20", "1e15", "1e12", "-1", "-0.0", "1e-9", "nan", "inf", "-inf", "1_0", "\u0661\u0662",
           "\uff11\uff12", "0x10", "1e400", "604800", "604801", "5E-1", ".5", "5.", "+3", "", "9" * 40]
SEPARATORS = ["\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r", "\t", "\x00", "\u00a0"]
INSERTS = ["\x00", "\x07", "\u202e", "\u200d", "\u200b", "\ufeff", "\x1b[31m", "é", "#", ";;", "<NA>"]


def mutate(text: str, rng: random.Random) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(lines))
        fields = lines[i].split(" ")
        kind = rng.randrange(9)
        if kind == 0 and len(fields) > 4:
            fields[rng.choice([3, 4])] = rng.choice(NUMBERS)
        elif kind == 1:  # a file written in milliseconds
            lines = [" ".join(f if j not in (3, 4) else str(float(f) * 1000) if _float(f) else f
                              for j, f in enumerate(line.split(" "))) for line in lines]
            continue
        elif kind == 2 and fields:
            del fields[rng.randrange(len(fields))]
        elif kind == 3 and fields:
            fields.insert(rng.randrange(len(fields)), rng.choice(fields))
        elif kind == 4:
            lines[i] = rng.choice(SEPARATORS).join(fields)
            continue
        elif kind == 5 and len(fields) > 7:
            j = rng.choice([1, 2, 7])
            fields[j] = fields[j][:1] + rng.choice(INSERTS) + fields[j][1:]
        elif kind == 6:
            lines[0] = "\ufeff" + lines[0]
        elif kind == 7 and fields:
            fields[rng.randrange(len(fields))] = rng.choice("x9 ") * 100_000
        else:  # random character flips
            chars = list(lines[i])
            for _ in range(rng.randint(1, 3)):
                if chars:
                    chars[rng.randrange(len(chars))] = chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x3000)]))
            lines[i] = "".join(chars)
            continue
        lines[i] = " ".join(fields)
    return "\n".join(lines) + "\n"


def _float(token: str) -> bool:
    try:
        float(token)
        return True
    except ValueError:
        return False


def run_case(path: Path, score: bool) -> str:
    """'error' (a clean InputFileError), 'accepted', or raises anything else."""
    try:
        grouped = read_rttm(path)
    except InputFileError:
        return "error"
    turns = [t for ts in grouped.values() for t in ts]
    find_changes(turns)
    again, silent = parse_rttm_with_files(format_rttm(turns, grouped).split("\n"))
    assert sorted(again) == sorted(turns) and set(silent) | {t.file_id for t in again} == set(grouped)
    if score:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = cli_main(["score", str(path), str(path), "--jobs", "1"])
        assert code in (0, 2), f"score exited {code}"
    return "accepted"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--score", type=int, default=300, help="how many cases also go through diarefine score")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    seeds = [bundled_sample().rttm.read_text(), SMALL]
    counts: Counter[str] = Counter()
    failures: list[str] = []
    worst_s = {"read": 0.0, "score": 0.0}
    worst_bytes = {"read": 0.0, "score": 0.0}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "case.rttm"
        for i in range(args.cases):
            path.write_text(mutate(rng.choice(seeds), rng), encoding="utf-8", errors="surrogatepass")
            tracemalloc.start()
            t0 = time.perf_counter()
            try:
                counts[run_case(path, score=i < args.score)] += 1
            except Exception as exc:  # noqa: BLE001 - what the campaign looks for
                counts["other exception"] += 1
                if len(failures) < 5:
                    failures.append(f"case {i}: {type(exc).__name__}: {str(exc)[:200]}")
            stage = "score" if i < args.score else "read"
            worst_s[stage] = max(worst_s[stage], time.perf_counter() - t0)
            worst_bytes[stage] = max(worst_bytes[stage], tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
    print_table(f"fuzz_rttm: {args.cases} mutated RTTM files (seed {args.seed}; the first {args.score} also "
                f"through diarefine score), {time.perf_counter() - started:.0f} s", ["outcome", "cases"],
                [["clean input error", str(counts["error"])], ["accepted", str(counts["accepted"])],
                 ["other exception (target 0)", str(counts["other exception"])],
                 ["worst time of one case: read + changes + round trip", f"{1000 * worst_s['read']:.0f} ms"],
                 ["... with diarefine score (first call imports pyannote)", f"{1000 * worst_s['score']:.0f} ms"],
                 ["worst Python-heap peak: read + changes + round trip", f"{worst_bytes['read'] / 2**20:.1f} MiB"],
                 ["... with diarefine score", f"{worst_bytes['score'] / 2**20:.1f} MiB"]])
    for line in failures:
        print(line)


if __name__ == "__main__":
    main()
