"""``diarefine score`` (DER and boundary metrics of hypotheses) and ``diarefine analyze`` (a system's
boundary-error report)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from ..errors import DiarefineError
from ..fileio import check_output_dir, check_output_file
from .common import add_jobs, progress_bar

log = logging.getLogger("diarefine")


def _load_inputs(ref: str, hyps: Sequence[str], uem: str | None):
    from ..rttm import load_rttms, load_uems

    return load_rttms(ref), [load_rttms(h) for h in hyps], (load_uems(uem) if uem else None)


def cmd_score(args: argparse.Namespace) -> int:
    from ..display import print_table
    from ..fileio import write_json
    from ..metrics.scoring import score_rows, score_set

    if args.json:
        check_output_file(args.json)
    reference, hypotheses, uem = _load_inputs(args.ref, args.hyp, args.uem)
    scores = []
    for path, hypothesis in zip(args.hyp, hypotheses):
        bar, update = progress_bar(len(reference), f"scoring {Path(path).name}")
        with bar:
            scores.append(score_set(reference, hypothesis, uem, name=path, allow_missing=args.allow_missing,
                                    jobs=args.jobs, progress=update))
    for s in scores:
        if s.pairing.missing_hypothesis:
            log.warning("%s: %d reference file(s) without hypothesis scored as no speech",
                        s.name, len(s.pairing.missing_hypothesis))
        if s.pairing.ignored_hypothesis:
            log.warning("%s: %d hypothesis file(s) without reference ignored", s.name, len(s.pairing.ignored_hypothesis))
    print_table(f"diarefine score against {args.ref}", ["metric"] + [Path(p).name or p for p in args.hyp],
                score_rows(scores))
    if args.json:
        write_json(args.json, {"reference": args.ref, "uem": args.uem, "hypotheses": [s.to_dict() for s in scores]})
        print(f"wrote {args.json}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from ..analysis import analyze_boundaries, write_report
    from ..display import print_table

    if (args.ref is None) != (args.hyp is None):
        raise DiarefineError("give both REF and HYP, or neither (to analyse the bundled sample)")
    check_output_dir(args.out)
    if args.ref is None:
        from ..rttm import load_rttms, load_uems, merge_turns
        from ..samples import bundled_sample, jitter_changes

        sample = bundled_sample()
        reference = load_rttms(sample.rttm)
        hypothesis = {fid: jitter_changes(merge_turns(turns), seed=args.seed) for fid, turns in reference.items()}
        uem = load_uems(sample.uem)
        title = "Boundary-error analysis: bundled sample vs. a jittered copy (sigma 0.3 s)"
        print(f"No REF/HYP given: analysing the bundled pyannote sample against a copy whose speaker "
              f"changes were moved by Gaussian noise (sigma 0.3 s, seed {args.seed}).")
    else:
        reference, (hypothesis,), uem = _load_inputs(args.ref, [args.hyp], args.uem)
        title = f"Boundary-error analysis: {args.hyp} vs. {args.ref}"
    bar, update = progress_bar(len(reference), "analysing")
    with bar:
        analysis = analyze_boundaries(reference, hypothesis, uem, allow_missing=args.allow_missing,
                                      jobs=args.jobs, progress=update, name=args.hyp or "jittered sample")
    print_table(title, ["measure", "value"], analysis.summary_rows())
    for path in write_report(analysis, args.out, title):
        print(f"wrote {path}")
    return 0


def _add_scoring_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--uem", help="UEM file or folder of *.uem (scored regions); default: the extent of the turns")
    p.add_argument("--allow-missing", action="store_true",
                   help="score the reference's files even if some have no hypothesis (counted as no speech); "
                        "hypothesis files without reference are ignored")
    add_jobs(p)


def add_parsers(sub) -> None:
    """Add ``score`` and ``analyze``."""
    p = sub.add_parser("score", help="DER (collar 0 and md-eval +/-250 ms) and boundary metrics of hypotheses",
                       description="Score one or more hypotheses against a reference. REF and HYP are RTTM files "
                                   "or folders of *.rttm, matched by file id.")
    p.add_argument("ref", metavar="REF", help="reference RTTM file or folder of *.rttm")
    p.add_argument("hyp", metavar="HYP", nargs="+", help="hypothesis RTTM file(s) or folder(s), one per system")
    _add_scoring_options(p)
    p.add_argument("--json", metavar="OUT.json", help="also write every number (pooled and per file) as JSON")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("analyze", help="boundary-error report of a system (report.md, report.json, PNG plots)",
                       description="Analyse how far a system's speaker changes are from the reference's. "
                                   "With no REF/HYP, analyses the bundled sample against a jittered copy.")
    p.add_argument("ref", metavar="REF", nargs="?", help="reference RTTM file or folder of *.rttm")
    p.add_argument("hyp", metavar="HYP", nargs="?", help="the system's RTTM file or folder of *.rttm")
    _add_scoring_options(p)
    p.add_argument("--out", default="diarefine_analysis", help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the jittered sample (no-argument run only)")
    p.set_defaults(func=cmd_analyze)
