"""``diarefine demo``: diarize -> refine -> score one recording (the bundled sample by default).

Prints nothing itself: returns the before / after comparison (the hypothesis, each classical
refiner, and the model's refinement, on the same changes) and writes the hypothesis and
refined RTTMs, the scores as JSON and a PNG of the reference, hypothesis and refined
timelines stacked, so the CLI and notebooks show the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..audio import audio_info, check_audio_covers
from ..changes import find_changes
from ..diarize import Diarization, DiarizeConfig
from ..errors import DiarefineError
from ..fileio import OutputSet, write_json
from ..models import classical_like
from ..plots import plot_timelines
from ..rttm import write_rttm
from ..segmentation_diarizer import SegmentationDiarizeConfig, run_diarizer
from ..types import Region, Turn
from .compare import Comparison, MoveCounts, compare
from .files import open_input
from .pipeline import FileRefinement, Progress, Refiner
from .resolve import CLASSICAL_REFINERS

HYPOTHESIS, REFINED = "hypothesis", "refined"


@dataclass(frozen=True)
class DemoResult:
    """The comparison (rows: hypothesis, each classical refiner, refined), what refine did, and the files written."""

    comparison: Comparison
    refinement: FileRefinement
    diarization: Diarization | None  # None when a hypothesis was given
    outputs: list[Path]

    def summary_line(self) -> str:
        """One line under the table: the relative change of collar-0 DER and what moved."""
        change = self.comparison.relative_change(HYPOTHESIS, REFINED)
        der = f"{100 * change:+.1f}% relative" if abs(change) >= 5e-4 else "unchanged"
        r = self.refinement
        edges = f", {r.n_edges_moved} of {r.n_edges} speech edges" if r.edges is not None else ""
        return f"collar-0 DER {der}; {r.n_moved} of {r.n_changes} changes moved{edges}"


def run_demo(audio: str | Path, reference: Sequence[Turn], out_dir: str | Path, refiner: Refiner,
             uem: Sequence[Region] | None = None, hypothesis: Sequence[Turn] | None = None,
             diarize_config: DiarizeConfig | SegmentationDiarizeConfig = SegmentationDiarizeConfig(),
             progress: Progress | None = None,
             classical: Sequence[str] = CLASSICAL_REFINERS) -> DemoResult:
    """Diarize ``audio`` (unless ``hypothesis`` is given; the built-in diarizer ``diarize_config``
    configures, segmentation-3.0 + CAM++ by default), refine it with ``refiner`` and with each
    ``classical`` refiner, and score them all against ``reference``."""
    file_ids = sorted({t.file_id for t in reference})
    if len(file_ids) != 1:
        raise DiarefineError(f"the demo scores one recording; the reference has file ids {file_ids}")
    file_id = file_ids[0]
    check_audio_covers(audio_info(audio), max(t.end for t in reference), file_id)  # the reference too
    diarization = None
    if hypothesis is None:
        diarization = run_diarizer(audio, file_id, diarize_config)
        hypothesis = diarization.turns
    file = open_input(audio, hypothesis)  # audio opened and turns merged once, for every refiner
    hypothesis = file.turns
    refinement = refiner.refine_input(file, progress)
    baselines = {}  # each classical refiner on the model's own front end
    for name in classical:
        baseline = Refiner(classical_like(name, refiner.checkpoint), device=refiner.device, match_shapes=False,
                           refine_edges=refiner.edge_refiner.config if refiner.edge_refiner else False,
                           precision=refiner.precision)
        baselines[name] = baseline.refine_input(file)
    versions = {HYPOTHESIS: hypothesis, **{name: r.turns for name, r in baselines.items()}, REFINED: refinement.turns}
    moves = {name: MoveCounts.of([r]) for name, r in {**baselines, REFINED: refinement}.items()}
    comparison = compare({file_id: list(reference)}, {name: {file_id: turns} for name, turns in versions.items()},
                         uem={file_id: list(uem)} if uem else None, moves=moves)
    out_dir = Path(out_dir)
    outputs = [out_dir / "hypothesis.rttm", out_dir / "refined.rttm", out_dir / "scores.json", out_dir / "timelines.png"]
    tracks = {"reference": list(reference), HYPOTHESIS: hypothesis, REFINED: refinement.turns}
    with OutputSet(dirs=[out_dir]) as staged:  # all four files or none
        write_rttm(hypothesis, staged.path(outputs[0]), [file_id])
        write_rttm(refinement.turns, staged.path(outputs[1]), [file_id])
        write_json(staged.path(outputs[2]), {"audio": str(audio), "model": refiner.model_name,
                                             "threshold": refiner.threshold, **comparison.to_dict(),
                                             "refinement": refinement.summary()})
        plot_timelines(tracks, staged.path(outputs[3]),
                       f"{file_id}: reference, {'diarize' if diarization else 'given'} hypothesis, "
                       f"refined ({refiner.model_name}, threshold {refiner.threshold:g}); lines: speaker changes",
                       marks_s={name: [c.time for c in find_changes(turns)] for name, turns in tracks.items()})
    return DemoResult(comparison, refinement, diarization, outputs)
