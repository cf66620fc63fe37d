"""The data commands: ``simulate`` (conversations from single-speaker speech), ``fit-errors`` (an
error model from real system output), ``perturb`` (a realistic hypothesis from a reference) and
``prepare`` (the HDF5 cache of training windows)."""

from __future__ import annotations

import argparse

from ..errors import DiarefineError
from ..fileio import check_output_dir, check_output_file
from .common import add_jobs, config_from_toml, progress_bar


def cmd_simulate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..simulate import SimulationConfig, parse_speed_factors, parse_splits, simulate_corpus

    config = config_from_toml(args.config, SimulationConfig, "simulate")
    overrides = {"num_conversations": args.num_conversations, "seed": args.seed,
                 "speaker_regex": args.speaker_regex, "splits": parse_splits(args.splits) if args.splits else None,
                 "speed_factors": parse_speed_factors(args.speed_perturb) if args.speed_perturb else None}
    try:
        config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:  # SimulationConfig's checks
        raise DiarefineError(f"--speed-perturb: {exc}") from None
    acoustics = {"noise": args.noise, "noise_dir": args.noise_dir, "reverb_prob": args.reverb_prob,
                 "snr_db": tuple(args.snr_db) if args.snr_db else None}
    config = replace(config, acoustics=replace(config.acoustics, **{k: v for k, v in acoustics.items() if v is not None}))
    check_output_dir(args.out)
    bar, update = progress_bar(config.num_conversations, "simulating", unit="conv")
    with bar:
        summary = simulate_corpus(args.speech_dir, args.out, config, workers=args.jobs, overwrite=args.overwrite,
                                  progress=update)
    print(summary.summary_line())
    return 0


def cmd_fit_errors(args: argparse.Namespace) -> int:
    from ..display import print_table
    from ..rttm import load_rttms
    from ..simulate.error_models import EmpiricalErrors, fit_histogram, fit_summary_rows, save_error_model

    check_output_file(args.out)
    pairs = [(args.ref, args.hyp)] + [tuple(p) for p in (args.pair or [])]
    loaded = [(load_rttms(r), load_rttms(h)) for r, h in pairs]
    histogram = fit_histogram(loaded)
    source = "; ".join(f"{h} vs {r}" for r, h in pairs)
    model = EmpiricalErrors.from_histogram(histogram, label=args.label, source=source)
    print_table(f"empirical error model from {len(pairs)} pair(s)", ["measure", "value"],
                fit_summary_rows(histogram, model))
    save_error_model(model, args.out)
    print(f"wrote {args.out}")
    return 0


def cmd_perturb(args: argparse.Namespace) -> int:
    from ..rttm import load_rttms, write_rttm
    from ..simulate import load_error_model, perturb

    check_output_file(args.out)
    reference = load_rttms(args.ref)
    model = load_error_model(args.error_model)
    turns, stats = perturb([t for ts in reference.values() for t in ts], model, seed=args.seed)
    write_rttm(turns, args.out, list(reference))
    print(f"{stats.summary_line()}; wrote {args.out}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..data import PrepareConfig, discover_corpus, from_lhotse, parse_shard, prepare_cache
    from ..data.prepare import shard_recordings

    config = config_from_toml(args.config, PrepareConfig, "prepare")
    overrides = {"error_model": args.error_model, "draws_per_change": args.draws, "embed_from": args.embed_from,
                 "seed": args.seed, "features": {"name": args.features} if args.features else None,
                 "embeddings": {"name": args.embedder} if args.embedder else None}
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    check_output_file(args.out)
    if (args.corpus is None) == (args.lhotse is None):
        raise DiarefineError("give --corpus DIR or --lhotse RECORDINGS SUPERVISIONS (one of them)")
    recordings = discover_corpus(args.corpus) if args.corpus else from_lhotse(*args.lhotse)
    shard = parse_shard(args.shard) if args.shard else None
    n_recordings = len(shard_recordings(recordings, shard))
    bar, update_done = progress_bar(n_recordings, "preparing", unit="rec")
    with bar:
        def update(done: int, windows: int) -> None:
            update_done(done)
            bar.set_postfix(windows=windows)

        path, n = prepare_cache(recordings, args.out, config, workers=args.jobs, shard=shard, progress=update)
    print(f"wrote {n} windows from {n_recordings} recordings to {path}")
    return 0


def add_parsers(sub) -> None:
    """Add ``simulate``, ``fit-errors``, ``perturb`` and ``prepare``."""
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
    p.add_argument("--speed-perturb", metavar="SPEEDS",
                   help="more voices: each speaker may also speak at these speeds (tempo and pitch), as a speaker "
                        "of its own, e.g. 0.9,1.1 (Kaldi's speed perturbation; default none)")
    p.add_argument("--config", help="TOML file with a [simulate] table (turn_taking, acoustics, ...)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    add_jobs(p)
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
                   help="shipped model name (empirical, pyannote-like, gaussian-0.5, gaussian-1.0) or JSON path")
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
    add_jobs(p)
    p.set_defaults(func=cmd_prepare)
