"""Before / after refinement on simulated conversations and on the bundled sample (not a test).

    python benchmarks/bench_refine.py --sample --corpus SIM/dev --count 20

For each hypothesis source (``diarize``: the default built-in diarizer, segmentation-3.0 +
CAM++; ``diarize-simple``: the simple one, silero-vad + resemblyzer, which the README's
simulated tables used; ``perturb``: the reference perturbed with the empirical error model, seeded), each refiner's predictions
(by default the three classical refiners and the shipped model) are computed once and then
applied at its own threshold, or at each of ``--thresholds``. Prints, per source, the pooled
DER (collar 0 with its split, md-eval +/-250 ms) and the boundary metrics of the hypothesis
and of every refined version, the relative change of DER, and each refiner's real-time
factor. A last "oracle" row moves every hypothesis change that matches a reference change
exactly onto it: the most any boundary refiner could gain on these hypotheses. ``--sample``
adds the bundled sample with its hypotheses of both diarizers. ``--refine-edges`` adds, for every
refiner, a row with the speech edges refined after the changes (``refine --refine-edges``), an
"edges only" row, and an oracle that also moves every hypothesis edge matched to a reference
edge (within 0.5 s) onto it.
"""

from __future__ import annotations

import argparse
import time

from diarefine.data.corpus import Recording, discover_corpus
from diarefine.diarize import DiarizeConfig
from diarefine.display import print_table
from diarefine.metrics.der import HEADLINE, MDEVAL
from diarefine.refine.compare import MoveCounts, change_oracle, compare, edge_oracle
from diarefine.refine.edges import EdgeRefiner
from diarefine.refine.files import open_input
from diarefine.refine.pipeline import Refiner, apply_predictions
from diarefine.refine.resolve import CLASSICAL_REFINERS, DEFAULT_MODEL
from diarefine.rttm import load_uems, read_rttm
from diarefine.samples import bundled_sample
from diarefine.segmentation_diarizer import SegmentationDiarizeConfig, run_diarizer
from diarefine.simulate import load_error_model, perturb


def hypotheses(recordings: list[Recording], source: str, seed: int) -> dict[str, list]:
    if source.startswith("diarize"):
        config = DiarizeConfig() if source == "diarize-simple" else SegmentationDiarizeConfig()
        return {r.file_id: run_diarizer(r.audio, r.file_id, config).turns for r in recordings}
    model = load_error_model("empirical")
    return {r.file_id: perturb(list(r.turns), model, seed=seed)[0] for r in recordings}


def report(title: str, recordings: list[Recording], hyp: dict[str, list], refiners: list[Refiner],
           thresholds: list[float] | None, refine_edges: bool = False) -> None:
    reference = {r.file_id: list(r.turns) for r in recordings}
    edges = EdgeRefiner()
    uem = {r.file_id: list(r.uem) for r in recordings} if all(r.uem for r in recordings) else None
    files = {r.file_id: open_input(r.audio, hyp[r.file_id]) for r in recordings}  # opened and merged once
    versions = {"hypothesis": {fid: f.turns for fid, f in files.items()}}
    moves, speed, audio_s = {}, {}, 0.0
    for refiner in refiners:
        began = time.perf_counter()
        predicted = {fid: refiner.refine_input(f) for fid, f in files.items()}
        audio_s = sum(p.duration_s for p in predicted.values())
        rtf = (time.perf_counter() - began) / audio_s
        for threshold in thresholds or [refiner.threshold]:
            name = f"{refiner.model_name} @ {threshold:g}"
            results = [apply_predictions(fid, hyp[fid], p.changes, p.offset_s, p.confidence, threshold)
                       for fid, p in predicted.items()]
            versions[name] = {r.file_id: r.turns for r in results}
            moves[name], speed[name] = MoveCounts.of(results), rtf
            if refine_edges:
                began = time.perf_counter()
                versions[f"{name} + edges"] = {fid: edges.refine_file(f.audio, versions[name][fid]).turns
                                               for fid, f in files.items()}
                moves[f"{name} + edges"], speed[f"{name} + edges"] = moves[name], \
                    rtf + (time.perf_counter() - began) / audio_s
    if refine_edges:
        versions["edges only"] = {fid: edges.refine_file(f.audio, f.turns).turns for fid, f in files.items()}
    versions["oracle"] = {fid: change_oracle(reference[fid], hyp[fid]) for fid in hyp}
    if refine_edges:
        versions["oracle + edges"] = {fid: edge_oracle(reference[fid], versions["oracle"][fid]) for fid in hyp}
    comparison = compare(reference, versions, uem, moves, jobs=2)
    title, header, rows = comparison.table(f"{title}: {len(recordings)} files, {audio_s / 60:.1f} min")
    rows = [row + (["-", "-"] if i == 0 else
                   [f"{100 * comparison.relative_change('hypothesis', row[0]):+.1f}% / "
                    f"{100 * comparison.relative_change('hypothesis', row[0], MDEVAL):+.1f}%",
                    f"{speed[row[0]]:.4f}" if row[0] in speed else "-"])
            for i, row in enumerate(rows)]
    print_table(title, header + [f"rel. {HEADLINE} / md-eval", "refine RTF"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", help="a simulated split (DIR/audio + DIR/rttm), e.g. SIM/dev")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N files")
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--sources", nargs="+", choices=["diarize", "diarize-simple", "perturb"],
                        default=["diarize", "diarize-simple", "perturb"])
    parser.add_argument("--sample", action="store_true", help="also the bundled sample (diarize hypotheses)")
    parser.add_argument("--models", nargs="+", default=[*CLASSICAL_REFINERS, DEFAULT_MODEL],
                        help="checkpoints, shipped or classical names (default: %(default)s)")
    parser.add_argument("--thresholds", type=float, nargs="+",
                        help="apply each refiner at these thresholds (default: its own)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbed hypotheses")
    parser.add_argument("--refine-edges", action="store_true", help="also rows with the speech edges refined")
    args = parser.parse_args()
    refiners = [Refiner(model) for model in args.models]
    if args.sample:
        s = bundled_sample()
        rec = Recording("sample", s.audio, tuple(read_rttm(s.rttm)["sample"]), tuple(load_uems(s.uem)["sample"]))
        for source in [x for x in args.sources if x.startswith("diarize")]:
            report(f"(a) bundled sample, {source}", [rec], hypotheses([rec], source, args.seed), refiners,
                   args.thresholds, args.refine_edges)
    if args.corpus:
        recordings = discover_corpus(args.corpus)[args.skip:args.skip + args.count]
        for source in args.sources:
            label = {"diarize": "(b)", "diarize-simple": "(b)", "perturb": "(c)"}[source]
            report(f"{label} {args.corpus}, {source}", recordings, hypotheses(recordings, source, args.seed), refiners,
                   args.thresholds, args.refine_edges)


if __name__ == "__main__":
    main()
