"""The pipeline subcommands of the CLI: ``refine``, ``diarize`` and ``demo`` (the main job).

Kept apart from `cli` so each module stays small; `cli.build_parser` adds these parsers.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from tqdm import tqdm

from .errors import DiarefineError, MismatchError

log = logging.getLogger("diarefine")
DEMO_OUT = "diarefine_demo"


def _window_bar(desc: str, position: int = 0):
    """A tqdm bar over one file's windows and the (done, total) callback that drives it."""
    bar = tqdm(desc=desc, unit="win", disable=None, leave=False, position=position)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    return bar, update


def _refine_inputs(args: argparse.Namespace) -> list[tuple[str, Path, list, Path]]:
    """(file id, audio, hypothesis turns, output RTTM) of every file, all checked before any work."""
    from .audio import audio_info, check_audio_covers
    from .data.corpus import audio_by_id
    from .rttm import load_rttms, read_rttm

    folder_mode = args.audio_dir is not None or args.rttm_dir is not None
    if folder_mode:
        if args.audio_dir is None or args.rttm_dir is None or args.audio or args.hyp:
            raise DiarefineError("folder mode needs --audio-dir and --rttm-dir (and no AUDIO / HYP arguments)")
        audio, hypothesis = audio_by_id(args.audio_dir), load_rttms(args.rttm_dir)
        missing = sorted(set(hypothesis) - set(audio))
        if missing:
            raise MismatchError(f"{args.rttm_dir}: no audio in {args.audio_dir} for file id(s) "
                                f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}; "
                                "audio files must be named <file id>.<ext>")
        jobs = [(fid, audio[fid], turns, Path(args.out) / f"{fid}.rttm") for fid, turns in sorted(hypothesis.items())]
    else:
        if not args.audio or not args.hyp:
            raise DiarefineError("give AUDIO and HYP.rttm, or --audio-dir and --rttm-dir")
        hypothesis = read_rttm(args.hyp)
        if len(hypothesis) > 1:
            raise DiarefineError(f"{args.hyp}: holds {len(hypothesis)} file ids ({', '.join(sorted(hypothesis)[:5])}); "
                                 "refine one file with AUDIO HYP, or several with --audio-dir / --rttm-dir")
        (fid, turns), = hypothesis.items()
        if fid != Path(args.audio).stem:
            log.warning("%s: file id %r differs from the audio's name %s; refining them together as given",
                        args.hyp, fid, Path(args.audio).name)
        jobs = [(fid, Path(args.audio), turns, Path(args.out))]
    for fid, path, turns, _ in jobs:
        check_audio_covers(audio_info(path), max(t.end for t in turns), fid)
    return jobs


def cmd_refine(args: argparse.Namespace) -> int:
    from .display import print_table
    from .fileio import write_json
    from .refinement import Refiner
    from .rttm import write_rttm

    jobs = _refine_inputs(args)
    refiner = Refiner(args.model, args.threshold, args.device, args.batch_size, refine_edges=args.refine_edges)
    results = []
    with tqdm(total=len(jobs), desc="refining", unit="file", disable=None if len(jobs) > 1 else True) as overall:
        for fid, audio, turns, out in jobs:
            bar, update = _window_bar(fid, position=1 if len(jobs) > 1 else 0)
            with bar:
                result = refiner.refine_file(audio, turns, update)
            out.parent.mkdir(parents=True, exist_ok=True)
            write_rttm(result.turns, out)
            results.append(result)
            overall.update()
    counts = ["n_changes", "n_moved", "n_kept", "n_clamped", "n_missing_embedding"]
    edge_counts = ["n_edges", "n_edges_moved"] if args.refine_edges else []

    def row(name: str, rs: list) -> list[str]:
        return [name, *(str(sum(getattr(r, k) for r in rs)) for k in counts + edge_counts),
                f"{sum(r.duration_s for r in rs) / 60:.1f}", f"{sum(r.seconds for r in rs) / sum(r.duration_s for r in rs):.4f}"]

    rows = [row(r.file_id, [r]) for r in results[:30]] + ([row("total", results)] if len(results) > 1 else [])
    print_table(f"diarefine refine ({refiner.model_name}, threshold {refiner.threshold:g}"
                + (", edges refined" if args.refine_edges else "") + ")",
                ["file", "changes", "moved", "kept", "clamped", "no embedding"]
                + (["edges", "edges moved"] if args.refine_edges else []) + ["audio min", "RTF"], rows)
    if args.json:
        write_json(args.json, {"model": refiner.model_name, "threshold": refiner.threshold,
                               "files": [r.summary() for r in results]})
    print(f"wrote {args.out}" + (f" ({len(results)} RTTM files)" if len(results) > 1 else ""))
    return 0


def _diarize_config(args: argparse.Namespace):
    from dataclasses import replace

    from .diarize import DiarizeConfig

    overrides = {"num_speakers": args.num_speakers, "clustering": args.clustering, "pruning": args.pruning,
                 "distance_threshold": args.distance_threshold}
    try:
        return replace(DiarizeConfig(), **{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        raise DiarefineError(f"diarize settings: {exc}") from None


def cmd_diarize(args: argparse.Namespace) -> int:
    from .audio import audio_info
    from .data.corpus import audio_by_id
    from .diarize import diarize
    from .display import print_table
    from .rttm import write_rttm

    config = _diarize_config(args)
    files: dict[str, Path] = {}
    for item in args.audio:
        found = audio_by_id(item) if Path(item).is_dir() else {Path(item).stem: Path(item)}
        for fid, path in found.items():
            if fid in files:
                raise MismatchError(f"two audio files for file id {fid!r}: {files[fid]} and {path}")
            files[fid] = path
    for path in files.values():
        audio_info(path)  # every file readable before any work
    turns, rows = [], []
    for fid, path in tqdm(sorted(files.items()), desc="diarizing", unit="file", disable=None if len(files) > 1 else True):
        result = diarize(path, fid, config)
        turns += result.turns
        rows.append([fid, str(result.n_speakers), str(len(result.turns)), f"{result.speech_s:.1f}",
                     f"{result.duration_s:.1f}", f"{result.seconds / result.duration_s:.4f}"])
    write_rttm(turns, args.out)
    print_table("diarefine diarize (silero-vad + resemblyzer + " + config.clustering + " clustering)",
                ["file", "speakers", "turns", "speech s", "audio s", "RTF"], rows)
    print(f"wrote {args.out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import REFINED, run_demo
    from .pretrained import CLASSICAL_REFINERS
    from .display import print_table
    from .refinement import Refiner
    from .rttm import load_uems, merge_turns, read_rttm
    from .samples import bundled_sample

    if (args.audio is None) != (args.ref is None):
        raise DiarefineError("give both --audio and --ref, or neither (to run on the bundled sample)")
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
    refiner = Refiner(args.model, args.threshold, args.device, refine_edges=args.refine_edges)
    bar, update = _window_bar("refining")
    with bar:
        result = run_demo(audio, ref_turns, args.out, refiner, uem, hypothesis, _diarize_config(args), update,
                          classical=() if args.no_classical else CLASSICAL_REFINERS)
    source = "diarefine diarize" if result.diarization else str(args.hyp)
    print_table(*result.comparison.table(f"before / after on {file_id}: hypothesis from {source}, refined with "
                                         f"{refiner.model_name} (threshold {refiner.threshold:g})"))
    change = result.comparison.relative_change("hypothesis", REFINED)
    der = f"{100 * change:+.1f}% relative" if abs(change) >= 5e-4 else "unchanged"
    edges = f", {result.refinement.n_edges_moved} of {result.refinement.n_edges} speech edges" \
        if result.refinement.edges is not None else ""
    print(f"collar-0 DER {der}; {result.refinement.n_moved} of {result.refinement.n_changes} changes moved{edges}")
    for path in result.outputs:
        print(f"wrote {path}")
    return 0


def add_parsers(sub) -> None:
    """Add the ``refine``, ``diarize`` and ``demo`` subcommands to the CLI's subparsers."""
    from .models.base import DEFAULT_THRESHOLD
    from .pretrained import CLASSICAL_REFINERS, DEFAULT_MODEL, SHIPPED_MODELS

    shipped = ", ".join(f"{name} (threshold {m.threshold:g})" for name, m in SHIPPED_MODELS.items())

    def add_model(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model", default=DEFAULT_MODEL,
                       help=f"checkpoint path, shipped model ({shipped}) or classical refiner "
                            f"({', '.join(CLASSICAL_REFINERS)}) (default: %(default)s)")
        p.add_argument("--threshold", type=float,
                       help="move a change only when the model's confidence exceeds this; 1.0 moves nothing "
                            f"(default: the shipped model's tuned value, {DEFAULT_THRESHOLD:g} for other checkpoints)")
        p.add_argument("--device", default="cpu", help="cpu or cuda")
        p.add_argument("--refine-edges", action="store_true",
                       help="also move speech onsets / offsets next to silence where silero-vad and frame energy "
                            "agree (helps systems with a biased VAD; see the README)")

    def add_diarize_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--num-speakers", type=int, help="fix the number of speakers (default: found automatically)")
        p.add_argument("--clustering", choices=["spectral", "ahc"], help="default: spectral (eigen-gap count)")
        p.add_argument("--pruning", type=float, help="spectral: share of each affinity row kept (default 0.3)")
        p.add_argument("--distance-threshold", type=float, help="ahc: cosine distance cut (default 0.35)")

    p = sub.add_parser("refine", help="move the speaker changes of an RTTM to where they really are",
                       description="Refine a diarization system's speaker changes: diarefine refine AUDIO HYP.rttm "
                                   "-o OUT.rttm, or whole folders matched by file id: --audio-dir A --rttm-dir R "
                                   "-o OUT_DIR (one OUT_DIR/<file id>.rttm per file).")
    p.add_argument("audio", metavar="AUDIO", nargs="?", help="audio file (any rate / channels)")
    p.add_argument("hyp", metavar="HYP.rttm", nargs="?", help="the system's RTTM for that audio")
    p.add_argument("--audio-dir", help="folder of audio files named <file id>.<ext>")
    p.add_argument("--rttm-dir", help="folder of *.rttm hypotheses (file ids inside the files)")
    p.add_argument("-o", "--out", required=True, help="output RTTM (or folder in folder mode)")
    add_model(p)
    p.add_argument("--batch-size", type=int, default=64, help="windows per model call")
    p.add_argument("--json", metavar="OUT.json", help="also write the per-file summary as JSON")
    p.set_defaults(func=cmd_refine)

    p = sub.add_parser("diarize", help="the embedded baseline diarizer (silero-vad + resemblyzer + clustering)",
                       description="Diarize audio files offline into one RTTM (file id = audio name without "
                                   "extension). A baseline with the boundary jitter of window-based systems.")
    p.add_argument("audio", metavar="AUDIO", nargs="+", help="audio file(s) or folder(s)")
    p.add_argument("-o", "--out", required=True, help="output RTTM")
    add_diarize_options(p)
    p.set_defaults(func=cmd_diarize)

    p = sub.add_parser("demo", help="the main job: diarize -> refine -> score on the bundled sample",
                       description="Diarize a recording with the baseline, refine it, and score both against the "
                                   "reference (DER collar 0 and md-eval +/-250 ms, boundary metrics). Writes the "
                                   "RTTMs, scores.json and timelines.png. No arguments: the bundled sample.")
    p.add_argument("--audio", help="your recording (with --ref)")
    p.add_argument("--ref", help="its reference RTTM (one file id)")
    p.add_argument("--uem", help="UEM of the scored regions (default: the bundled sample's, or the turns' extent)")
    p.add_argument("--hyp", help="refine this system RTTM instead of the baseline diarizer's output")
    p.add_argument("--out", default=DEMO_OUT, help="output folder (default: %(default)s)")
    p.add_argument("--no-classical", action="store_true",
                   help="leave out the rows of the classical refiners (bic, similarity, silence-snap)")
    add_model(p)
    add_diarize_options(p)
    p.set_defaults(func=cmd_demo)
