"""``diarefine adapt`` on real recordings: refine with the adapted vs the unadapted model (not a test).

    python benchmarks/bench_adapt.py --eval ../shared/data/ami-debug/dev ../shared/data/ami-debug/test
    python benchmarks/bench_adapt.py --eval ../shared/data/ami-debug/dev ../shared/data/ami-debug/test \\
        --adapt-on ../shared/data/ami-debug/train
    python benchmarks/bench_adapt.py --sample
    python benchmarks/bench_adapt.py --eval data/simdev0_19 --telephone

The default diarizer (segmentation-3.0 + CAM++) diarizes every recording; ``adapt`` then fits the
starting model (``--from``, default the shipped one) to the recordings of ``--adapt-on`` (default:
the evaluation recordings themselves) with those hypotheses, no reference used. The evaluation
recordings' hypotheses, and their references perturbed with ``--error-model`` (``--seeds``
copies), are refined with both models, each at its own threshold (the adapted one's is tuned
by ``adapt`` on held-out re-mixed conversations), and scored with collar-0 DER and the UEM
(`bench_real.report`; each alone and "+ shapes" (pause- and overlap-match), as `refine` runs it by default;
a column gives each row's DER relative to the unadapted model's + shapes, paired by hypothesis, with
its 90% interval over recordings).
``--telephone`` first turns every recording into a narrow-band channel
(300-3400 Hz, through 8 kHz): a stand-in new domain. The adaptation's own summary (minutes
harvested, windows, held-out metrics, wall time on this machine) is printed first.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

sys.path.insert(0, str(Path(__file__).parent))
from bench_real import hypotheses, recordings, report  # noqa: E402

from diarefine.adapt import AdaptConfig, adapt  # noqa: E402
from diarefine.audio import load_audio  # noqa: E402
from diarefine.cli.common import config_from_toml  # noqa: E402
from diarefine.data.corpus import Recording  # noqa: E402
from diarefine.display import print_table  # noqa: E402
from diarefine.refine.files import open_input  # noqa: E402
from diarefine.refine.pipeline import Refiner  # noqa: E402
from diarefine.refine.resolve import DEFAULT_MODEL  # noqa: E402
from diarefine.units import SAMPLE_RATE  # noqa: E402


def telephone(recs: list[Recording], folder: Path) -> list[Recording]:
    """Copies of ``recs`` through a telephone channel: 300-3400 Hz band-pass, 8 kHz and back to 16 kHz."""
    sos = signal.butter(6, [300, 3400], btype="bandpass", fs=SAMPLE_RATE, output="sos")
    out = []
    for r in recs:
        narrow = signal.resample_poly(signal.sosfiltfilt(sos, load_audio(r.audio)), 1, 2)
        path = folder / f"{r.file_id}.wav"
        sf.write(path, signal.resample_poly(narrow, 2, 1).astype(np.float32), SAMPLE_RATE)
        out.append(replace(r, audio=path))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", nargs="*", default=[], help="corpus folders (audio/ rttm/ uem/) to refine and score")
    parser.add_argument("--sample", action="store_true", help="also the bundled sample")
    parser.add_argument("--adapt-on", nargs="*", help="corpus folders to adapt on (default: the evaluation recordings)")
    parser.add_argument("--telephone", action="store_true", help="narrow-band copies of every recording first")
    parser.add_argument("--from", dest="start", default=DEFAULT_MODEL, help="starting model (default: %(default)s)")
    parser.add_argument("--out", default="runs/adapt/adapted.pt", help="where the adapted checkpoint goes")
    parser.add_argument("--minutes", type=float, default=10.0, help="fine-tuning budget")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--adapt-error-model", default="empirical", help="adapt's window error model")
    parser.add_argument("--across-recordings", action="store_true", help="adapt mixes speakers across recordings")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, default=5, help="perturbed copies of each reference")
    parser.add_argument("--error-model", default="empirical", help="of the perturb source")
    parser.add_argument("--work-dir", help="keep adapt's work files here")
    parser.add_argument("--config", help="TOML with an [adapt] table (as `diarefine adapt --config`)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-adapt-") as tmp:
        evaluated = recordings(args.eval, args.sample)
        adapt_recs = recordings(args.adapt_on, False) if args.adapt_on else evaluated
        if args.telephone:
            evaluated = telephone(evaluated, Path(tmp))
            adapt_recs = telephone(adapt_recs, Path(tmp)) if args.adapt_on else evaluated
        began = time.perf_counter()
        system = hypotheses(adapt_recs, "diarize", 0)
        diarize_s = time.perf_counter() - began
        inputs = [open_input(r.audio, turns, fid) for fid, (r, turns) in system.items()]
        config = replace(config_from_toml(args.config, AdaptConfig, "adapt"), minutes=args.minutes,
                         max_epochs=args.epochs, error_model=args.adapt_error_model, seed=args.seed)
        if args.across_recordings:
            config = replace(config, remix=replace(config.remix, across_recordings=True))
        result = adapt(inputs, args.out, args.start, config, work_dir=args.work_dir)
        where = " + ".join(args.adapt_on or args.eval + (["sample"] if args.sample else []))
        print_table(f"adapt on {where}{' (telephone)' if args.telephone else ''}: {result.start_model} -> "
                    f"{args.out} (diarize took {diarize_s:.0f} s before)", ["measure", "value"], result.summary_rows())
        # each model alone; report adds the "+ shapes" rows
        refiners = [Refiner(args.start, match_shapes=False), Refiner(args.out, match_shapes=False)]
        refiners[1].model_name = f"adapted ({Path(args.out).name})"
        title = " + ".join(args.eval + (["sample"] if args.sample else [])) + (" (telephone)" if args.telephone else "")
        eval_system = system if adapt_recs is evaluated else hypotheses(evaluated, "diarize", 0)
        unadapted = f"{refiners[0].model_name} @ {refiners[0].threshold:g} + shapes"  # as `refine` runs it
        report(f"{title}, diarize", eval_system, refiners, None, against=unadapted)
        report(f"{title}, perturb ({args.error_model})", hypotheses(evaluated, "perturb", args.seeds, args.error_model),
               refiners, None, against=unadapted)


if __name__ == "__main__":
    main()
