"""Speed and memory of ``refine`` and ``diarize`` on long recordings (not a test).

    python benchmarks/bench_refine_speed.py --corpus SIM/dev --minutes 10 60 [--model NAME_OR_CKPT]
    python benchmarks/bench_refine_speed.py --corpus SIM/dev --minutes 10 60 --no-refine --diarize-all
    python benchmarks/bench_refine_speed.py --corpus SIM/dev --minutes 10 60 --methods --variants refine --repeats 3

Concatenates simulated conversations (cycling through them) into one recording per length,
with the reference turns shifted to match and a hypothesis perturbed from it with the
empirical error model; then runs the CLI as a user would (subprocesses) and reports wall
time, real-time factor (wall / audio; process start-up and model loading included) and peak
resident memory. ``diarize`` (each of ``--methods``) runs on the first length only
(``--diarize-all`` for every one); ``--no-refine`` leaves ``refine`` out, ``--variants`` picks which
``refine`` commands run; ``--precisions float32 bfloat16`` times the segmentation diarizer at both. With ``--repeats N`` each command runs N times and the table gives the
median and the fastest wall time (a shared machine's runs vary by 10-30%) and the largest peak.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import soundfile as sf
from bench_data import run
from rich.console import Console
from rich.table import Table

from diarefine.audio import load_audio
from diarefine.data.corpus import discover_corpus
from diarefine.rttm import write_rttm
from diarefine.simulate import load_error_model, perturb
from diarefine.types import Turn
from diarefine.units import SAMPLE_RATE


def long_recording(corpus: str, minutes: float, folder: Path) -> tuple[Path, Path, float]:
    """Write ``long<minutes>.wav`` and its perturbed hypothesis RTTM; returns (audio, hypothesis, seconds)."""
    recordings = discover_corpus(corpus)
    file_id = f"long{minutes:g}"
    target = int(minutes * 60 * SAMPLE_RATE)
    turns, written, k = [], 0, 0
    audio_path = folder / f"{file_id}.wav"
    with sf.SoundFile(audio_path, "w", SAMPLE_RATE, 1, "PCM_16") as out:
        while written < target:
            rec = recordings[k % len(recordings)]
            samples = load_audio(rec.audio)[:target - written]
            offset = written / SAMPLE_RATE
            turns += [Turn(file_id, t.start + offset, min(t.end + offset, offset + len(samples) / SAMPLE_RATE),
                           f"{t.speaker}#{k // len(recordings)}") for t in rec.turns
                      if t.start + offset < offset + len(samples) / SAMPLE_RATE]
            out.write(samples)
            written += len(samples)
            k += 1
    hypothesis, _ = perturb(turns, load_error_model("empirical"), seed=0)
    hyp_path = folder / f"{file_id}.rttm"
    write_rttm(hypothesis, hyp_path)
    return audio_path, hyp_path, written / SAMPLE_RATE


#: The ``refine`` commands timed: the default, and with each option that changes the work.
REFINE_VARIANTS = ("refine", "refine --no-match-shapes", "refine --refine-edges", "refine --region-span 4",
                   "refine --precision bfloat16")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="a simulated split (DIR/audio + DIR/rttm)")
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--diarize-all", action="store_true")
    parser.add_argument("--methods", nargs="*", default=["simple", "segmentation"], help="diarize methods")
    parser.add_argument("--no-refine", action="store_true")
    parser.add_argument("--variants", nargs="+", choices=REFINE_VARIANTS, default=list(REFINE_VARIANTS),
                        help="which refine commands run")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each command (median and fastest)")
    parser.add_argument("--keep", help="keep the long recordings in this folder")
    parser.add_argument("--precisions", nargs="+", default=["float32"], choices=["float32", "bfloat16"],
                        help="diarize --method segmentation at each of these --precision values")
    parser.add_argument("--model", help="refine with this shipped name, classical refiner or checkpoint "
                                        "(default: refine's own default)")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="diarefine-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    exe = [sys.executable, "-m", "diarefine.cli"]
    wall_header = "wall (s)" if args.repeats == 1 else f"wall (s): median / fastest of {args.repeats}"
    table = Table("command", "audio (min)", wall_header, "RTF (median wall / audio)", "peak RSS (MB)",
                  title="refine / diarize on long recordings (CLI subprocess, start-up included)")
    try:
        for i, minutes in enumerate(args.minutes):
            audio, hyp, seconds = long_recording(args.corpus, minutes, work)
            model = ["--model", args.model] if args.model else []
            commands = {} if args.no_refine else {
                name: ["refine", str(audio), str(hyp), "-o", str(work / f"{name.replace(' ', '')}{minutes:g}.rttm"),
                       *name.split()[1:], *model] for name in args.variants}
            if i == 0 or args.diarize_all:
                for m in args.methods:
                    for precision in args.precisions if m == "segmentation" else ["float32"]:
                        extra = [] if precision == "float32" else ["--precision", precision]
                        commands[" ".join(["diarize --method", m, *extra])] = [
                            "diarize", str(audio), "--method", m, *extra,
                            "-o", str(work / f"diarized{minutes:g}-{m}-{precision}.rttm")]
            for name, command in commands.items():
                walls, peaks = zip(*(run(exe + command) for _ in range(args.repeats)))
                wall = statistics.median(walls)
                shown = f"{wall:.1f}" if args.repeats == 1 else f"{wall:.1f} / {min(walls):.1f}"
                table.add_row(name, f"{seconds / 60:.1f}", shown, f"{wall / seconds:.4f}", f"{max(peaks):.0f}")
            audio.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    Console().print(table)


if __name__ == "__main__":
    main()
