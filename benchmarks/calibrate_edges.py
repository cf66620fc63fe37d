"""Measure the lags of the edge refiner's two cues and how well they place speech edges (not a test).

    python benchmarks/calibrate_edges.py --corpus SIM/dev --skip 20 --count 30

For the speech edges (onsets / offsets next to silence) of ``diarize`` and ``perturb``
hypotheses of a simulated split, each edge matched one to one to a reference edge of the same
kind within 0.5 s: the signed error (proposal minus reference) of the silero-vad crossing and
of the energy crossing without lag correction. Their medians are `EdgeConfig.vad_lag_s` and
`EdgeConfig.energy_lag_s`. Then the edges' MAE before and after refinement with the default
settings, over the edges the refiner moved and over all matched edges.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from diarefine.audio import audio_info, read_window
from diarefine.data.corpus import discover_corpus
from diarefine.diarize import diarize
from diarefine.display import print_table
from diarefine.dsp import speech_probabilities
from diarefine.metrics.boundary import match_change_times
from diarefine.refine.edges import ONSET, EdgeConfig, EdgeRefiner, energy_proposals, find_edges, vad_proposals
from diarefine.rttm import merge_turns
from diarefine.simulate import load_error_model, perturb

MATCH_S = 0.5


def matched_edges(hypothesis: list, reference: list):
    """(hypothesis edge, reference time) pairs, matched one to one per kind within MATCH_S."""
    hyp, ref = find_edges(hypothesis), find_edges(reference)
    pairs = []
    for kind in (ONSET, "offset"):
        h = [e for e in hyp if e.kind == kind]
        r = np.array([e.time for e in ref if e.kind == kind])
        ri, hi = match_change_times(r, np.array([e.time for e in h]), MATCH_S)
        pairs += [(h[j], float(r[i])) for i, j in zip(ri, hi)]
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", required=True, help="a simulated split (DIR/audio + DIR/rttm), e.g. SIM/dev")
    parser.add_argument("--skip", type=int, default=20)
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbed hypotheses")
    args = parser.parse_args()
    recordings = discover_corpus(args.corpus)[args.skip:args.skip + args.count]
    config = EdgeConfig()
    raw = dataclasses.replace(config, vad_lag_s=(0.0, 0.0), energy_lag_s=(0.0, 0.0))
    refiner = EdgeRefiner(config)
    lag_rows, effect_rows = [], []
    for source in ("diarize", "perturb"):
        errors = {(cue, kind): [] for cue in ("vad", "energy") for kind in (ONSET, "offset")}
        before, after, moved_before, moved_after = [], [], [], []
        for rec in recordings:
            info, reference = audio_info(rec.audio), list(rec.turns)
            hyp = diarize(rec.audio, rec.file_id).turns if source == "diarize" else \
                perturb(reference, load_error_model("empirical"), seed=args.seed)[0]
            hyp = merge_turns(hyp)
            pairs = matched_edges(hyp, reference)
            if not pairs:
                continue
            waves, valid = map(np.stack, zip(*(read_window(info, e.time - raw.window_s / 2, raw.window_s)
                                               for e, _ in pairs)))
            onsets = [e.kind == ONSET for e, _ in pairs]
            for cue, proposals in (("vad", vad_proposals(speech_probabilities(waves), onsets, raw)),
                                   ("energy", energy_proposals(waves, valid, onsets, raw))):
                for (edge, ref_time), x in zip(pairs, proposals):
                    if x is not None:
                        errors[(cue, edge.kind)].append(edge.time + x - ref_time)
            refined = refiner.refine_file(info, hyp)
            applied = {(e.kind, e.time): t for e, t in zip(refined.edges, refined.applied_times_s)}
            for edge, ref_time in pairs:
                new = applied[(edge.kind, edge.time)]
                before.append(abs(edge.time - ref_time))
                after.append(abs(new - ref_time))
                if new != edge.time:
                    moved_before.append(before[-1])
                    moved_after.append(after[-1])
        for (cue, kind), e in errors.items():
            e = np.array(e)
            lag_rows.append([source, cue, kind, str(len(e)), f"{np.median(e):+.3f}",
                             f"{np.median(np.abs(e - np.median(e))):.3f}"])
        effect_rows.append([source, str(len(before)), str(len(moved_before)),
                            f"{np.mean(moved_before):.3f} -> {np.mean(moved_after):.3f}" if moved_before else "-",
                            f"{np.mean(before):.3f} -> {np.mean(after):.3f}"])
    print_table(f"cue lags (s, crossing minus reference edge), {args.corpus} files {args.skip}-{args.skip + args.count - 1}",
                ["hypothesis", "cue", "edge", "edges", "median (lag)", "MAD"], lag_rows)
    print_table(f"edge refinement with the default settings (lags {config.vad_lag_s} / {config.energy_lag_s})",
                ["hypothesis", "matched edges", "moved", "MAE of moved edges", "MAE of all"], effect_rows)


if __name__ == "__main__":
    main()
