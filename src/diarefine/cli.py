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
from .cli_pipeline import add_parsers as add_pipeline_parsers
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


def _config_from_toml(path: str | None, cls, section: str):
    """A dataclass config from a TOML file's table (or defaults); unknown keys are errors."""
    from .config import from_dict, read_toml

    if path is None:
        return cls()
    data = read_toml(path)
    return from_dict(cls, data.get(section, data), f"{path}")


def cmd_simulate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .simulate import SimulationConfig, parse_splits, simulate_corpus

    config = _config_from_toml(args.config, SimulationConfig, "simulate")
    overrides = {"num_conversations": args.num_conversations, "seed": args.seed,
                 "speaker_regex": args.speaker_regex, "splits": parse_splits(args.splits) if args.splits else None}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    acoustics = {"noise": args.noise, "noise_dir": args.noise_dir, "reverb_prob": args.reverb_prob,
                 "snr_db": tuple(args.snr_db) if args.snr_db else None}
    config = replace(config, acoustics=replace(config.acoustics, **{k: v for k, v in acoustics.items() if v is not None}))
    bar, update = _progress_bar(config.num_conversations, "simulating")
    bar.unit = "conv"
    with bar:
        summary = simulate_corpus(args.speech_dir, args.out, config, workers=args.jobs, overwrite=args.overwrite,
                                  progress=update)
    n_changes = sum(c["n_changes"] for c in summary.conversations)
    print(f"wrote {len(summary.conversations)} conversations ({summary.total_duration_s / 60:.1f} min, "
          f"{n_changes} speaker changes) to {summary.out_dir}")
    return 0


def cmd_fit_errors(args: argparse.Namespace) -> int:
    from .display import percent, print_table, seconds
    from .rttm import load_rttms
    from .simulate.errors import EmpiricalErrors, fit_histogram, save_error_model

    pairs = [(args.ref, args.hyp)] + [tuple(p) for p in (args.pair or [])]
    loaded = [(load_rttms(r), load_rttms(h)) for r, h in pairs]
    histogram = fit_histogram(loaded)
    source = "; ".join(f"{h} vs {r}" for r, h in pairs)
    model = EmpiricalErrors.from_histogram(histogram, label=args.label, source=source)
    q = histogram["abs_offset_quantiles_s"]
    print_table(f"empirical error model from {len(pairs)} pair(s)", ["measure", "value"], [
        ["matched changes", str(histogram["n_matched"])],
        ["|offset| median / p90 / p95", " / ".join(seconds(q[k]) for k in ("0.5", "0.9", "0.95"))],
        ["false-change rate (hyp changes, no ref within 2 s)", percent(model.false_change_rate, 1)],
        ["miss rate (ref changes, no hyp within 2 s)", percent(model.miss_rate, 1)]])
    save_error_model(model, args.out)
    print(f"wrote {args.out}")
    return 0


def cmd_perturb(args: argparse.Namespace) -> int:
    from .rttm import load_rttms, write_rttm
    from .simulate import load_error_model, perturb

    reference = load_rttms(args.ref)
    model = load_error_model(args.error_model)
    turns, stats = perturb([t for ts in reference.values() for t in ts], model, seed=args.seed)
    write_rttm(turns, args.out)
    print(f"{stats.n_reference_changes} reference changes: {stats.n_missed} missed, {stats.n_moved} moved, "
          f"{stats.n_spurious_segments} spurious segments added; wrote {args.out}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .data import PrepareConfig, discover_corpus, from_lhotse, parse_shard, prepare_cache
    from .data.prepare import shard_recordings

    config = _config_from_toml(args.config, PrepareConfig, "prepare")
    overrides = {"error_model": args.error_model, "draws_per_change": args.draws, "embed_from": args.embed_from,
                 "seed": args.seed, "features": {"name": args.features} if args.features else None,
                 "embeddings": {"name": args.embedder} if args.embedder else None}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    if (args.corpus is None) == (args.lhotse is None):
        raise DiarefineError("give --corpus DIR or --lhotse RECORDINGS SUPERVISIONS (one of them)")
    recordings = discover_corpus(args.corpus) if args.corpus else from_lhotse(*args.lhotse)
    shard = parse_shard(args.shard) if args.shard else None
    n_recordings = len(shard_recordings(recordings, shard))
    bar = tqdm(total=n_recordings, desc="preparing", unit="rec", disable=None)
    with bar:
        def update(done: int, windows: int) -> None:
            bar.update(done - bar.n)
            bar.set_postfix(windows=windows)

        path, n = prepare_cache(recordings, args.out, config, workers=args.jobs, shard=shard, progress=update)
    print(f"wrote {n} windows from {n_recordings} recordings to {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .display import print_table
    from .training import fit, load_train_config

    config = load_train_config(args.config, args.set or [])
    out = Path(args.out or Path("runs") / (Path(args.config).stem if args.config else config.model["name"]))
    result = fit(config, out, overfit=args.overfit, progress=not args.quiet)
    if not result.is_global_zero:  # another process of a DDP run: rank 0 reports
        return 0
    print_table(f"diarefine train: {config.model['name']}" + (f" (overfit {args.overfit})" if args.overfit else ""),
                ["measure", "value"], result.summary_rows())
    print(f"wrote {result.checkpoint} (TensorBoard: tensorboard --logdir {out / 'tensorboard'})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .display import print_table
    from .evaluation import evaluate
    from .fileio import write_json

    from .config import parse_override

    overrides = {".".join(keys): value for keys, value in map(parse_override, args.model_set or [])}
    from .pretrained import CLASSICAL_REFINERS

    classical = () if args.no_classical else CLASSICAL_REFINERS
    bar, update = _progress_bar(len(set(args.checkpoints) | set(classical)), "evaluating")
    bar.unit = "model"
    with bar:
        report = evaluate(args.cache, args.checkpoints, threshold=args.threshold, batch_size=args.batch_size,
                          device=args.device, progress=update, model_overrides=overrides, classical=classical,
                          audio_dir=args.audio_dir)
    for title, header, rows in report.tables():
        print_table(title, header, rows)
    if args.json:
        write_json(args.json, report.to_dict())
        print(f"wrote {args.json}")
    if args.plot:
        from .plots import plot_error_cdfs

        plot_error_cdfs({r.label: r.errors_s for r in report.rows}, args.plot,
                        f"boundary errors on {', '.join(Path(c).name for c in args.cache)}")
        print(f"wrote {args.plot}")
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

    p = sub.add_parser("simulate", help="simulate conversations from single-speaker recordings",
                       description="Build conversations of 2-4 speakers from a folder of single-speaker recordings "
                                   "(LibriSpeech layout or any folder; searched recursively). Writes audio/, rttm/, "
                                   "uem/ and manifest.json (per split with --splits).")
    p.add_argument("speech_dir", metavar="SPEECH_DIR", help="folder of single-speaker audio files")
    p.add_argument("-o", "--out", required=True, help="output folder (must not exist, unless --overwrite)")
    p.add_argument("--num-conversations", type=int, help="how many conversations (default 100)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--splits", help="disjoint speaker splits, e.g. train=0.8,dev=0.1,test=0.1")
    p.add_argument("--speaker-regex", help="regex on the relative path whose group 'speaker' (or 1) is the speaker; "
                                           "default: the file name's first field")
    p.add_argument("--noise", choices=["none", "coloured", "recorded"], help="additive noise (default none)")
    p.add_argument("--noise-dir", help="folder of noise recordings for --noise recorded")
    p.add_argument("--snr-db", type=float, nargs=2, metavar=("LO", "HI"), help="SNR range in dB (default 10 30)")
    p.add_argument("--reverb-prob", type=float, help="share of conversations with synthetic reverberation")
    p.add_argument("--config", help="TOML file with a [simulate] table (turn_taking, acoustics, ...)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.add_argument("--jobs", type=int, default=default_jobs(), help="worker processes (default: %(default)s)")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("fit-errors", help="fit an empirical hypothesis error model from (reference, system) RTTMs",
                       description="Measure a system's boundary offsets, false changes and misses against a "
                                   "reference and save them as an error model (JSON) for prepare / perturb.")
    p.add_argument("ref", metavar="REF", help="reference RTTM file or folder")
    p.add_argument("hyp", metavar="HYP", help="system RTTM file or folder")
    p.add_argument("--pair", nargs=2, action="append", metavar=("REF", "HYP"), help="pool another pair (repeatable)")
    p.add_argument("-o", "--out", required=True, help="output JSON")
    p.add_argument("--label", default="empirical", help="a name stored in the model")
    p.set_defaults(func=cmd_fit_errors)

    p = sub.add_parser("perturb", help="make a realistic hypothesis RTTM from a reference with an error model")
    p.add_argument("ref", metavar="REF", help="reference RTTM file or folder")
    p.add_argument("-o", "--out", required=True, help="output RTTM (all files in one)")
    p.add_argument("--error-model", default="empirical",
                   help="shipped model name (empirical, gaussian-0.5, gaussian-1.0) or JSON path")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_perturb)

    p = sub.add_parser("prepare", help="build an HDF5 cache of training windows from a corpus",
                       description="For each reference change of a corpus draw initial boundaries from an error "
                                   "model and store the windows' features, speaker embeddings and labels.")
    p.add_argument("--corpus", help="corpus folder: audio/ + rttm/ (+ uem/), or audio and *.rttm side by side")
    p.add_argument("--lhotse", nargs=2, metavar=("RECORDINGS", "SUPERVISIONS"), help="lhotse manifests instead")
    p.add_argument("-o", "--out", required=True, help="output cache (.h5)")
    p.add_argument("--error-model", help="shipped name or JSON path (default: empirical)")
    p.add_argument("--features", help="feature extractor (fbank, wavlm; options via --config)")
    p.add_argument("--embedder", help="speaker embedder (resemblyzer, wespeaker-onnx, dummy; options via --config)")
    p.add_argument("--draws", type=int, help="initial boundaries drawn per reference change (default 4)")
    p.add_argument("--embed-from", choices=["reference", "hypothesis"],
                   help="speaker embeddings from the reference turns or from a perturbed copy (as at inference)")
    p.add_argument("--seed", type=int)
    p.add_argument("--shard", metavar="I/N", help="only the I-th of N shards of the recordings (1-based)")
    p.add_argument("--config", help="TOML file with a [prepare] table")
    p.add_argument("--jobs", type=int, default=default_jobs(), help="worker processes (default: %(default)s)")
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("train", help="train a boundary model (mlp, transformer, diffusion, contrastive) with Lightning",
                       description="Train one model variant from a TOML config (see configs/). Writes OUT/best.pt, "
                                   "OUT/config.toml, OUT/metrics.json, Lightning checkpoints and TensorBoard logs.")
    p.add_argument("--config", help="training TOML, e.g. configs/transformer.toml (default: transformer defaults)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.lr=1e-3 --set data.train='[\"a.h5\"]' (repeatable)")
    p.add_argument("--overfit", type=int, metavar="N", help="memorisation check: train and validate on N change windows")
    p.add_argument("--out", help="output folder (default: runs/<config name>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="compare trained models on a cache (table, JSON, error-CDF PNG)",
                       description="Boundary metrics of each checkpoint on a cache's windows, against the "
                                   "'no refinement' row, by difficulty, with inference speed and size.")
    p.add_argument("--cache", required=True, action="append", help="cache file (.h5); repeat for shards")
    p.add_argument("checkpoints", metavar="CKPT", nargs="*",
                   help="diarefine checkpoints (OUT/best.pt of train) or classical refiner names")
    p.add_argument("--no-classical", action="store_true",
                   help="leave out the classical refiners (bic, similarity, silence-snap; included by default)")
    p.add_argument("--audio-dir", help="audio of the cache's recordings (<file id>.<ext>), for the classical "
                                       "refiners that read audio; default: the paths stored in the cache")
    p.add_argument("--threshold", type=float, default=0.5, help="confidence below which a boundary is left alone")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu", help="cpu or cuda (speed is measured there)")
    p.add_argument("--model-set", action="append", metavar="KEY=VALUE",
                   help="inference setting for every model that has it, e.g. n_sample_steps=5 (repeatable)")
    p.add_argument("--json", metavar="OUT.json", help="also write every number as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="also draw the error CDFs")
    p.set_defaults(func=cmd_evaluate)
    add_pipeline_parsers(sub)
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
