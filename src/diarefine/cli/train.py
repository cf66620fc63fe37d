"""The model commands: ``train`` (one variant from a TOML config, with Lightning) and ``evaluate``
(checkpoints and classical refiners compared on a cache)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..fileio import check_output_dir, check_output_file
from ..refine.resolve import CLASSICAL_REFINERS
from ..units import DEFAULT_THRESHOLD
from .common import progress_bar


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


def add_parsers(sub) -> None:
    """Add ``train`` and ``evaluate``."""
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
                   help="diarefine checkpoints (OUT/best.pt of train) or classical refiner names")
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
