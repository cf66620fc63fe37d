"""DER: equal to pyannote.metrics called directly, hand-computed cases, pooling over files."""

from __future__ import annotations

import warnings

import pytest
from pyannote.core import Segment, Timeline
from pyannote.metrics.diarization import DiarizationErrorRate

from diarefine.errors import MismatchError
from diarefine.metrics.der import MDEVAL, corpus_der, file_der
from diarefine.metrics.scoring import pair_files, score_set
from diarefine.rttm import to_annotation
from diarefine.types import Region, Turn

REF = [Turn("f", 0.0, 4.0, "A"), Turn("f", 3.5, 9.0, "B"), Turn("f", 10.0, 14.0, "A"), Turn("f", 14.2, 20.0, "C")]
HYP = [Turn("f", 0.3, 4.4, "s1"), Turn("f", 4.4, 9.5, "s2"), Turn("f", 9.8, 15.0, "s1"), Turn("f", 15.0, 19.0, "s3"),
       Turn("f", 19.0, 21.0, "s2")]


@pytest.mark.parametrize("collar", [0.0, 0.5])
@pytest.mark.parametrize("uem", [None, [Region("f", 1.0, 18.0)]])
def test_equals_pyannote_metrics_called_directly(collar, uem) -> None:
    ours = file_der(REF, HYP, uem, collar_s=collar)
    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyannote warns when it approximates the UEM
        detail = metric(to_annotation(REF), to_annotation(HYP),
                        uem=None if uem is None else Timeline([Segment(1.0, 18.0)]), detailed=True)
    assert ours.der == pytest.approx(detail["diarization error rate"], abs=1e-12)
    assert ours.missed_s == pytest.approx(detail["missed detection"], abs=1e-9)
    assert ours.false_alarm_s == pytest.approx(detail["false alarm"], abs=1e-9)
    assert ours.confusion_s == pytest.approx(detail["confusion"], abs=1e-9)
    assert ours.total_s == pytest.approx(detail["total"], abs=1e-9)


def test_hand_computed_der() -> None:
    ref = [Turn("f", 0, 10, "A"), Turn("f", 10, 20, "B")]
    # s1 covers A and 2 s of B (confusion 2), s2 covers B's rest, plus 1 s false alarm; 1 s of A missed.
    hyp = [Turn("f", 1, 12, "s1"), Turn("f", 12, 21, "s2")]
    d = file_der(ref, hyp, [Region("f", 0, 21)])
    assert (d.total_s, d.missed_s, d.false_alarm_s, d.confusion_s) == pytest.approx((20, 1, 1, 2))
    assert d.der == pytest.approx(0.2)


def test_pooling_is_total_time_weighted() -> None:
    ref = {"short": [Turn("short", 0, 2, "A")], "long": [Turn("long", 0, 18, "A")]}
    hyp = {"short": [Turn("short", 0, 1, "x")], "long": [Turn("long", 0, 18, "x")]}
    result = corpus_der(ref, hyp)
    assert result.per_file["short"].der == pytest.approx(0.5)
    assert result.per_file["long"].der == pytest.approx(0.0)
    assert result.total.der == pytest.approx(1 / 20)  # not the mean of files (0.25)
    assert corpus_der(ref, hyp, convention=MDEVAL).convention == MDEVAL
    with pytest.raises(ValueError, match="unknown DER convention"):
        corpus_der(ref, hyp, convention="collar 3")


def test_pairing_refuses_missing_files_unless_allowed() -> None:
    ref = {"a": REF, "b": REF}
    hyp = {"a": HYP, "z": HYP}
    with pytest.raises(MismatchError, match="--allow-missing"):
        pair_files(ref, hyp)
    pairing = pair_files(ref, hyp, allow_missing=True)
    assert (pairing.file_ids, pairing.missing_hypothesis, pairing.ignored_hypothesis) == (["a", "b"], ["b"], ["z"])
    with pytest.raises(MismatchError, match="have no UEM"):
        pair_files(ref, {"a": HYP, "b": HYP}, uem={"a": [Region("a", 0, 30)]})


def test_score_set_is_the_same_in_parallel() -> None:
    ref = {f"f{i}": [Turn(f"f{i}", t.start + i, t.end + i, t.speaker) for t in REF] for i in range(4)}
    hyp = {f"f{i}": [Turn(f"f{i}", t.start + i, t.end + i, t.speaker) for t in HYP] for i in range(4)}
    serial = score_set(ref, hyp, jobs=1)
    parallel = score_set(ref, hyp, jobs=2)
    assert serial.to_dict() == parallel.to_dict()
    assert serial.der["collar 0"].total.der == pytest.approx(file_der(REF, HYP).der)
    assert serial.boundary.n_ref == 4 * 3
