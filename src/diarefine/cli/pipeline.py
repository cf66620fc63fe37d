"""The pipeline commands: ``refine`` (any RTTM + audio -> refined RTTM), ``diarize`` (the embedded
built-in diarizers) and ``demo`` (the main job: diarize -> refine -> score)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..errors import DiarefineError, MismatchError
from ..refine.resolve import CLASSICAL_REFINERS, DEFAULT_MODEL, SHIPPED_MODELS
from ..units import DEFAULT_THRESHOLD
from .common import add_jobs, open_recordings, stage_bar, window_bar

DEMO_OUT = "diarefine_demo"
DEFAULT_DIARIZER = "segmentation"  # better on real recordings, worse on simulated read speech (README)
log = logging.getLogger("diarefine")


def _refine_inputs(args: argparse.Namespace) -> list[tuple[object, Path]]:
    """(opened input, output RTTM) of every file of this shard, all checked before any work."""
    audio, hyp = _one_pair(args)
    inputs = open_recordings(audio, hyp, args.audio_dir, args.rttm_dir, args.shard, "AUDIO and HYP.rttm")
    if args.audio_dir is not None:
        return [(file, Path(args.out) / f"{file.file_id}.rttm") for file in inputs]
    return [(inputs[0], Path(args.out))]


def _one_pair(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """The (audio, RTTM) of one recording, given as positionals or as ``--audio`` / ``--rttm`` (as `adapt`
    takes them); both ways at once is an error."""
    from ..errors import DiarefineError

    for positional, option, name in ((args.audio, args.audio_file, "audio"), (args.hyp, args.rttm_file, "RTTM")):
        if positional and option:
            raise DiarefineError(f"the {name} is given twice ({positional} and {option}): give AUDIO HYP.rttm or "
                                 f"--audio / --rttm, not both")
    return args.audio or args.audio_file, args.hyp or args.rttm_file


def cmd_refine(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from ..display import print_table
    from ..fileio import OutputSet, write_json
    from ..refine.pipeline import Refiner
    from ..rttm import write_rttm
    from ..workers import map_files

    jobs = _refine_inputs(args)
    outputs = OutputSet(files=[out for _, out in jobs] + ([args.json] if args.json else []))  # checked now
    settings = (args.model, args.threshold, args.device, args.batch_size, 600.0, args.refine_edges,
                not args.no_match_shapes, args.shape_threshold, None, args.region_span, args.precision)
    refiner = Refiner(*settings)  # model errors surface here, before any worker starts
    results = []
    with outputs:
        if min(args.jobs, len(jobs)) <= 1:  # in this process, with the refiner loaded above
            if args.threads:
                torch.set_num_threads(args.threads)
            for file, _ in tqdm(jobs, desc="refining", unit="file", disable=None if len(jobs) > 1 else True):
                bar, update = window_bar(file.file_id, position=1 if len(jobs) > 1 else 0)
                with bar:
                    results.append(refiner.refine_input(file, update))
        else:  # each worker loads its own refiner
            refined = map_files(Refiner.refine_input, [file for file, _ in jobs], Refiner, settings,
                                jobs=args.jobs, threads=args.threads)
            results.extend(tqdm(refined, total=len(jobs), desc="refining", unit="file", disable=None))
        for result, (file, out) in zip(results, jobs):
            write_rttm(result.turns, outputs.path(out), [file.file_id])
        if args.json:
            write_json(outputs.path(args.json), {"model": refiner.model_name, "threshold": refiner.threshold,
                                                 "shape_threshold": refiner.shape_threshold if refiner.shape_models
                                                 else None, "precision": refiner.precision,
                                                 "files": [r.summary() for r in results]})
    print_table(*refiner.table(results))
    print(f"wrote {args.out}" + (f" ({len(results)} RTTM files)" if len(results) > 1 else ""))
    return 0


_METHOD_OPTIONS = {"simple": {"clustering", "pruning"}, "segmentation": {"min_speakers", "step", "embedding_step",
                                                                       "resegment_window", "split_cosine",
                                                                       "precision"}}


def _diarize_config(args: argparse.Namespace):
    """The config of the diarizer ``--method`` names, with the options given (another method's
    options are an error, not silently ignored)."""
    from dataclasses import replace

    foreign = sorted(name for method, names in _METHOD_OPTIONS.items() if method != args.method for name in names
                     if getattr(args, name) is not None)
    if foreign:
        raise DiarefineError(f"--{foreign[0].replace('_', '-')} is an option of another diarizer than "
                             f"--method {args.method}; see diarefine diarize --help")
    if args.method == "simple":
        from ..diarize import DiarizeConfig as Config

        overrides = {"num_speakers": args.num_speakers, "clustering": args.clustering, "pruning": args.pruning,
                     "distance_threshold": args.distance_threshold, "max_speakers": args.max_speakers}
    else:
        from ..segmentation_diarizer import SegmentationDiarizeConfig as Config

        overrides = {"num_speakers": args.num_speakers, "min_speakers": args.min_speakers,
                     "max_speakers": args.max_speakers, "distance_threshold": args.distance_threshold,
                     "step_s": args.step, "embedding_step_s": args.embedding_step,
                     "resegment_window_s": args.resegment_window, "split_cosine": args.split_cosine,
                     "precision": args.precision}
    try:
        return replace(Config(), **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        raise DiarefineError(f"diarize settings: {exc}") from None


def _diarize_inputs(args: argparse.Namespace) -> dict[str, Path]:
    """Audio path of every file id of this shard (sorted), all readable, before any work."""
    from ..audio import audio_info
    from ..refine.files import audio_by_id
    from ..workers import parse_shard, take_shard

    if bool(args.audio) == (args.audio_dir is not None):
        raise DiarefineError("give AUDIO files / folders (-o one RTTM) or --audio-dir (-o a folder), not both")
    files: dict[str, Path] = {}
    for item in args.audio or [args.audio_dir]:
        found = audio_by_id(item) if args.audio_dir or Path(item).is_dir() else {Path(item).stem: Path(item)}
        for fid, path in found.items():
            if fid in files:
                raise MismatchError(f"two audio files for file id {fid!r}: {files[fid]} and {path}")
            files[fid] = path
    chosen = take_shard(files, parse_shard(args.shard) if args.shard else None, key=str)
    if not chosen:
        raise DiarefineError("no audio files" + (f" in shard {args.shard}" if args.shard else ""))
    for fid in chosen:
        audio_info(files[fid])  # every file readable before any work
    return {fid: files[fid] for fid in chosen}


def cmd_diarize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..diarize import diarization_table
    from ..display import print_table
    from ..fileio import OutputSet
    from ..rttm import write_rttm
    from ..segmentation_diarizer import diarize_item, run_diarizer
    from ..workers import map_files, same

    config = _diarize_config(args)
    files = _diarize_inputs(args)
    per_file = args.audio_dir is not None
    outputs = OutputSet(files=[Path(args.out) / f"{fid}.rttm" for fid in files] if per_file else [args.out])
    with outputs:
        if len(files) == 1:  # one file: a bar over its chunks and embeddings
            (fid, path), = files.items()
            bar, update = stage_bar(fid)
            with bar:
                results = {fid: run_diarizer(path, fid, config, update)}
        else:
            done = map_files(diarize_item, list(files.items()), same, (config,), jobs=args.jobs, threads=args.threads)
            results = dict(zip(files, tqdm(done, total=len(files), desc="diarizing", unit="file", disable=None)))
        for fid, result in results.items():
            if not result.turns:
                log.warning("%s: no speech found; written as a comment line that reads back as no turns", fid)
            if per_file:
                write_rttm(result.turns, outputs.path(Path(args.out) / f"{fid}.rttm"), [fid])
        if not per_file:
            write_rttm([t for r in results.values() for t in r.turns], outputs.path(args.out), list(results))
    print_table(*diarization_table(results, config))
    print(f"wrote {args.out}" + (f" ({len(results)} RTTM files)" if per_file else ""))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..display import print_table
    from ..fileio import check_output_dir
    from ..refine.demo import run_demo
    from ..refine.pipeline import Refiner
    from ..rttm import load_uems, merge_turns, read_rttm
    from ..samples import bundled_sample

    if (args.audio is None) != (args.ref is None):
        raise DiarefineError("give both --audio and --ref, or neither (to run on the bundled sample)")
    check_output_dir(args.out)
    if args.audio is None:
        sample = bundled_sample()
        audio, ref_path, uem_path = sample.audio, sample.rttm, sample.uem
        print("No --audio/--ref given: running on the bundled pyannote sample (30 s, two speakers).")
    else:
        audio, ref_path, uem_path = Path(args.audio), Path(args.ref), args.uem
    reference = read_rttm(ref_path)
    if len(reference) != 1:
        raise DiarefineError(f"{ref_path}: the demo scores one recording, this RTTM holds {len(reference)} file ids")
    (file_id, ref_turns), = reference.items()
    uem = load_uems(uem_path).get(file_id) if uem_path else None
    hypothesis = None
    if args.hyp:
        given = read_rttm(args.hyp)
        if file_id not in given:
            raise MismatchError(f"{args.hyp}: no turns for file id {file_id!r} (it has {', '.join(sorted(given))})")
        hypothesis = merge_turns(given[file_id])
    refiner = Refiner(args.model, args.threshold, args.device, refine_edges=args.refine_edges,
                      match_shapes=not args.no_match_shapes, shape_threshold=args.shape_threshold,
                      region_span_s=args.region_span, precision=args.precision or "float32")
    bar, update = window_bar("refining")
    with bar:
        result = run_demo(audio, ref_turns, args.out, refiner, uem, hypothesis, _diarize_config(args), update,
                          classical=() if args.no_classical else CLASSICAL_REFINERS)
    source = "diarefine diarize" if result.diarization else str(args.hyp)
    print_table(*result.comparison.table(f"before / after on {file_id}: hypothesis from {source}, refined with "
                                         f"{refiner.describe()}"))
    print(result.summary_line())
    for path in result.outputs:
        print(f"wrote {path}")
    return 0


def _add_model_options(p: argparse.ArgumentParser) -> None:
    shipped = ", ".join(f"{name} (threshold {m.threshold:g})" for name, m in SHIPPED_MODELS.items())
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"checkpoint path, shipped model ({shipped}) or classical refiner "
                        f"({', '.join(CLASSICAL_REFINERS)}) (default: %(default)s)")
    p.add_argument("--threshold", type=float,
                   help="move a change only when the model's confidence exceeds this; 1.0 moves nothing the model "
                        f"decides (default: the shipped model's tuned value, {DEFAULT_THRESHOLD:g} for other "
                        "checkpoints)")
    p.add_argument("--no-match-shapes", action="store_true",
                   help="let the model decide every change; by default a change whose hypothesis leaves a clean "
                        "pause (overlap) between its speakers is moved by pause-match (overlap-match), which lays "
                        "it over segmentation-3.0's speaker count, where it is confident: that places those best "
                        "on real recordings")
    p.add_argument("--shape-threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="pause-match's and overlap-match's confidence threshold for those changes "
                        "(default: %(default)s)")
    p.add_argument("--region-span", type=float, default=0.0, metavar="S",
                   help="changes within S seconds of each other share one segmentation-3.0 pass over their region "
                        "instead of one 10 s pass each: faster on dense files, but the windows' context differs from "
                        "training (docs/RESULTS.md, 'refine: speed') (default: %(default)s, one pass per change)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--refine-edges", action="store_true",
                   help="also move speech onsets / offsets next to silence where silero-vad and frame energy "
                        "agree (helps systems with a biased VAD; see the README)")


def _add_diarize_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=["simple", "segmentation"], default=DEFAULT_DIARIZER,
                   help="simple: silero-vad + resemblyzer + spectral clustering; segmentation: segmentation-3.0 + "
                        "CAM++ + clustering in the manner of pyannote 3.x (default: %(default)s)")
    p.add_argument("--num-speakers", type=int, help="fix the number of speakers (default: found automatically)")
    p.add_argument("--min-speakers", type=int, help="segmentation: at least this many speakers")
    p.add_argument("--max-speakers", type=int, help="at most this many speakers (default 20)")
    p.add_argument("--step", type=float, help="segmentation: hop between 10 s chunks in seconds (default 2.5)")
    p.add_argument("--embedding-step", type=float,
                   help="segmentation: hop between the chunks whose speakers get CAM++ embeddings; the others "
                        "are matched to them by overlap (default 10; --step for every chunk, as pyannote)")
    p.add_argument("--resegment-window", type=float,
                   help="segmentation: CAM++ windows (s) that re-label the single-speaker runs, splitting the turns "
                        "of two voices segmentation-3.0 merged (default 1.5; 0: no resegmentation)")
    p.add_argument("--split-cosine", type=float,
                   help="segmentation: resegmentation splits a speaker whose windows form two groups with mean "
                        "embeddings less alike than this cosine: two voices in one speaker (default 0.5; 0: never; "
                        "never past --max-speakers nor with --num-speakers)")
    p.add_argument("--distance-threshold", type=float,
                   help="segmentation: centroid-linkage cut (default 0.9); simple with --clustering ahc: "
                        "cosine distance cut (default 0.35)")
    p.add_argument("--precision", choices=["float32", "bfloat16"],
                   help="segmentation: bfloat16 runs the networks under CPU autocast, about a fifth less time on "
                        "CPUs with native bfloat16 (AVX512-BF16 / AMX), slower on others; its output differs from "
                        "float32's, which is the same on every machine (default float32; demo: the refiner's "
                        "front ends too, as refine --precision)")
    p.add_argument("--clustering", choices=["spectral", "ahc"], help="simple: default spectral (eigen-gap count)")
    p.add_argument("--pruning", type=float, help="simple, spectral: share of each affinity row kept (default 0.3)")


def _add_corpus_options(p: argparse.ArgumentParser) -> None:
    add_jobs(p)
    p.add_argument("--threads", type=int,
                   help="torch threads per worker (default: the CPUs shared out over --jobs); a file's output "
                        "is identical for any --jobs / --shard at the same --threads")
    p.add_argument("--shard", metavar="I/N",
                   help="only the I-th of N shards of the files, sorted by file id (1-based; for array jobs)")


def add_parsers(sub) -> None:
    """Add ``refine``, ``diarize`` and ``demo``."""
    p = sub.add_parser("refine", help="move the speaker changes of an RTTM to where they really are",
                       description="Refine a diarization system's speaker changes: diarefine refine AUDIO HYP.rttm "
                                   "-o OUT.rttm, or whole folders matched by file id: --audio-dir A --rttm-dir R "
                                   "-o OUT_DIR (one OUT_DIR/<file id>.rttm per file).")
    p.add_argument("audio", metavar="AUDIO", nargs="?", help="audio file (any rate / channels)")
    p.add_argument("hyp", metavar="HYP.rttm", nargs="?", help="the system's RTTM for that audio")
    p.add_argument("--audio", dest="audio_file", metavar="AUDIO", help="the same as AUDIO (as `adapt` takes it)")
    p.add_argument("--rttm", dest="rttm_file", metavar="HYP.rttm", help="the same as HYP.rttm")
    p.add_argument("--audio-dir", help="folder of audio files named <file id>.<ext>")
    p.add_argument("--rttm-dir", help="folder of *.rttm hypotheses (file ids inside the files)")
    p.add_argument("-o", "--out", required=True, help="output RTTM (or folder in folder mode)")
    _add_model_options(p)
    p.add_argument("--batch-size", type=int, default=64, help="windows per model call")
    p.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                   help="bfloat16 runs the front ends (segmentation-3.0 after its sinc stage, CAM++) under CPU "
                        "autocast: about a sixth less time on CPUs with native bfloat16 (AVX512-BF16 / AMX), slower "
                        "on others; the model was trained on float32 features (docs/RESULTS.md, 'refine: speed') "
                        "(default: %(default)s)")
    p.add_argument("--json", metavar="OUT.json", help="also write the per-file summary as JSON")
    _add_corpus_options(p)
    p.set_defaults(func=cmd_refine)

    p = sub.add_parser("diarize", help="the built-in diarizer (segmentation-3.0 + CAM++ + clustering, or simple)",
                       description="Diarize audio files offline into one RTTM (file id = audio name without "
                                   "extension), or a folder into one RTTM per file (--audio-dir).")
    p.add_argument("audio", metavar="AUDIO", nargs="*", help="audio file(s) or folder(s), diarized into one RTTM")
    p.add_argument("--audio-dir", help="folder of audio files named <file id>.<ext>: one OUT/<file id>.rttm each")
    p.add_argument("-o", "--out", required=True, help="output RTTM (a folder with --audio-dir)")
    _add_diarize_options(p)
    _add_corpus_options(p)
    p.set_defaults(func=cmd_diarize)

    p = sub.add_parser("demo", help="the main job: diarize -> refine -> score on the bundled sample",
                       description="Diarize a recording with the built-in diarizer, refine it, and score both "
                                   "against the reference (DER collar 0 and md-eval +/-250 ms, boundary metrics). Writes the "
                                   "RTTMs, scores.json and timelines.png. No arguments: the bundled sample.")
    p.add_argument("--audio", help="your recording (with --ref)")
    p.add_argument("--ref", help="its reference RTTM (one file id)")
    p.add_argument("--uem", help="UEM of the scored regions (default: the bundled sample's, or the turns' extent)")
    p.add_argument("--hyp", help="refine this system RTTM instead of the built-in diarizer's output")
    p.add_argument("--out", default=DEMO_OUT, help="output folder (default: %(default)s)")
    p.add_argument("--no-classical", action="store_true",
                   help=f"leave out the rows of the classical refiners ({', '.join(CLASSICAL_REFINERS)})")
    _add_model_options(p)
    _add_diarize_options(p)
    p.set_defaults(func=cmd_demo)
