"""pause-match and overlap-match: the template search on synthetic speaker-count posteriors, each
refiner end to end on the bundled sample with the shipped segmentation-3.0, and `refine` handing them
the changes of their shape."""

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


def count_with(start_s: float, end_s: float, inside: int, outside: int) -> torch.Tensor:
    """A speaker-count posterior [T', 3] across the window and its context: class ``outside`` (0
    nobody, 1 one speaker, 2 several) at 0.9 everywhere but ``inside`` at 0.9 in [start_s, end_s)
    (seconds from the window centre); 0.05 for the other classes."""
    t = (torch.arange(int(SPAN_S / FRAME_S)) + 0.5) * FRAME_S - SPAN_S / 2
    winner = torch.where((t >= start_s) & (t < end_s), inside, outside)
    return torch.nn.functional.one_hot(winner, 3).float() * 0.85 + 0.05


def test_pause_match_lays_the_hypothesis_pause_over_the_heard_one() -> None:
    model = MODELS.build({"name": "pause-match"})
    batch = {
        "seg_count": torch.stack([count_with(0.25, 0.45, 0, 1),    # heard 0.35 s later than the hypothesis
                                  count_with(-0.1, 0.1, 0, 1),     # already in place
                                  count_with(0.25, 0.45, 0, 1)]),  # no pause in the hypothesis
        "pause_s": torch.tensor([0.2, 0.2, 0.0]),
    }
    offset, score = model.predict_with_score(batch)
    assert offset[0].item() == pytest.approx(0.35, abs=0.011) and score[0] > 1.0
    assert offset[1].item() == pytest.approx(0.0, abs=1e-6) and score[1] == 0.0
    assert score[2] == float("-inf")
    _, confidence = model(batch)
    assert confidence[0] > 0.5 >= confidence[1] and confidence[2] == 0.0


def test_overlap_match_lays_the_hypothesis_overlap_over_the_heard_one() -> None:
    model = MODELS.build({"name": "overlap-match"})
    batch = {
        "seg_count": torch.stack([count_with(-0.6, -0.2, 2, 1),  # heard 0.4 s earlier than the hypothesis
                                  count_with(-0.2, 0.2, 2, 1),   # already in place
                                  count_with(-0.6, -0.2, 0, 1),  # a pause where the overlap should be: no overlap
                                  count_with(-0.6, -0.2, 2, 1)]),  # no overlap in the hypothesis
        "clean_overlap_s": torch.tensor([0.4, 0.4, 0.4, 0.0]),
    }
    offset, score = model.predict_with_score(batch)
    assert offset[0].item() == pytest.approx(-0.4, abs=0.011) and score[0] > 2.0
    assert offset[1].item() == pytest.approx(0.0, abs=1e-6) and score[1] == 0.0
    assert score[3] == float("-inf")
    _, confidence = model(batch)
    assert confidence[0] > 0.5 >= confidence[1] and confidence[2] <= 0.5 and confidence[3] == 0.0
    assert np.array_equal(model.applies(np.array([0.4, 0.01, 0.0])), [True, False, False])


@pytest.mark.parametrize("name, shape", [("pause-match", "pause_s"), ("overlap-match", "clean_overlap_s")])
def test_each_matcher_moves_a_misplaced_change_of_the_sample_back(name: str, shape: str) -> None:
    sample = bundled_sample()
    reference = read_rttm(sample.rttm)["sample"]
    change = next(c for c in find_changes(reference) if getattr(c, shape) > 0.25)  # 7.335 s pause, 10.8 s overlap
    hypothesis = move_changes(reference, [change], [change.time + 0.3]).turns
    result = Refiner(name, match_shapes=False).refine_file(sample.audio, hypothesis)  # this matcher alone
    i = min(range(result.n_changes), key=lambda k: abs(result.changes[k].time - change.time - 0.3))
    assert abs(result.applied_times_s[i] - change.time) < 0.1 and result.confidence[i] > 0.5
    untouched = [k for k, c in enumerate(result.changes) if getattr(c, shape) == 0]
    assert untouched and all(result.confidence[k] == 0 for k in untouched)
    assert np.all(np.abs(result.offset_s) <= 1.0 + 1e-6)


def test_the_refiner_hands_changes_with_a_pause_or_overlap_to_the_matchers(tmp_path) -> None:
    from fixtures import tiny_contrastive_checkpoint

    sample = bundled_sample()
    reference = read_rttm(sample.rttm)["sample"]
    changes = find_changes(reference)
    pause = next(c for c in changes if c.pause_s > 0.25)
    overlap = next(c for c in changes if c.clean_overlap_s > 0.25)
    hypothesis = move_changes(reference, [pause, overlap], [pause.time + 0.3, overlap.time + 0.3]).turns
    checkpoint = tiny_contrastive_checkpoint(tmp_path / "tiny.pt")
    result = Refiner(checkpoint, threshold=1.0).refine_file(sample.audio, hypothesis)  # the model moves nothing
    shaped = [c.pause_s > 0.02 or c.clean_overlap_s > 0.02 for c in result.changes]
    assert all(m <= s for m, s in zip(result.shape_matched, shaped))  # only changes with a pause / overlap ...
    assert result.n_shape_matched == result.summary()["shape_matched"] > 1
    assert all(result.confidence[result.shape_matched] > 0.5)  # ... that a matcher is sure of
    moved = [abs(a - c.time) > 1e-6 for a, c in zip(result.applied_times_s, result.changes)]
    assert moved == result.shape_matched.tolist()
    for change in (pause, overlap):
        i = min(range(result.n_changes), key=lambda k: abs(result.changes[k].time - change.time - 0.3))
        assert result.shape_matched[i] and abs(result.applied_times_s[i] - change.time) < 0.1
    unrouted = Refiner(checkpoint, threshold=1.0, match_shapes=False).refine_file(sample.audio, hypothesis)
    assert unrouted.n_moved == 0 and unrouted.n_shape_matched == 0


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
    report = evaluate(cache, [], classical=("pause-match", "overlap-match", "segmentation-snap"))
    rows = {row.label: row.overall for row in report.rows}
    assert list(rows) == ["no refinement", "pause-match", "overlap-match", "segmentation-snap"] and not report.skipped
    assert rows["pause-match"].errors.median_s < rows["no refinement"].errors.median_s
    for matcher in ("pause-match", "overlap-match"):  # a false change inside a turn has neither: left alone
        assert rows[matcher].no_change_moved == 0.0


def test_the_default_front_end_shares_its_segmentation_pass_with_the_matchers() -> None:
    sample = bundled_sample()
    reference = read_rttm(sample.rttm)["sample"]
    changes = find_changes(reference)
    hypothesis = move_changes(reference, changes, [c.time + 0.2 * (-1) ** i for i, c in enumerate(changes)]).turns
    shared = Refiner()
    assert shared.features_share_segmentation  # the default: segmentation-3.0 features on the same 10 s
    apart = Refiner()
    apart.features_share_segmentation = False  # a second pass for the matchers, as for any other front end
    a, b = (r.refine_file(sample.audio, hypothesis) for r in (shared, apart))
    assert np.array_equal(a.shape_matched, b.shape_matched) and a.n_shape_matched > 0
    np.testing.assert_allclose(a.offset_s, b.offset_s, atol=1e-5)
    np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)


def test_cli_refine_switches_the_matchers_and_reports_what_they_moved(tmp_path, capsys) -> None:
    import json

    from diarefine.cli import main
    from diarefine.rttm import format_rttm

    sample = bundled_sample()
    reference = read_rttm(sample.rttm)["sample"]
    changes = find_changes(reference)
    moved = [c for c in changes if c.pause_s > 0.25 or c.clean_overlap_s > 0.25][:2]
    hyp = tmp_path / "hyp.rttm"
    hyp.write_text(format_rttm(move_changes(reference, moved, [c.time + 0.3 for c in moved]).turns))
    base = ["refine", str(sample.audio), str(hyp), "-o", str(tmp_path / "out.rttm"), "--model", "bic",
            "--threshold", "1.0", "--json"]
    assert main(base + [str(tmp_path / "on.json")]) == 0  # bic moves nothing at 1.0: only the matchers do
    on = json.loads((tmp_path / "on.json").read_text())
    assert on["shape_threshold"] == 0.5 and on["files"][0]["shape_matched"] == on["files"][0]["moved"] >= 2
    assert "by pause-match / overlap-match" in " ".join(capsys.readouterr().out.split())  # the title wraps
    assert main(base + [str(tmp_path / "off.json"), "--no-match-shapes"]) == 0
    off = json.loads((tmp_path / "off.json").read_text())
    assert off["shape_threshold"] is None and off["files"][0]["moved"] == off["files"][0]["shape_matched"] == 0
    assert main(base + [str(tmp_path / "bad.json"), "--shape-threshold", "1.5"]) == 2
    assert "shape threshold 1.5 is outside [0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "bad.json").exists()
