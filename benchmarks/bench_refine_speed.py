"""Speed and memory of ``refine`` and ``diarize`` on long recordings (not a test).

    python benchmarks/bench_refine_speed.py --corpus SIM/dev --minutes 10 60 [--model NAME_OR_CKPT]
    python benchmarks/bench_refine_speed.py --corpus SIM/dev --minutes 10 60 --no-refine --diarize-all

Concatenates simulated conversations (cycling through them) into one recording per length,
with the reference turns shifted to match and a hypothesis perturbed from it with the
empirical error model; then runs the CLI as a user would (subprocesses) and reports wall
time, real-time factor (wall / audio; process start-up and model loading included) and peak
resident memory. ``diarize`` (each of ``--methods``) runs on the first length only
(``--diarize-all`` for every one); ``--no-refine`` leaves ``refine`` out.
"""

from __future__ import annotations

import argparse
import shutil
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="a simulated split (DIR/audio + DIR/rttm)")
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    parser.add_argument("--diarize-all", action="store_true")
    parser.add_argument("--methods", nargs="*", default=["simple", "segmentation"], help="diarize methods")
    parser.add_argument("--no-refine", action="store_true")
    parser.add_argument("--keep", help="keep the long recordings in this folder")
    parser.add_argument("--model", help="refine with this shipped name, classical refiner or checkpoint "
                                        "(default: refine's own default)")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="diarefine-speed-"))
    work.mkdir(parents=True, exist_ok=True)
    exe = [sys.executable, "-m", "diarefine.cli"]
    table = Table("command", "audio (min)", "wall (s)", "RTF (wall / audio)", "peak RSS (MB)",
                  title="refine / diarize on long recordings (CLI subprocess, start-up included)")
    try:
        for i, minutes in enumerate(args.minutes):
            audio, hyp, seconds = long_recording(args.corpus, minutes, work)
            model = ["--model", args.model] if args.model else []
            commands = {} if args.no_refine else {
                "refine": ["refine", str(audio), str(hyp), "-o", str(work / f"refined{minutes:g}.rttm"), *model],
                "refine --no-match-shapes": ["refine", str(audio), str(hyp), "-o",
                                             str(work / f"model-only{minutes:g}.rttm"), "--no-match-shapes", *model],
                "refine --refine-edges": ["refine", str(audio), str(hyp), "-o", str(work / f"edges{minutes:g}.rttm"),
                                          "--refine-edges", *model]}
            if i == 0 or args.diarize_all:
                commands |= {f"diarize --method {m}": ["diarize", str(audio), "--method", m,
                                                       "-o", str(work / f"diarized{minutes:g}-{m}.rttm")]
                             for m in args.methods}
            for name, command in commands.items():
                wall, peak = run(exe + command)
                table.add_row(name, f"{seconds / 60:.1f}", f"{wall:.1f}", f"{wall / seconds:.4f}", f"{peak:.0f}")
            audio.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    Console().print(table)


if __name__ == "__main__":
    main()
