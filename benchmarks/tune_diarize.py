"""Tune the baseline diarizer's clustering on simulated conversations (not a test).

    python benchmarks/tune_diarize.py --corpus SIM/dev --skip 20 --count 30 --clustering spectral --values 0.2 0.3 0.4

VAD and window embeddings are computed once per file; each value (spectral: affinity pruning;
ahc: distance threshold) then only re-clusters.
Prints pooled DER (collar 0 and md-eval +/-250 ms) and how often the speaker count is right.
The first ``--skip`` files are left out so they can serve as a held-out report set.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from diarefine.audio import load_audio
from diarefine.data.corpus import discover_corpus
from diarefine.diarize import DiarizeConfig, assign_speakers, embed_speech
from diarefine.metrics.scoring import score_set


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="a simulated split (DIR/audio + DIR/rttm)")
    parser.add_argument("--skip", type=int, default=20)
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--clustering", choices=["spectral", "ahc"], default="spectral")
    parser.add_argument("--values", type=float, nargs="+", default=[0.2, 0.3, 0.4],
                        help="spectral: pruning shares; ahc: cosine distance thresholds")
    parser.add_argument("--hop", type=float, default=DiarizeConfig.hop_s)
    args = parser.parse_args()
    recordings = discover_corpus(args.corpus)[args.skip:args.skip + args.count]
    began = time.perf_counter()
    base = DiarizeConfig(hop_s=args.hop)
    speech = {r.file_id: embed_speech(load_audio(r.audio), base) for r in recordings}
    audio_s = sum(s.duration_s for s in speech.values())
    print(f"{len(recordings)} files, {audio_s / 60:.1f} min of audio, front end {time.perf_counter() - began:.1f} s")
    reference = {r.file_id: list(r.turns) for r in recordings}
    setting = "pruning" if args.clustering == "spectral" else "distance_threshold"
    table = Table(setting, "DER collar 0", "DER md-eval", "speaker count right", title="baseline diarizer")
    for value in args.values:
        config = DiarizeConfig(hop_s=args.hop, clustering=args.clustering, **{setting: value})
        hyp = {fid: assign_speakers(s, fid, config) for fid, s in speech.items()}
        score = score_set(reference, hyp)
        right = sum(len({t.speaker for t in hyp[f]}) == len({t.speaker for t in reference[f]}) for f in reference)
        der = {name: f"{100 * r.total.der:.2f}%" for name, r in score.der.items()}
        table.add_row(f"{value:g}", der["collar 0"], der["md-eval +/-250 ms"], f"{right}/{len(reference)}")
    Console().print(table)


if __name__ == "__main__":
    main()
