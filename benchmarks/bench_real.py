"""Before / after refinement on real recordings: the AMI excerpts of ami-debug and the bundled sample
(not a test).

    python benchmarks/bench_real.py --corpus ../shared/data/ami-debug/dev ../shared/data/ami-debug/test --sample

Hypotheses, per recording: (i) the reference perturbed with an error model (``--error-model``,
default ``empirical``: real-system-like boundary errors, nothing else wrong), once per seed
(``--seeds``, default 5), and (ii) ``diarefine diarize``'s output, of the default (segmentation-3.0) and of the
simple built-in diarizer. For each source the table pools collar-0 DER
(with the UEM) over every hypothesis and gives, per refiner (no refinement, the change oracle,
the change oracle moving only the changes of one kind (`types.Change.kind`: a clean pause, a clean
overlap, other), every classical refiner, every model of ``--models``, each at its own threshold or at each of
``--thresholds``; and each with pause-match / overlap-match moving the changes with a clean pause /
overlap in the hypothesis that they are sure of, as ``refine`` does by default: "+ shapes"): the relative
change of DER (with its 90% interval over bootstrap resamples of the recordings, each with all of
its hypotheses: how much the number could move had other recordings been drawn), the share of the
oracle's gain it reaches, how many hypotheses it made worse
(DER up by more than 0.05 points), and the median distance and acc@100 ms of the changes
matched to a reference change; ``--per-recording`` adds each recording's relative change (its seeds
pooled), to see where a refiner's gain or harm comes from; ``--against ROW`` adds each row's DER
relative to that row's, paired by hypothesis, with its interval: to choose between two refiners;
``--held-out CORPUS=CHECKPOINT ...`` adds a row in which each corpus is refined by a model that did not
see it (cross-fitted fine-tunes: a fair place to tune a fine-tuned model's settings).
The ami-debug meetings may be among segmentation-3.0's training data, so numbers of refiners built
on it (``segmentation-snap``, ``pause-match``, ``overlap-match``, ``pyannote-seg`` models) are
optimistic here. Use ``ami-debug/train``
to choose settings; report on dev + test.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np

from diarefine.audio import audio_info
from diarefine.data.corpus import Recording, discover_corpus
from diarefine.diarize import DiarizeConfig
from diarefine.display import percent, print_table, seconds
from diarefine.metrics.bootstrap import relative_change_interval
from diarefine.metrics.der import HEADLINE
from diarefine.refine.compare import change_oracle, compare
from diarefine.refine.files import FileInput, open_input
from diarefine.refine.pipeline import FileRefinement, Refiner, apply_predictions
from diarefine.refine.resolve import CLASSICAL_REFINERS, DEFAULT_MODEL, SHAPE_REFINERS
from diarefine.rttm import load_uems, read_rttm
from diarefine.samples import bundled_sample
from diarefine.segmentation_diarizer import SegmentationDiarizeConfig, run_diarizer
from diarefine.simulate import load_error_model, perturb
from diarefine.types import CHANGE_KINDS

WORSE_POINTS = 0.0005  # a hypothesis counts as made worse when its DER rises by more than 0.05 points


def recordings(corpora: list[str], sample: bool) -> list[Recording]:
    out = [r for corpus in corpora for r in discover_corpus(corpus)]
    if sample:
        s = bundled_sample()
        out.append(Recording("sample", s.audio, tuple(read_rttm(s.rttm)["sample"]), tuple(load_uems(s.uem)["sample"])))
    return out


def hypotheses(recs: list[Recording], source: str, seeds: int, error_model: str = "empirical"
               ) -> dict[str, tuple[Recording, list]]:
    """Hypothesis id -> (its recording, its turns); perturbed copies are ``<file id>#<seed>``."""
    if source.startswith("diarize"):
        config = DiarizeConfig() if source == "diarize-simple" else SegmentationDiarizeConfig()
        return {r.file_id: (r, run_diarizer(r.audio, r.file_id, config).turns) for r in recs}
    model = load_error_model(error_model)
    out = {}
    for r in recs:
        end_s = audio_info(r.audio).duration_s  # perturbation may push a turn past the end of the audio
        for seed in range(seeds):
            turns = perturb(list(r.turns), model, seed=seed)[0]
            out[f"{r.file_id}#{seed}"] = (r, [replace(t, end=min(t.end, end_s)) for t in turns if t.start < end_s])
    return out


def with_shape_match(turns: list, model: FileRefinement, shapes: FileRefinement, threshold: float,
                     shape_threshold: float) -> list:
    """The turns as `refine` leaves them by default: the changes that the shape matchers decided in
    ``shapes`` (a refinement whose model moves nothing) moved by them, the others by the model."""
    routed = shapes.shape_matched
    return apply_predictions(model.file_id, turns, model.changes, np.where(routed, shapes.offset_s, model.offset_s),
                             np.where(routed, shapes.confidence, model.confidence),
                             np.where(routed, shape_threshold, threshold)).turns


class HeldOutRefiner:
    """One row of cross-fitted models: each recording refined by the model given for its corpus, one that
    did not see that recording in training (e.g. fine-tunes on halves of ami-debug/train, each scored on
    the other half). Duck-types the `Refiner` methods `report` uses; the models should share a front end."""

    def __init__(self, by_recording: dict[str, Refiner], name: str = "held-out fine-tunes") -> None:
        self.by_recording = by_recording
        self.model_name = name
        first = next(iter(by_recording.values()))
        self.threshold, self.checkpoint = first.threshold, first.checkpoint

    def refine_input(self, file: FileInput) -> FileRefinement:
        recording = file.file_id if file.file_id in self.by_recording else file.file_id.rsplit("#", 1)[0]
        return self.by_recording[recording].refine_input(file)


def held_out_refiner(specs: list[str], corpora: list[str], sample: bool = False, **refiner_options) -> HeldOutRefiner:
    """`HeldOutRefiner` from ``--held-out CORPUS=CHECKPOINT`` pairs, one for each of ``corpora`` (the
    recordings of the table; ``sample``: the bundled sample too, which no pair can cover)."""
    by_corpus = dict(spec.partition("=")[::2] for spec in specs)
    if any("=" not in spec for spec in specs) or sorted(by_corpus) != sorted(corpora) or sample:
        raise SystemExit(f"--held-out {' '.join(specs)}: expected one CORPUS=CHECKPOINT for each --corpus "
                         f"({', '.join(corpora) or 'none given'}), and no --sample")
    by_recording = {}
    for corpus, checkpoint in by_corpus.items():
        refiner = Refiner(checkpoint, match_shapes=False, **refiner_options)
        by_recording |= {r.file_id: refiner for r in discover_corpus(corpus)}
    return HeldOutRefiner(by_recording)


def own_pass_shapes(refiner: Refiner, options: dict | None) -> Refiner | None:
    """The shape matchers as `refine` runs them beside this refiner's model when they read its own
    segmentation-3.0 pass and that is not each change's centred 10 s (``--region-span`` > 0: the region's);
    None when they read what the shared, model-free shape matchers read."""
    if not (options or {}).get("region_span_s"):
        return None
    candidate = Refiner(refiner.checkpoint, threshold=1.0, **options)  # its model's moves are not used
    return candidate if candidate.features_share_segmentation else None


def report(title: str, hyps: dict[str, tuple[Recording, list]], refiners: list[Refiner],
           thresholds: list[float] | None, with_shapes: bool = True, per_recording: bool = False,
           options: dict | None = None, against: str | None = None) -> None:
    """Refine every hypothesis with every refiner (alone, and with the shape matchers deciding the
    changes with a clean pause / overlap, as `refine` does by default) and print the pooled before /
    after table. ``options``: `Refiner` keyword arguments of the shape matchers' refiner, as the models had.
    ``against``: a row's name; each row's DER relative to that row's, paired by hypothesis, with its interval."""
    relabel = lambda turns, hid: [t.__class__(hid, t.start, t.end, t.speaker) for t in turns]  # noqa: E731
    reference = {hid: relabel(r.turns, hid) for hid, (r, _) in hyps.items()}
    uem = {hid: [u.__class__(hid, u.start, u.end) for u in r.uem] for hid, (r, _) in hyps.items()} \
        if all(r.uem for r, _ in hyps.values()) else None
    files = {hid: open_input(r.audio, relabel(turns, hid)) for hid, (r, turns) in hyps.items()}
    versions = {"no refinement": {hid: f.turns for hid, f in files.items()},
                "change oracle": {hid: change_oracle(reference[hid], f.turns) for hid, f in files.items()}}
    for kind in CHANGE_KINDS:  # where the oracle's gain lies: only the changes of one kind moved
        versions[f"change oracle, {kind} only"] = {hid: change_oracle(reference[hid], f.turns, kinds=(kind,))
                                                   for hid, f in files.items()}
    speed = {}
    # the shape matchers alone, as `refine` routes them by default (the model itself moves nothing), on each
    # change's centred 10 s; with --region-span, models on segmentation-3.0 features get theirs (`own_pass_shapes`)
    shapes = Refiner("silence-snap", threshold=1.0, **(options or {})) if with_shapes else None
    began = time.perf_counter()
    by_shape = {hid: shapes.refine_input(f) for hid, f in files.items()} if shapes else {}
    shape_rtf = (time.perf_counter() - began) / sum(f.audio.duration_s for f in files.values())
    for refiner in refiners:
        began = time.perf_counter()
        predicted = {hid: refiner.refine_input(f) for hid, f in files.items()}
        rtf = (time.perf_counter() - began) / sum(p.duration_s for p in predicted.values())
        own = own_pass_shapes(refiner, options) if shapes and refiner.model_name not in SHAPE_REFINERS else None
        if own is not None:
            began = time.perf_counter()
            model_shapes = {hid: own.refine_input(f) for hid, f in files.items()}
            model_shape_rtf = (time.perf_counter() - began) / sum(f.audio.duration_s for f in files.values())
        else:
            model_shapes, model_shape_rtf = by_shape, shape_rtf
        for threshold in thresholds or [refiner.threshold]:
            name = f"{refiner.model_name} @ {threshold:g}"
            versions[name] = {hid: apply_predictions(hid, files[hid].turns, p.changes, p.offset_s, p.confidence,
                                                     threshold).turns for hid, p in predicted.items()}
            speed[name] = rtf
            if shapes and refiner.model_name not in SHAPE_REFINERS:
                versions[f"{name} + shapes"] = {hid: with_shape_match(files[hid].turns, p, model_shapes[hid], threshold,
                                                                      shapes.shape_threshold)
                                                for hid, p in predicted.items()}
                speed[f"{name} + shapes"] = rtf + model_shape_rtf
    scores = {s.name: s for s in compare(reference, versions, uem, jobs=2).scores}
    before = scores["no refinement"].der[HEADLINE]
    gain = before.total.der - scores["change oracle"].der[HEADLINE].total.der
    if against is not None and against not in scores:
        raise SystemExit(f"--against {against!r} is no row of this table; rows: {', '.join(scores)}")
    rows = []
    for name, score in scores.items():
        der = score.der[HEADLINE]
        worse = sum(der.per_file[h].der > before.per_file[h].der + WORSE_POINTS for h in hyps)
        better = sum(der.per_file[h].der < before.per_file[h].der - WORSE_POINTS for h in hyps)
        matched = score.boundary.matched
        paired = [] if against is None else [relative_change(hyps, scores[against].der[HEADLINE], der)]
        rows.append([name, percent(der.total.der), relative_change(hyps, before, der), *paired,
                     percent((before.total.der - der.total.der) / gain, 0) if gain > 0 else "-",
                     f"{better} / {worse}", seconds(matched.median_s), percent(matched.accuracy[0.1], 1),
                     f"{speed[name]:.3f}" if name in speed else "-"])
    print_table(f"{title}: {len(hyps)} hypotheses, collar-0 DER with the UEM (rel. change [90% interval over "
                f"recordings, bootstrap]); boundary error of the changes matched "
                f"within {scores['no refinement'].boundary.match_tolerance_s:g} s",
                ["refiner", "DER c0", "rel. change", *([f"vs {against}"] if against else []), "share of oracle gain",
                 "files better / worse",
                 "boundary median", "acc@100 ms", "RTF"], rows)
    if per_recording:
        print_per_recording(title, hyps, {name: score.der[HEADLINE].per_file for name, score in scores.items()})


def relative_change(hyps: dict[str, tuple[Recording, list]], base, result) -> str:
    """Pooled DER of ``result`` relative to ``base`` (`metrics.der` results over ``hyps``), with its 90%
    interval over bootstrap resamples of the recordings (a recording's hypotheses move together)."""
    ids = list(hyps)
    error_s = lambda r: np.array([r.per_file[h].error_s for h in ids])  # noqa: E731
    change = result.total.der / base.total.der - 1 if base.total.der > 0 else float("nan")
    if result is base:
        return f"{100 * change:+.1f}%"
    low, high = relative_change_interval(error_s(base), error_s(result), np.array([hyps[h][0].file_id for h in ids]))
    return f"{100 * change:+.1f}%" + (f" [{100 * low:+.0f}, {100 * high:+.0f}]" if low == low else "")


def print_per_recording(title: str, hyps: dict[str, tuple[Recording, list]], per_file: dict[str, dict]) -> None:
    """Relative change of each recording's collar-0 DER (pooled over its hypotheses, e.g. its seeds), per
    refiner: where a refiner's gain or harm comes from."""
    def pooled(name: str, file_id: str) -> float:
        parts = [per_file[name][h] for h, (r, _) in hyps.items() if r.file_id == file_id]
        return sum(p.der * p.total_s for p in parts) / max(sum(p.total_s for p in parts), 1e-9)

    file_ids = sorted({r.file_id for r, _ in hyps.values()})
    before = {f: pooled("no refinement", f) for f in file_ids}
    rows = [[name, *(f"{100 * (pooled(name, f) / before[f] - 1):+.1f}%" if before[f] > 0 else "-" for f in file_ids)]
            for name in per_file if name != "no refinement"]
    print_table(f"{title}: relative change of each recording's DER c0 (before: "
                f"{', '.join(f'{f} {percent(before[f])}' for f in file_ids)})", ["refiner", *file_ids], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", nargs="*", default=[], help="corpus folders (audio/ rttm/ uem/), e.g. ami-debug/dev")
    parser.add_argument("--sample", action="store_true", help="also the bundled sample")
    parser.add_argument("--seeds", type=int, default=5, help="perturbed copies of each reference")
    parser.add_argument("--sources", nargs="+", choices=["perturb", "diarize", "diarize-simple"],
                        default=["perturb", "diarize", "diarize-simple"],
                        help="diarize: the default segmentation-3.0 diarizer; diarize-simple: the simple one")
    parser.add_argument("--models", nargs="+", default=[*CLASSICAL_REFINERS, DEFAULT_MODEL],
                        help="checkpoints, shipped or classical names (default: %(default)s)")
    parser.add_argument("--held-out", nargs="+", default=[], metavar="CORPUS=CHECKPOINT",
                        help="one more row: each CORPUS's recordings refined by its CHECKPOINT, a model that did not "
                             "see them (cross-fitted fine-tunes); one pair for each --corpus")
    parser.add_argument("--thresholds", type=float, nargs="+", help="apply each refiner at these thresholds")
    parser.add_argument("--error-model", default="empirical", help="of the perturb source (e.g. pyannote-like)")
    parser.add_argument("--no-shape-rows", action="store_true", help="leave out the '+ shapes' rows")
    parser.add_argument("--max-speech", type=float, help="every refiner's speaker profiles embed about this much of "
                        "each speaker's speech (ProfileConfig.max_speech_s; 0: all; default: each model's own)")
    parser.add_argument("--profile", type=json.loads, default={}, metavar="JSON",
                        help='other speaker-profile settings for every refiner, e.g. \'{"length_step_s": 0.1}\' '
                             "(ProfileConfig; default: each model's own)")
    parser.add_argument("--region-span", type=float, help="changes within this many seconds share one pass of the "
                        "front end (Refiner.region_span_s; 0: one per change; default: refine's own)")
    parser.add_argument("--precision", choices=["float32", "bfloat16"],
                        help="every refiner's front ends at this precision (Refiner.precision; default: float32)")
    parser.add_argument("--against", metavar="ROW",
                        help="a row's name (e.g. 'contrastive-seg @ 0.9 + shapes'): add each row's DER relative to it, "
                             "paired by hypothesis, with its 90%% interval over recordings")
    parser.add_argument("--per-recording", action="store_true",
                        help="also a table of each recording's relative DER change (its seeds pooled)")
    args = parser.parse_args()
    recs = recordings(args.corpus, args.sample)
    profile = args.profile | ({} if args.max_speech is None else {"max_speech_s": args.max_speech}) or None
    options = ({} if args.region_span is None else {"region_span_s": args.region_span}) | \
        ({} if args.precision is None else {"precision": args.precision})
    refiners = [Refiner(m, match_shapes=False, profile=profile, **options) for m in args.models]
    if args.held_out:
        refiners.insert(0, held_out_refiner(args.held_out, args.corpus, args.sample, profile=profile, **options))
    where = " + ".join(args.corpus + (["sample"] if args.sample else []))
    if args.max_speech is not None:
        where += f" (profiles: {f'{args.max_speech:g} s' if args.max_speech else 'all'} of each speaker's speech)"
    if args.profile:
        where += f" (profiles: {json.dumps(args.profile)})"
    if args.region_span is not None:
        where += f" (changes within {args.region_span:g} s share a front-end pass)"
    if args.precision is not None:
        where += f" (front ends in {args.precision})"
    for source in args.sources:
        label = f"perturb ({args.error_model})" if source == "perturb" else source
        report(f"{where}, {label}", hypotheses(recs, source, args.seeds, args.error_model), refiners, args.thresholds,
               not args.no_shape_rows, args.per_recording, options, args.against)


if __name__ == "__main__":
    main()
