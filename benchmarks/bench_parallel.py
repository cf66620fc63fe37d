"""How the shipped networks' inference batches use the cores (not a test).

    python benchmarks/bench_parallel.py [--audio long10.wav] [--seconds 600] [--repeats 2]

Times, on one recording (default: the bundled sample, tiled to ``--seconds``), the two heavy
parts of ``diarize``: CAM++ on resegmentation-like windows (1.5 s every 0.75 s) and
segmentation-3.0 on 10 s chunks every 2.5 s, each three ways: every batch on one torch thread,
one after the other; every batch on all of torch's threads (intra-op, the code before
``networks.parallel``); and the batches side by side, one thread each (`map_batches`, what runs
now). Prints the best of ``--repeats`` wall times and whether the outputs are the same bits.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from diarefine.audio import load_audio
from diarefine.networks.campplus import batch_size_for, kaldi_fbank, shared_campplus
from diarefine.networks.parallel import map_batches, torch_threads
from diarefine.networks.pyannet import shared_pyannet
from diarefine.networks.weights import CAMPPLUS_ZH_EN, SEGMENTATION_3, weights_path
from diarefine.samples import bundled_sample
from diarefine.segmentation_diarizer import FbankWindows, chunk_starts
from diarefine.units import SAMPLE_RATE


def workloads(audio: np.ndarray) -> dict[str, tuple[callable, list]]:
    """name -> (one batch's computation, its batches)."""
    campplus = shared_campplus(str(weights_path("", CAMPPLUS_ZH_EN)))
    pyannet = shared_pyannet(str(weights_path("", SEGMENTATION_3)))
    fbank = kaldi_fbank(audio)
    windows = FbankWindows(fbank, np.arange(0, len(fbank) - 150, 75), 150)
    size = batch_size_for(150, 16)

    @torch.inference_mode()
    def embed(lo: int) -> np.ndarray:
        return campplus(torch.from_numpy(np.stack([windows[i] for i in range(lo, min(lo + size, len(windows)))])))

    chunk = 10 * SAMPLE_RATE
    starts = np.round(chunk_starts(len(audio) / SAMPLE_RATE, 10.0, 2.5) * SAMPLE_RATE).astype(int)

    @torch.inference_mode()
    def segment(lo: int) -> np.ndarray:
        first = starts[lo:lo + 16]
        stretch = torch.from_numpy(audio[first[0]:first[-1] + chunk])
        # `PyanNet.layers_of_chunks` for one stretch and batch, called in parts: it would run them on one thread
        first_stage = pyannet.sincnet.first_stage_of_chunks(stretch, torch.from_numpy(first - first[0]), chunk)
        return pyannet._after_sincnet(pyannet.sincnet.after_first_stage(first_stage)).log_probs

    return {f"CAM++: {len(windows)} x 1.5 s": (embed, list(range(0, len(windows), size))),
            f"segmentation-3.0: {len(starts)} x 10 s": (segment, list(range(0, len(starts), 16)))}


def best_of(repeats: int, run) -> tuple[float, list]:
    best, out = float("inf"), None
    for _ in range(repeats):
        began = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - began)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audio", default=None, help="a recording (default: the bundled sample, tiled)")
    parser.add_argument("--seconds", type=float, default=600.0, help="use this much of it (tiled if shorter)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    audio = load_audio(args.audio or bundled_sample().audio)
    n = int(args.seconds * SAMPLE_RATE)
    audio = np.ascontiguousarray(np.tile(audio, -(-n // len(audio)))[:n])
    threads = torch.get_num_threads()
    table = Table(title=f"{args.seconds / 60:g} min of audio, {threads} torch threads: best of {args.repeats} (s)")
    for column in ("work", "one thread", f"{threads} threads per batch", "side by side (now)",
                   "same bits as one thread: side by side / per batch"):
        table.add_column(column)
    for name, (fn, batches) in workloads(audio).items():
        fn(batches[0])  # warm-up
        with torch_threads(1):
            serial, reference = best_of(args.repeats, lambda: [fn(b) for b in batches])
        intra, intra_out = best_of(args.repeats, lambda: [fn(b) for b in batches])
        side, side_out = best_of(args.repeats, lambda: map_batches(fn, batches))
        same = all(torch.equal(torch.as_tensor(a), torch.as_tensor(b)) for a, b in zip(reference, side_out))
        same_intra = all(torch.equal(torch.as_tensor(a), torch.as_tensor(b)) for a, b in zip(reference, intra_out))
        table.add_row(name, f"{serial:.2f}", f"{intra:.2f}", f"{side:.2f}",
                      f"{'yes' if same else 'NO'} / {'yes' if same_intra else 'no'}")
    Console().print(table)


if __name__ == "__main__":
    main()
