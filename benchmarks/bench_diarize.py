"""The built-in diarizers on real and simulated recordings: DER and speaker counts (not a test).

    python benchmarks/bench_diarize.py --corpus ../shared/data/ami-debug/dev ../shared/data/ami-debug/test --sample
    python benchmarks/bench_diarize.py --corpus ../shared/data/ami-debug/train --thresholds 0.5 0.6 0.7 0.8   # tuning

For each set (every ``--corpus`` on its own, ``--sample`` the bundled sample), each diarizer
(``simple``: silero-vad + resemblyzer + spectral clustering; ``segmentation``: segmentation-3.0
+ CAM++ + clustering, at each of ``--thresholds``, ``--chunks`` (segmentation-3.0's chunk length),
``--steps`` (chunk hop) and
``--embedding-steps`` (hop of the embedded chunks)): collar-0 DER with its
missed / false alarm / confusion split, md-eval DER (+/-250 ms collar, overlap scored: `metrics.der`), the share
of files whose speaker count is right, and the real-time factor (in process, 2 threads). The first
row, "reference, at most 2 at once", scores the reference with the speech of a third or fourth
simultaneous speaker removed (`rttm.cap_speakers`): segmentation-3.0's powerset holds two speakers
per frame, so no diarizer built on it (pyannote 3.x's included) can score better than that row.
The second, "local speakers, oracle clusters" (``--oracle``), gives each (chunk, local speaker)
of segmentation-3.0 (at the first ``--steps``) the reference speaker it shares the most frames
with (one-to-one per chunk) and reconstructs as the diarizer does, without resegmentation: a
reference-informed clustering of those local speakers (not a strict bound: averaging over
overlapping chunks can favour another assignment on a file), which no clustering can beat where
they merge two voices. ``--per-recording`` adds each recording's DER per row.
``--pool`` scores all the sets as one (pooled DER). ``--reference-count`` gives the segmentation
diarizer each file's reference speaker count; ``--precision`` sets its inference precision. ``--skip S --count N`` takes recordings S to S + N - 1 of each corpus.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from diarefine.audio import load_audio
from diarefine.data.corpus import Recording, discover_corpus
from diarefine.diarize import diarize
from diarefine.display import percent, print_table
from diarefine.metrics.der import HEADLINE, MDEVAL
from diarefine.metrics.scoring import score_set
from diarefine.rttm import cap_speakers, load_uems, read_rttm
from diarefine.samples import bundled_sample
from diarefine.segmentation_diarizer import (
    LocalSpeakers,
    SegmentationDiarizeConfig,
    activity_to_turns,
    diarize_segmentation,
    reconstruct,
    segment,
)
from diarefine.units import SAMPLE_RATE


def sets(corpora: list[str], sample: bool, skip: int, count: int | None, pool: bool) -> dict[str, list[Recording]]:
    out = {Path(c).name if Path(c).parent.name != "ami-debug" else f"ami-debug/{Path(c).name}":
           discover_corpus(c)[skip:skip + count if count else None] for c in corpora}
    if sample:
        s = bundled_sample()
        out["sample"] = [Recording("sample", s.audio, tuple(read_rttm(s.rttm)["sample"]),
                                   tuple(load_uems(s.uem)["sample"]))]
    return {" + ".join(out): [r for recs in out.values() for r in recs]} if pool else out


def oracle_clusters(local: LocalSpeakers, recording: Recording) -> np.ndarray:
    """Cluster [C, S] of every local speaker: the reference speaker active on most of its frames
    (Hungarian per chunk; -1 where it shares none)."""
    speakers = sorted({t.speaker for t in recording.turns})
    n_chunks, n_frames, n_local = local.activity.shape
    out = np.full((n_chunks, n_local), -1)
    for c in range(n_chunks):
        times = local.starts_s[c] + local.frame_offset_s + np.arange(n_frames) * local.frame_step_s
        reference = np.zeros((n_frames, len(speakers)), np.float32)
        for t in recording.turns:
            reference[(times >= t.start) & (times < t.end), speakers.index(t.speaker)] = 1
        shared = local.activity[c].T.astype(np.float32) @ reference
        rows, cols = linear_sum_assignment(-shared)
        keep = shared[rows, cols] > 0
        out[c, rows[keep]] = cols[keep]
    return out


def oracle_turns(recording: Recording, config: SegmentationDiarizeConfig) -> list:
    """The diarizer's turns with its local speakers clustered by the reference (`oracle_clusters`)."""
    audio = load_audio(recording.audio)
    duration = len(audio) / SAMPLE_RATE
    local = segment(audio, config)
    active, step = reconstruct(local, oracle_clusters(local, recording), duration)
    return activity_to_turns(active, step, local.frame_offset_s, duration, recording.file_id)


def row(name: str, recs: list[Recording], hypotheses: dict, seconds: float, per_file: dict | None = None) -> list[str]:
    """One table row; ``per_file`` (if given) collects each file's collar-0 / md-eval DER under ``name``."""
    ref = {r.file_id: list(r.turns) for r in recs}
    uem = {r.file_id: list(r.uem) for r in recs} if all(r.uem for r in recs) else None
    score = score_set(ref, hypotheses, uem, name=name, jobs=1).to_dict()
    if per_file is not None:
        per_file[name] = {f: f"{percent(d[HEADLINE]['der'])} / {percent(d[MDEVAL]['der'])}"
                          for f, d in score["per_file"].items()}
    c0, md = score["der"][HEADLINE], score["der"][MDEVAL]
    right = sum(len({t.speaker for t in ref[f]}) == len({t.speaker for t in hypotheses[f]}) for f in ref)
    duration = sum(max(t.end for t in r.turns) for r in recs)
    return [name, f"{percent(c0['der'])} ({percent(c0['missed'])} / {percent(c0['false_alarm'])} / "
                  f"{percent(c0['confusion'])})", percent(md["der"]), f"{right} / {len(ref)}", f"{seconds / duration:.3f}" if seconds else "-"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", nargs="*", default=[])
    parser.add_argument("--sample", action="store_true")
    parser.add_argument("--pool", action="store_true", help="score all the sets together")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N recordings of each corpus")
    parser.add_argument("--count", type=int)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[SegmentationDiarizeConfig().distance_threshold])
    parser.add_argument("--chunks", type=float, nargs="+", default=[SegmentationDiarizeConfig().chunk_s],
                        help="segmentation-3.0's chunk length (s; it was trained on 10)")
    parser.add_argument("--steps", type=float, nargs="+", default=[SegmentationDiarizeConfig().step_s])
    parser.add_argument("--embedding-steps", type=float, nargs="+",
                        default=[SegmentationDiarizeConfig().embedding_step_s])
    parser.add_argument("--max-embed", type=float, nargs="+", default=[SegmentationDiarizeConfig().max_embed_s],
                        help="most speech per CAM++ embedding (s)")
    parser.add_argument("--min-cluster", type=float, nargs="+", default=[SegmentationDiarizeConfig().min_cluster_s],
                        help="least seconds of embedded chunks per cluster")
    parser.add_argument("--min-speaker", type=float, nargs="+", default=[SegmentationDiarizeConfig().min_speaker_s],
                        help="least speech (s) of a speaker after reconstruction; less joins the nearest")
    parser.add_argument("--resegment", type=float, nargs=2, action="append", metavar=("WINDOW", "HOP"),
                        help="resegmentation window and hop (s); repeat for a grid; window 0: none "
                             "(default: the diarizer's)")
    parser.add_argument("--resegment-iterations", type=int, nargs="+",
                        default=[SegmentationDiarizeConfig().resegment_iterations])
    parser.add_argument("--split", type=float, nargs="+", default=[SegmentationDiarizeConfig().split_cosine],
                        help="resegmentation's split cosine (0: no split); a grid")
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                        help="the segmentation diarizer's --precision (every row)")
    parser.add_argument("--reference-count", action="store_true",
                        help="give the segmentation diarizer each file's reference speaker count (--num-speakers)")
    parser.add_argument("--no-simple", action="store_true", help="leave out the simple diarizer")
    parser.add_argument("--per-recording", action="store_true",
                        help="also print each recording's DER (collar 0 / md-eval) per row")
    parser.add_argument("--oracle", action="store_true",
                        help="add the row of segmentation-3.0's local speakers clustered by the reference")
    args = parser.parse_args()
    default = SegmentationDiarizeConfig()
    resegment = [(w, h, i) for w, h in args.resegment or [(default.resegment_window_s, default.resegment_hop_s)]
                 for i in (args.resegment_iterations if w else [1])]
    for set_name, recs in sets(args.corpus, args.sample, args.skip, args.count, args.pool).items():
        per_file: dict | None = {} if args.per_recording else None
        rows = [row("reference, at most 2 at once", recs, {r.file_id: cap_speakers(r.turns, 2) for r in recs}, 0.0,
                    per_file)]
        if args.oracle:
            config = SegmentationDiarizeConfig(step_s=args.steps[0])
            rows.append(row(f"local speakers (step {args.steps[0]:g} s), oracle clusters", recs,
                            {r.file_id: oracle_turns(r, config) for r in recs}, 0.0, per_file))
        if not args.no_simple:
            results = {r.file_id: diarize(r.audio, r.file_id) for r in recs}
            rows.append(row("simple", recs, {f: d.turns for f, d in results.items()},
                            sum(d.seconds for d in results.values()), per_file))
        local_cache: dict = {}
        for chunk, step, embedding_step, longest in [(c, s, e, m) for c in args.chunks for s in args.steps
                                                     for e in args.embedding_steps for m in args.max_embed
                                                     if s <= e <= c]:
            for threshold, min_cluster, least, (window, hop, rounds), split in [
                    (t, m, a, r, x) for t in args.thresholds for m in args.min_cluster for a in args.min_speaker
                    for r in resegment for x in args.split]:
                config = SegmentationDiarizeConfig(chunk_s=chunk, step_s=step, embedding_step_s=embedding_step,
                                                   max_embed_s=longest, distance_threshold=threshold,
                                                   min_cluster_s=min_cluster, min_speaker_s=least,
                                                   resegment_window_s=window, resegment_hop_s=hop,
                                                   resegment_iterations=rounds, split_cosine=split,
                                                   precision=args.precision)
                results = {r.file_id: diarize_segmentation(r.audio, r.file_id, replace(
                    config, num_speakers=len({t.speaker for t in r.turns})) if args.reference_count else config,
                    cache=local_cache) for r in recs}
                reseg = (f"reseg {window:g} / {hop:g} s x{rounds}" + (f", split {split:g}" if split else "")
                         if window else "no reseg")
                name = (("" if chunk == default.chunk_s else f"chunk {chunk:g} s, ")
                        + ("" if args.precision == "float32" else f"{args.precision}, ")
                        + ("reference count, " if args.reference_count else "")
                        + f"step {step:g} / {embedding_step:g} s, max embed {longest:g} s, threshold {threshold:g}, "
                        f"min cluster {min_cluster:g} s, min speaker {least:g} s, {reseg}")
                rows.append(row(name, recs, {f: d.turns for f, d in results.items()},
                                sum(d.seconds for d in results.values()), per_file))
        print_table(f"{set_name}: {len(recs)} recordings", ["diarizer", "DER c0 (miss / FA / conf)", "DER md-eval",
                                                           "speaker count right", "RTF"], rows)
        if per_file:
            files = [r.file_id for r in recs]
            print_table(f"{set_name}: DER collar 0 / md-eval of each recording", ["diarizer", *files],
                        [[name, *(scores[f] for f in files)] for name, scores in per_file.items()])


if __name__ == "__main__":
    main()
