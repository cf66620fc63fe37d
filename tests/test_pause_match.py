"""pause-match: the template search on a synthetic speech posterior, and the refiner end to end on the
bundled sample with the shipped segmentation-3.0."""

import numpy as np
import pytest
import torch

from diarefine.changes import find_changes, move_changes
from diarefine.models import MODELS
from diarefine.refine.pipeline import Refiner
from diarefine.rttm import read_rttm
from diarefine.samples import bundled_sample
from diarefine.units import FRAME_S

SPAN_S = 10.0  # the 4 s window and 3 s of context on each side


def speech_with_pause(start_s: float, end_s: float) -> torch.Tensor:
    """P(speech) [T'] across the window and its context: 0.95 everywhere but 0.05 in [start_s, end_s)
    (seconds from the window centre)."""
    t = (torch.arange(int(SPAN_S / FRAME_S)) + 0.5) * FRAME_S - SPAN_S / 2
    return torch.where((t >= start_s) & (t < end_s), 0.05, 0.95)


def test_pause_match_lays_the_hypothesis_pause_over_the_heard_one() -> None:
    model = MODELS.build({"name": "pause-match"})
    batch = {
        "seg_speech": torch.stack([speech_with_pause(0.25, 0.45),    # heard 0.35 s later than the hypothesis
                                   speech_with_pause(-0.1, 0.1),     # already in place
                                   speech_with_pause(0.25, 0.45)]),  # no pause in the hypothesis
        "pause_s": torch.tensor([0.2, 0.2, 0.0]),
    }
    offset, score = model.predict_with_score(batch)
    assert offset[0].item() == pytest.approx(0.35, abs=0.011) and score[0] > 1.0
    assert offset[1].item() == pytest.approx(0.0, abs=1e-6) and score[1] == 0.0
    assert score[2] == float("-inf")
    _, confidence = model(batch)
    assert confidence[0] > 0.5 >= confidence[1] and confidence[2] == 0.0


def test_pause_match_moves_a_misplaced_change_of_the_sample_back() -> None:
    sample = bundled_sample()
    reference = read_rttm(sample.rttm)["sample"]
    change = next(c for c in find_changes(reference) if c.pause_s > 0.25)  # 7.335 s, a 0.43 s pause
    hypothesis = move_changes(reference, [change], [change.time + 0.3]).turns
    result = Refiner("pause-match").refine_file(sample.audio, hypothesis)
    i = min(range(result.n_changes), key=lambda k: abs(result.changes[k].time - change.time - 0.3))
    assert abs(result.applied_times_s[i] - change.time) < 0.1
    untouched = [k for k, c in enumerate(result.changes) if c.pause_s == 0]
    assert untouched and all(result.confidence[k] == 0 for k in untouched)
    assert np.all(np.abs(result.offset_s) <= 1.0 + 1e-6)


def test_the_refiner_hands_changes_with_a_pause_to_pause_match(tmp_path) -> None:
    from fixtures import tiny_contrastive_checkpoint

    sample = bundled_sample()
    reference = read_rttm(sample.rttm)["sample"]
    change = next(c for c in find_changes(reference) if c.pause_s > 0.25)
    hypothesis = move_changes(reference, [change], [change.time + 0.3]).turns
    checkpoint = tiny_contrastive_checkpoint(tmp_path / "tiny.pt")
    result = Refiner(checkpoint, threshold=1.0).refine_file(sample.audio, hypothesis)  # the model moves nothing
    with_pause = [c.pause_s > 0.02 for c in result.changes]
    assert all(p <= w for p, w in zip(result.pause_matched, with_pause))  # only changes with a pause ...
    assert result.n_pauses == result.summary()["pause_matched"] > 0
    assert all(result.confidence[result.pause_matched] > 0.5)  # ... that pause-match is sure of
    moved = [abs(a - c.time) > 1e-6 for a, c in zip(result.applied_times_s, result.changes)]
    assert moved == result.pause_matched.tolist()
    i = min(range(result.n_changes), key=lambda k: abs(result.changes[k].time - change.time - 0.3))
    assert result.pause_matched[i] and abs(result.applied_times_s[i] - change.time) < 0.1
    unrouted = Refiner(checkpoint, threshold=1.0, match_pauses=False).refine_file(sample.audio, hypothesis)
    assert unrouted.n_moved == 0 and unrouted.n_pauses == 0


def test_evaluate_runs_the_segmentation_refiners_on_a_cache_of_the_sample(tmp_path) -> None:
    import shutil

    from diarefine.cli import main
    from diarefine.evaluation import evaluate

    sample = bundled_sample()
    for kind, source in (("audio", sample.audio), ("rttm", sample.rttm)):
        (tmp_path / "corpus" / kind).mkdir(parents=True)
        shutil.copy(source, tmp_path / "corpus" / kind / f"sample{source.suffix}")
    cache = tmp_path / "sample.h5"
    assert main(["prepare", "--corpus", str(tmp_path / "corpus"), "-o", str(cache), "--embedder", "dummy",
                 "--jobs", "1"]) == 0
    report = evaluate(cache, [], classical=("pause-match", "segmentation-snap"))
    rows = {row.label: row.overall for row in report.rows}
    assert list(rows) == ["no refinement", "pause-match", "segmentation-snap"] and not report.skipped
    assert rows["pause-match"].errors.median_s < rows["no refinement"].errors.median_s
    assert rows["pause-match"].no_change_moved == 0.0  # a false change inside a turn has no pause: left alone
