"""The model commands: ``train`` (one variant from a TOML config, with Lightning), ``evaluate``
(checkpoints and classical refiners compared on a cache) and ``adapt`` (fine-tune a model to a
user's own recordings without labels)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..fileio import check_output_dir, check_output_file
from ..refine.resolve import CLASSICAL_REFINERS
from ..units import DEFAULT_THRESHOLD
from .common import add_jobs, config_from_toml, open_recordings, progress_bar, stage_bar


def cmd_train(args: argparse.Namespace) -> int:
    from ..display import print_table
    from ..training import fit, load_train_config

    config = load_train_config(args.config, [*(args.set or []), *([f"init={args.init!r}"] if args.init else [])])
    out = check_output_dir(args.out or Path("runs") / (Path(args.config).stem if args.config else config.model["name"]))
    result = fit(config, out, overfit=args.overfit, progress=not args.quiet)
    if not result.is_global_zero:  # another process of a DDP run: rank 0 reports
        return 0
    print_table(f"diarefine train: {config.model['name']}" + (f" (overfit {args.overfit})" if args.overfit else ""),
                ["measure", "value"], result.summary_rows())
    print(f"wrote {result.checkpoint} (TensorBoard: tensorboard --logdir {out / 'tensorboard'})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..config import parse_override
    from ..display import print_table
    from ..evaluation import evaluate
    from ..fileio import write_json

    for path in (args.json, args.plot):
        if path:
            check_output_file(path)
    overrides = {".".join(keys): value for keys, value in map(parse_override, args.model_set or [])}
    classical = () if args.no_classical else CLASSICAL_REFINERS
    bar, update = progress_bar(len(set(args.checkpoints) | set(classical)), "evaluating", unit="model")
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
        from ..plots import plot_error_cdfs

        plot_error_cdfs({r.label: r.errors_s for r in report.rows}, args.plot,
                        f"boundary errors on {', '.join(Path(c).name for c in args.cache)}")
        print(f"wrote {args.plot}")
    return 0


def _adapt_config(args: argparse.Namespace):
    """`AdaptConfig` from ``--config`` (its ``[adapt]`` table) with the command-line options on top."""
    from dataclasses import replace

    from ..adapt import AdaptConfig

    config = config_from_toml(args.config, AdaptConfig, "adapt")
    given = {"minutes": args.minutes, "max_epochs": args.epochs, "error_model": args.error_model, "seed": args.seed}
    config = replace(config, workers=args.jobs, **{k: v for k, v in given.items() if v is not None})
    if args.across_recordings:
        config = replace(config, remix=replace(config.remix, across_recordings=True))
    return config


def cmd_adapt(args: argparse.Namespace) -> int:
    inputs = open_recordings(args.audio, args.rttm, args.audio_dir, args.rttm_dir)  # before the heavy imports
    config = _adapt_config(args)
    import torch

    from ..adapt import adapt
    from ..display import print_table
    from ..simulate.error_models import load_error_model

    load_error_model(config.error_model)  # a wrong name fails now, not after the harvest
    if args.threads:
        torch.set_num_threads(args.threads)
    bar, update = stage_bar("adapting")
    with bar:
        result = adapt(inputs, args.out, args.start, config, work_dir=args.work_dir, progress=update,
                       train_progress=not args.quiet, threads=args.threads or 0)
    print_table(f"diarefine adapt: {result.start_model} -> {args.out} (threshold {result.threshold:g})",
                ["measure", "value"], result.summary_rows())
    print(f"wrote {result.checkpoint} and its model card {result.card}"
          + (f" (work files in {result.work_dir})" if result.work_dir else ""))
    print(f"refine with it: diarefine refine AUDIO HYP.rttm -o OUT.rttm --model {result.checkpoint}")
    return 0


def add_parsers(sub) -> None:
    """Add ``train``, ``evaluate`` and ``adapt``."""
    p = sub.add_parser("train", help="train a boundary model (mlp, transformer, diffusion, contrastive) with Lightning",
                       description="Train one model variant from a TOML config (see configs/). Writes OUT/best.pt, "
                                   "OUT/config.toml, OUT/metrics.json, Lightning checkpoints and TensorBoard logs.")
    p.add_argument("--config", help="training TOML, e.g. configs/transformer.toml (default: transformer defaults)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a config value, e.g. --set optim.lr=1e-3 --set data.train='[\"a.h5\"]' (repeatable)")
    p.add_argument("--overfit", type=int, metavar="N", help="memorisation check: train and validate on N change windows")
    p.add_argument("--init", metavar="CKPT", help="fine-tune this checkpoint or shipped model (its variant and "
                                                   "settings; the caches must have its front end)")
    p.add_argument("--out", help="output folder (default: runs/<config name>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="compare trained models on a cache (table, JSON, error-CDF PNG)",
                       description="Boundary metrics of each checkpoint on a cache's windows, against the "
                                   "'no refinement' row, by difficulty, with inference speed and size.")
    p.add_argument("--cache", required=True, action="append", help="cache file (.h5); repeat for shards")
    p.add_argument("checkpoints", metavar="CKPT", nargs="*",
                   help="diarefine checkpoints (OUT/best.pt of train), shipped model names (e.g. contrastive-seg) "
                        "or classical refiner names")
    p.add_argument("--no-classical", action="store_true",
                   help=f"leave out the classical refiners ({', '.join(CLASSICAL_REFINERS)}; included by default)")
    p.add_argument("--audio-dir", help="audio of the cache's recordings (<file id>.<ext>), for the classical "
                                       "refiners that read audio; default: the paths stored in the cache")
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="move a boundary only where the confidence exceeds this (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--device", default="cpu", help="cpu or cuda (speed is measured there)")
    p.add_argument("--model-set", action="append", metavar="KEY=VALUE",
                   help="inference setting for every model that has it, e.g. n_sample_steps=5 (repeatable)")
    p.add_argument("--json", metavar="OUT.json", help="also write every number as JSON")
    p.add_argument("--plot", metavar="OUT.png", help="also draw the error CDFs")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("adapt", help="fit the refiner to your own recordings, without labels",
                       description="Harvest single-speaker stretches of your recordings with your system's RTTMs, "
                                   "re-mix them into conversations whose changes are known exactly, and fine-tune "
                                   "a model on them; held-out conversations pick the epoch and re-tune the "
                                   "threshold, which the adapted checkpoint carries. Writes OUT.pt and its model "
                                   "card OUT.md. No reference labels are used.")
    p.add_argument("--audio-dir", help="folder of audio files named <file id>.<ext>")
    p.add_argument("--rttm-dir", help="folder of *.rttm hypotheses of your system (file ids inside the files)")
    p.add_argument("--audio", help="one recording (with --rttm)")
    p.add_argument("--rttm", help="your system's RTTM for --audio")
    p.add_argument("-o", "--out", required=True, help="the adapted checkpoint (.pt); the model card goes beside it")
    p.add_argument("--from", dest="start", metavar="MODEL",
                   help="the model to adapt: a shipped name or a checkpoint (default: the shipped default)")
    p.add_argument("--minutes", type=float, help="wall-clock budget of the fine-tuning (default 10)")
    p.add_argument("--epochs", type=int, help="most fine-tuning epochs (default 20; output is identical for a seed "
                                                "when epochs or early stopping, not the time budget, end training)")
    p.add_argument("--error-model", help="initial boundaries of the training windows: a shipped name "
                                         "(empirical, pyannote-like, ...) or a JSON file (default: empirical)")
    p.add_argument("--seed", type=int, help="seed of the re-mix, windows and training (default 0)")
    p.add_argument("--across-recordings", action="store_true",
                   help="mix speakers of different recordings (one corpus, one channel); default: each "
                        "conversation holds the speakers of one recording")
    p.add_argument("--config", help="TOML with an [adapt] table: every setting (harvest, remix, ...; see the README)")
    p.add_argument("--work-dir", help="keep the work files here (stretches, conversations, caches, TensorBoard); "
                                      "default: a temporary folder")
    add_jobs(p)
    p.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    p.add_argument("--quiet", action="store_true", help="no training progress bar")
    p.set_defaults(func=cmd_adapt)
