"""Command-line interface: thin subcommands, each a few lines around a library function.

Errors the user can fix (`DiarefineError`) print one line naming the file and the fix, and
exit with status 2; nothing partial is written (outputs are renamed into place when complete).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from . import __version__
from .errors import DiarefineError

log = logging.getLogger("diarefine")


def _progress_bar(total: int, desc: str):
    """A tqdm bar (hidden when stderr is not a terminal) and a callback taking 'files done'."""
    bar = tqdm(total=total, desc=desc, unit="file", disable=None, leave=False)

    def update(done: int) -> None:
        bar.update(done - bar.n)

    return bar, update


def _load_inputs(ref: str, hyps: Sequence[str], uem: str | None):
    from .rttm import load_rttms, load_uems

    return load_rttms(ref), [load_rttms(h) for h in hyps], (load_uems(uem) if uem else None)


def cmd_score(args: argparse.Namespace) -> int:
    from .display import percent, print_table, seconds
    from .fileio import write_json
    from .metrics.der import HEADLINE, MDEVAL
    from .metrics.scoring import score_set

    reference, hypotheses, uem = _load_inputs(args.ref, args.hyp, args.uem)
    scores = []
    for path, hypothesis in zip(args.hyp, hypotheses):
        bar, update = _progress_bar(len(reference), f"scoring {Path(path).name}")
        with bar:
            scores.append(score_set(reference, hypothesis, uem, name=path, allow_missing=args.allow_missing,
                                    jobs=args.jobs, progress=update))
    for s in scores:
        if s.pairing.missing_hypothesis:
            log.warning("%s: %d reference file(s) without hypothesis scored as no speech",
                        s.name, len(s.pairing.missing_hypothesis))
        if s.pairing.ignored_hypothesis:
            log.warning("%s: %d hypothesis file(s) without reference ignored", s.name, len(s.pairing.ignored_hypothesis))

    def der_rows(convention: str, label: str):
        totals = [s.der[convention].total for s in scores]
        return [[label] + [percent(t.der) for t in totals],
                ["  missed speech"] + [percent(t.rate(t.missed_s)) for t in totals],
                ["  false alarm"] + [percent(t.rate(t.false_alarm_s)) for t in totals],
                ["  speaker confusion"] + [percent(t.rate(t.confusion_s)) for t in totals]]

    b = [s.boundary for s in scores]
    rows = [["files scored"] + [str(len(s.pairing.file_ids)) for s in scores]]
    rows += der_rows(HEADLINE, "DER (collar 0, overlap scored)")
    rows += der_rows(MDEVAL, f"DER ({MDEVAL})")
    rows += [["reference / hypothesis changes"] + [f"{x.n_ref} / {x.n_hyp}" for x in b],
             [f"matched within {b[0].match_tolerance_s:g} s"] + [str(x.n_matched) for x in b],
             ["  missed / false alarm"] + [f"{x.n_missed} / {x.n_false_alarm}" for x in b],
             ["  boundary MAE"] + [seconds(x.matched.mae_s) for x in b],
             ["  boundary median"] + [seconds(x.matched.median_s) for x in b],
             ["  boundary RMSE"] + [seconds(x.matched.rmse_s) for x in b]]
    for threshold in b[0].matched.accuracy:
        rows.append([f"  acc@{round(threshold * 1000)}ms"] + [percent(x.matched.accuracy[threshold], 1) for x in b])
    for i, det in enumerate(b[0].detection):
        rows.append([f"change P / R / F1 @{round(det.tolerance_s * 1000)}ms"]
                    + [" / ".join(percent(v, 1) for v in (x.detection[i].precision, x.detection[i].recall,
                                                          x.detection[i].f1)) for x in b])
    print_table(f"diarefine score against {args.ref}", ["metric"] + [Path(p).name or p for p in args.hyp], rows)
    if args.json:
        write_json(args.json, {"reference": args.ref, "uem": args.uem, "hypotheses": [s.to_dict() for s in scores]})
        print(f"wrote {args.json}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from .analysis import analyze_boundaries, write_report
    from .display import percent, print_table, seconds
    from .metrics.der import HEADLINE, MDEVAL
    from .rttm import load_rttms, load_uems

    if (args.ref is None) != (args.hyp is None):
        raise DiarefineError("give both REF and HYP, or neither (to analyse the bundled sample)")
    if args.ref is None:
        from .rttm import merge_turns
        from .samples import bundled_sample, jitter_changes

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
    bar, update = _progress_bar(len(reference), "analysing")
    with bar:
        analysis = analyze_boundaries(reference, hypothesis, uem, allow_missing=args.allow_missing,
                                      jobs=args.jobs, progress=update, name=args.hyp or "jittered sample")
    der = analysis.score.der
    rows = [["reference / hypothesis changes", f"{analysis.ref_to_hyp.n} / {analysis.hyp_to_ref.n}"],
            ["ref -> nearest hyp: mean / median / p90",
             " / ".join(seconds(x) for x in (analysis.ref_to_hyp.mean_s, analysis.ref_to_hyp.median_s,
                                              analysis.ref_to_hyp.p90_s))],
            ["hyp -> nearest ref: mean / median / p90",
             " / ".join(seconds(x) for x in (analysis.hyp_to_ref.mean_s, analysis.hyp_to_ref.median_s,
                                              analysis.hyp_to_ref.p90_s))],
            ["ref changes with a hyp change within 0.25 / 0.5 / 1 s",
             " / ".join(percent(v, 1) for v in analysis.ref_to_hyp.within.values())],
            ["hyp changes with no ref change within 2 s", percent(analysis.no_change_share, 1)],
            ["DER collar 0", percent(der[HEADLINE].total.der)],
            [f"DER {MDEVAL}", percent(der[MDEVAL].total.der)]]
    for near in analysis.near_change_error:
        d = near.to_dict()["near_changes"]
        rows.append([f"collar-0 error within +/-{near.radius_s:g} s of ref changes",
                     f"{percent(d['share_of_error'], 1)} of error ({percent(d['der_points'])} DER)"])
    print_table(title, ["measure", "value"], rows)
    for path in write_report(analysis, args.out, title):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .metrics.scoring import default_jobs

    parser = argparse.ArgumentParser(prog="diarefine", description="Make speaker-diarization boundaries precise.")
    parser.add_argument("--version", action="version", version=f"diarefine {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--uem", help="UEM file or folder of *.uem (scored regions); default: the extent of the turns")
        p.add_argument("--allow-missing", action="store_true",
                       help="score the reference's files even if some have no hypothesis (counted as no speech); "
                            "hypothesis files without reference are ignored")
        p.add_argument("--jobs", type=int, default=default_jobs(), help="worker processes (default: %(default)s)")

    p = sub.add_parser("score", help="DER (collar 0 and md-eval +/-250 ms) and boundary metrics of hypotheses",
                       description="Score one or more hypotheses against a reference. REF and HYP are RTTM files "
                                   "or folders of *.rttm, matched by file id.")
    p.add_argument("ref", metavar="REF", help="reference RTTM file or folder of *.rttm")
    p.add_argument("hyp", metavar="HYP", nargs="+", help="hypothesis RTTM file(s) or folder(s), one per system")
    add_common(p)
    p.add_argument("--json", metavar="OUT.json", help="also write every number (pooled and per file) as JSON")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("analyze", help="boundary-error report of a system (report.md, report.json, PNG plots)",
                       description="Analyse how far a system's speaker changes are from the reference's. "
                                   "With no REF/HYP, analyses the bundled sample against a jittered copy.")
    p.add_argument("ref", metavar="REF", nargs="?", help="reference RTTM file or folder of *.rttm")
    p.add_argument("hyp", metavar="HYP", nargs="?", help="the system's RTTM file or folder of *.rttm")
    add_common(p)
    p.add_argument("--out", default="diarefine_analysis", help="output folder (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the jittered sample (no-argument run only)")
    p.set_defaults(func=cmd_analyze)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="diarefine: %(levelname)s: %(message)s")
    if getattr(args, "jobs", 1) < 1:
        print("diarefine: error: --jobs must be at least 1", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except DiarefineError as exc:
        print(f"diarefine: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("diarefine: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
