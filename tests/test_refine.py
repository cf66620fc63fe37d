"""refine (library and CLI) on the bundled sample with a tiny random model: valid RTTMs out,
abstention, folder mode, streaming, bad inputs; and the shipped model."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fixtures import tiny_contrastive_checkpoint

from diarefine import refine
from diarefine.audio import audio_info, load_audio, read_window
from diarefine.changes import find_changes
from diarefine.cli import main
from diarefine.embeddings import EMBEDDERS, ProfileConfig
from diarefine.errors import DiarefineError, InputFileError
from diarefine.models import load_checkpoint
from diarefine.refine import Refiner
from diarefine.refine.regions import RegionAudio, change_regions, region_batches
from diarefine.refine.resolve import (
    DEFAULT_MODEL,
    SHIPPED_MODELS,
    default_front_end,
    resolve_model,
)
from diarefine.rttm import format_rttm, merge_turns, read_rttm, to_annotation
from diarefine.samples import bundled_sample, jitter_changes
from diarefine.types import Turn

SAMPLE = bundled_sample()


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return tiny_contrastive_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt")


@pytest.fixture(scope="module")
def hypothesis() -> list[Turn]:
    return jitter_changes(read_rttm(SAMPLE.rttm)["sample"], seed=3)


def assert_valid(refined: list[Turn], original: list[Turn]) -> None:
    assert {t.file_id for t in refined} == {t.file_id for t in original}
    assert {t.speaker for t in refined} == {t.speaker for t in original}
    assert all(t.end > t.start >= 0 for t in refined)
    for speaker in {t.speaker for t in refined}:  # a speaker's own turns never overlap or touch
        own = sorted((t for t in refined if t.speaker == speaker), key=lambda t: t.start)
        assert all(a.end < b.start for a, b in zip(own, own[1:]))
    assert len(find_changes(refined)) == len(find_changes(original))  # no change crossed a neighbour


def test_refine_moves_changes_and_keeps_a_valid_rttm(tiny_checkpoint: Path, hypothesis: list[Turn]) -> None:
    result = Refiner(tiny_checkpoint, threshold=0.0).refine_file(SAMPLE.audio, hypothesis)
    assert result.n_changes == len(find_changes(hypothesis)) > 0
    assert result.n_moved > 0 and result.n_kept == 0
    assert result.offset_s.shape == result.confidence.shape == (result.n_changes,)
    assert np.all(np.abs(result.offset_s) <= 2.0) and np.all((0 <= result.confidence) & (result.confidence <= 1))
    assert_valid(result.turns, hypothesis)
    assert read_rttm_text(format_rttm(result.turns)) == result.turns  # writes and reads back


def read_rttm_text(text: str) -> list[Turn]:
    from diarefine.rttm import parse_rttm

    return parse_rttm(text.splitlines())


def test_threshold_one_returns_the_input_unchanged(tiny_checkpoint: Path, hypothesis: list[Turn]) -> None:
    result = Refiner(tiny_checkpoint, threshold=1.0, match_shapes=False).refine_file(SAMPLE.audio, hypothesis)
    assert result.turns == sorted(hypothesis)
    assert result.n_moved == 0 and result.n_kept == result.n_changes


def test_refine_edges_moves_only_speech_edges_within_reach(tiny_checkpoint: Path, hypothesis: list[Turn]) -> None:
    result = Refiner(tiny_checkpoint, threshold=1.0, refine_edges=True, match_shapes=False).refine_file(
        SAMPLE.audio, hypothesis)
    assert result.n_moved == 0 and result.edges is not None and result.n_edges == len(result.edges.edges) > 0
    assert_valid(result.turns, hypothesis)
    moved = [(e.time, t) for e, t in zip(result.edges.edges, result.edges.applied_times_s) if t != e.time]
    assert len(moved) == result.n_edges_moved and all(abs(t - e) <= 0.5 for e, t in moved)
    starts_and_ends = {x for t in result.turns for x in (t.start, t.end)}
    assert all(t in starts_and_ends for _, t in moved)
    assert {"edges", "edges_moved"} <= set(result.summary())


def test_refine_api_accepts_turns_or_a_pyannote_annotation(tiny_checkpoint: Path, hypothesis: list[Turn]) -> None:
    turns = refine(SAMPLE.audio, hypothesis, model=tiny_checkpoint, threshold=0.0)
    annotation = refine(SAMPLE.audio, to_annotation(hypothesis, uri="sample"), model=tiny_checkpoint, threshold=0.0)
    assert annotation.uri == "sample"
    assert to_annotation(turns, uri="sample") == annotation


def test_streamed_speaker_embeddings_match_a_whole_file_load(hypothesis: list[Turn]) -> None:
    embedder = EMBEDDERS.build({"name": "resemblyzer"})
    whole = embedder.speaker_chunks(load_audio(SAMPLE.audio), hypothesis, ProfileConfig())
    streamed = embedder.speaker_chunks_from_file(audio_info(SAMPLE.audio), hypothesis, ProfileConfig(), block_s=600)
    blocks = embedder.speaker_chunks_from_file(audio_info(SAMPLE.audio), hypothesis, ProfileConfig(), block_s=10)
    for speaker in whole:
        np.testing.assert_allclose(streamed[speaker].embeddings, whole[speaker].embeddings, atol=1e-5)
        np.testing.assert_array_equal(blocks[speaker].spans, whole[speaker].spans)
        cosine = np.sum(blocks[speaker].embeddings * whole[speaker].embeddings, axis=1)
        assert cosine.min() > 0.9  # 10 s blocks: only the level normalisation differs


def test_refine_reads_other_rates_and_channels(tiny_checkpoint: Path, hypothesis: list[Turn], tmp_path: Path) -> None:
    from scipy.signal import resample_poly

    mono = load_audio(SAMPLE.audio)
    stereo = np.stack([resample_poly(mono, 441, 160)] * 2, axis=1).astype(np.float32)
    sf.write(tmp_path / "sample.wav", stereo, 44_100)
    refiner = Refiner(tiny_checkpoint, threshold=0.0)
    a = refiner.refine_file(SAMPLE.audio, hypothesis)
    b = refiner.refine_file(tmp_path / "sample.wav", hypothesis)
    np.testing.assert_allclose(a.offset_s, b.offset_s, atol=0.1)


def test_audio_shorter_than_the_rttm_is_refused(tiny_checkpoint: Path, hypothesis: list[Turn], tmp_path: Path) -> None:
    sf.write(tmp_path / "short.wav", load_audio(SAMPLE.audio)[:16_000 * 20], 16_000)
    with pytest.raises(InputFileError, match=r"short.wav: audio lasts 20.00 s .* speech until 30.00 s"):
        Refiner(tiny_checkpoint).refine_file(tmp_path / "short.wav", hypothesis)


def test_bad_model_names_and_thresholds(tmp_path: Path) -> None:
    with pytest.raises(DiarefineError, match="unknown model 'nope'.*contrastive-librisim"):
        Refiner("nope")
    with pytest.raises(InputFileError, match="no such checkpoint file"):
        Refiner(tmp_path / "missing.pt")
    with pytest.raises(DiarefineError, match="outside"):
        Refiner(threshold=1.5)


def test_the_shipped_models_load_with_their_cards_and_tuned_thresholds() -> None:
    for shipped in SHIPPED_MODELS.values():
        assert shipped.path.is_file() and shipped.path.stat().st_size < 5_000_000
        card = shipped.card.read_text(encoding="utf-8")
        assert "diarefine train" in card and "Dev metrics" in card
    default = load_checkpoint(resolve_model().path)
    assert default.model.name == "contrastive" and default.features["name"] == "pyannote-seg"
    assert default.embeddings["name"] == "campplus" and DEFAULT_MODEL == "contrastive-seg"
    assert load_checkpoint(resolve_model("contrastive-librisim").path).features["name"] == "fbank"  # still by name
    assert Refiner().threshold == SHIPPED_MODELS[DEFAULT_MODEL].threshold
    # by name, a shipped model's profile settings replace its checkpoint's; loaded from the file, they do not
    assert Refiner().profile.hop_s == SHIPPED_MODELS[DEFAULT_MODEL].profile["hop_s"] == 1.6
    assert Refiner().profile.max_speech_s == SHIPPED_MODELS[DEFAULT_MODEL].profile["max_speech_s"] == 8.0
    assert Refiner().profile.length_step_s == SHIPPED_MODELS[DEFAULT_MODEL].profile["length_step_s"] == 0.1
    from_file = Refiner(load_checkpoint(resolve_model().path)).profile
    assert (from_file.hop_s, from_file.max_speech_s) == (0.8, 0.0)
    assert Refiner(profile={"max_speech_s": 0.0}).profile.max_speech_s == 0.0  # the caller's last
    with pytest.raises(DiarefineError, match="max_speach_s"):
        Refiner(profile={"max_speach_s": 1.0})


def test_diarefine_refine_is_callable_whatever_was_imported(tiny_checkpoint: Path, hypothesis: list[Turn]) -> None:
    import diarefine
    import diarefine.refine.pipeline as pipeline
    from diarefine.refinement import Refiner as OldName

    assert callable(diarefine.refine) and diarefine.refine.Refiner is pipeline.Refiner is Refiner is OldName
    assert diarefine.refine(SAMPLE.audio, hypothesis, model=tiny_checkpoint, threshold=1.0,
                            match_shapes=False) == sorted(hypothesis)


def test_a_classical_refiner_runs_on_the_default_front_end_without_the_shipped_model() -> None:
    refiner = Refiner("silence-snap")
    assert refiner.checkpoint.path is None and refiner.model.name == "silence-snap"
    assert refiner.checkpoint.front_end == default_front_end()
    shipped = load_checkpoint(resolve_model("contrastive-librisim").path)  # the same front end: rows did not change
    assert {k: shipped.front_end[k] for k in ("window", "features", "embeddings")} == \
        {k: default_front_end()[k] for k in ("window", "features", "embeddings")}


def test_a_file_is_opened_once_and_its_turns_merged_once(tiny_checkpoint: Path, hypothesis: list[Turn],
                                                        tmp_path: Path, monkeypatch) -> None:
    import diarefine.refine.files as files

    opened = []
    monkeypatch.setattr(files, "audio_info", lambda path: opened.append(path) or audio_info(path))
    file = files.open_input(SAMPLE.audio, hypothesis)
    assert merge_turns(file.turns) is file.turns  # merged: merging again costs nothing
    Refiner(tiny_checkpoint, threshold=0.0, refine_edges=True).refine_input(file)
    hyp = tmp_path / "hyp.rttm"
    hyp.write_text(format_rttm(hypothesis))
    assert main(["refine", str(SAMPLE.audio), str(hyp), "-o", str(tmp_path / "out.rttm"),
                 "--model", str(tiny_checkpoint), "--refine-edges"]) == 0
    assert len(opened) == 2  # once by open_input above, once by the CLI


# --- CLI ---------------------------------------------------------------------------------------------


def test_cli_refine_one_file(tiny_checkpoint: Path, hypothesis: list[Turn], tmp_path: Path, capsys) -> None:
    hyp = tmp_path / "hyp.rttm"
    hyp.write_text(format_rttm(hypothesis))
    out = tmp_path / "out" / "refined.rttm"
    assert main(["refine", str(SAMPLE.audio), str(hyp), "-o", str(out), "--model", str(tiny_checkpoint),
                 "--threshold", "0", "--json", str(tmp_path / "summary.json")]) == 0
    assert_valid(read_rttm(out)["sample"], hypothesis)
    printed = capsys.readouterr().out
    assert "moved" in printed and "clamped" in printed and "RTF" in printed
    assert json.loads((tmp_path / "summary.json").read_text())["precision"] == "float32"
    assert main(["refine", str(SAMPLE.audio), str(hyp), "-o", str(out), "--model", str(tiny_checkpoint),
                 "--refine-edges", "--region-span", "4"]) == 0
    assert "edges moved" in capsys.readouterr().out
    assert_valid(read_rttm(out)["sample"], hypothesis)
    assert main(["refine", str(SAMPLE.audio), str(hyp), "-o", str(out), "--model", str(tiny_checkpoint),
                 "--precision", "bfloat16"]) == 0
    assert_valid(read_rttm(out)["sample"], hypothesis)


def test_cli_refine_takes_audio_and_rttm_options_as_adapt_does(tiny_checkpoint: Path, hypothesis: list[Turn],
                                                               tmp_path: Path, capsys) -> None:
    hyp = tmp_path / "hyp.rttm"
    hyp.write_text(format_rttm(hypothesis))
    by_position, by_option = tmp_path / "positional.rttm", tmp_path / "options.rttm"
    common = ["--model", str(tiny_checkpoint), "--threshold", "0"]
    assert main(["refine", str(SAMPLE.audio), str(hyp), "-o", str(by_position), *common]) == 0
    assert main(["refine", "--audio", str(SAMPLE.audio), "--rttm", str(hyp), "-o", str(by_option), *common]) == 0
    assert by_option.read_text() == by_position.read_text()
    capsys.readouterr()
    assert main(["refine", str(SAMPLE.audio), str(hyp), "--audio", str(SAMPLE.audio), "-o", str(tmp_path / "x.rttm"),
                 *common]) == 2
    assert "given twice" in capsys.readouterr().err and not (tmp_path / "x.rttm").exists()


def test_cli_options_are_never_abbreviated(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:  # not "--audio-dir": a folder that is really a file
        main(["diarize", "--audio", str(SAMPLE.audio), "-o", str(tmp_path / "out.rttm")])
    assert exit_.value.code == 2 and "unrecognized arguments: --audio" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--verb", "demo"])


def test_cli_refine_folder_mode(tiny_checkpoint: Path, hypothesis: list[Turn], tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    (tmp_path / "rttm").mkdir()
    for fid in ("a", "b"):
        shutil.copy(SAMPLE.audio, tmp_path / "audio" / f"{fid}.wav")
    text = format_rttm([Turn(fid, t.start, t.end, t.speaker) for fid in ("a", "b") for t in hypothesis])
    (tmp_path / "rttm" / "all.rttm").write_text(text)
    assert main(["refine", "--audio-dir", str(tmp_path / "audio"), "--rttm-dir", str(tmp_path / "rttm"),
                 "-o", str(tmp_path / "out"), "--model", str(tiny_checkpoint), "--threshold", "0"]) == 0
    a, b = read_rttm(tmp_path / "out" / "a.rttm")["a"], read_rttm(tmp_path / "out" / "b.rttm")["b"]
    assert [(t.start, t.end, t.speaker) for t in a] == [(t.start, t.end, t.speaker) for t in b]


@pytest.mark.parametrize("case, message", [
    ("no_audio_for_id", "no audio in .* for file id\\(s\\) ghost"),
    ("short_audio", "audio lasts 10.00 s"),
    ("unknown_model", "unknown model 'best-model-ever'"),
    ("malformed_rttm", "hyp.rttm:1: "),
    ("missing_audio", "missing.wav: audio file not found"),
    ("negative_region_span", "region_span_s >= 0"),
])
def test_cli_refine_bad_input_exits_2_without_output(case: str, message: str, tiny_checkpoint: Path,
                                                     hypothesis: list[Turn], tmp_path: Path, capsys) -> None:
    hyp = tmp_path / "hyp.rttm"
    hyp.write_text(format_rttm(hypothesis))
    out = tmp_path / "out.rttm"
    args = ["refine", str(SAMPLE.audio), str(hyp), "-o", str(out), "--model", str(tiny_checkpoint)]
    if case == "no_audio_for_id":
        (tmp_path / "audio").mkdir()
        (tmp_path / "rttm").mkdir()
        shutil.copy(SAMPLE.audio, tmp_path / "audio" / "sample.wav")
        (tmp_path / "rttm" / "h.rttm").write_text(format_rttm(hypothesis) + "SPEAKER ghost 1 0 1 <NA> <NA> A <NA> <NA>\n")
        out = tmp_path / "outdir"
        args = ["refine", "--audio-dir", str(tmp_path / "audio"), "--rttm-dir", str(tmp_path / "rttm"), "-o", str(out),
                "--model", str(tiny_checkpoint)]
    elif case == "short_audio":
        sf.write(tmp_path / "sample.wav", load_audio(SAMPLE.audio)[:160_000], 16_000)
        args[1] = str(tmp_path / "sample.wav")
    elif case == "unknown_model":
        args[-1] = "best-model-ever"
    elif case == "malformed_rttm":
        hyp.write_text("SPEAKER sample 1 zero 1.0 <NA> <NA> A <NA> <NA>\n")
    elif case == "missing_audio":
        args[1] = str(tmp_path / "missing.wav")
    elif case == "negative_region_span":
        args += ["--region-span", "-2"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("diarefine: error:") and re.search(message, err), err
    assert not out.exists()
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".*out*"))


def test_relative_change_from_a_perfect_hypothesis_is_defined() -> None:
    from diarefine.refine.compare import compare

    reference = {"sample": read_rttm(SAMPLE.rttm)["sample"]}
    worse = {"sample": jitter_changes(reference["sample"], seed=2)}
    comparison = compare(reference, {"hypothesis": reference, "same": reference, "worse": worse}, None, jobs=1)
    assert comparison.relative_change("hypothesis", "same") == 0.0
    assert comparison.relative_change("hypothesis", "worse") == float("inf")
    assert comparison.relative_change("worse", "hypothesis") == -1.0


def test_change_regions_hold_every_window_with_its_context() -> None:
    rng = np.random.default_rng(0)
    times = np.sort(rng.uniform(0, 120, 60)).tolist()
    for max_span_s in (0.0, 2.0, 4.0, 10.0):
        regions = change_regions(times, 4.0, 3.0, max_span_s)
        assert [r.first for r in regions] == [0] + [r.stop for r in regions[:-1]] and regions[-1].stop == len(times)
        for r in regions:
            own = times[r.first:r.stop]
            assert own[-1] - own[0] <= max_span_s
            assert r.start_s <= own[0] - 5.0 and own[-1] + 5.0 <= r.start_s + r.duration_s + 1e-9
            assert (r.duration_s - 10.0) % 1.0 < 1e-9 or (r.duration_s - 10.0) % 1.0 > 1 - 1e-9  # whole seconds
        if max_span_s == 0:
            assert len(regions) == len(times)
    batches = region_batches(change_regions(times, 4.0, 3.0, 4.0), 8)
    assert [r for b in batches for r in b] == change_regions(times, 4.0, 3.0, 4.0)
    assert all(b[-1].stop - b[0].first <= 8 or len(b) == 1 for b in batches)


def test_bfloat16_front_ends_predict_as_float32_does(hypothesis: list[Turn]) -> None:
    """``precision="bfloat16"`` runs segmentation-3.0 (after its sinc stage) and CAM++ under CPU autocast: the
    same changes, float32 outputs, and predictions near float32's."""
    f32, bf16 = (Refiner(threshold=0.0, precision=p).refine_file(SAMPLE.audio, hypothesis)
                 for p in ("float32", "bfloat16"))
    assert len(f32.changes) == len(bf16.changes) > 0 and bf16.offset_s.dtype == np.float32
    np.testing.assert_allclose(bf16.confidence, f32.confidence, atol=0.1)
    assert np.median(np.abs(bf16.offset_s - f32.offset_s)) < 0.02
    other = Refiner("contrastive-librisim", precision="bfloat16").refine_file(SAMPLE.audio, hypothesis)  # resemblyzer
    assert len(other.changes) == len(f32.changes) and np.isfinite(other.confidence).all()
    with pytest.raises(DiarefineError, match="precision must be one of"):
        Refiner(precision="float16")


@pytest.mark.parametrize("max_span_s, align", [(6.0, 1), (6.0, 10), (0.0, 10)])
def test_a_region_reads_each_change_as_its_own_window_would(hypothesis: list[Turn], max_span_s: float,
                                                           align: int) -> None:
    info = audio_info(SAMPLE.audio)
    times = [c.time for c in find_changes(hypothesis)]
    regions = change_regions(times, 4.0, 3.0, max_span_s)
    assert (len(regions) < len(times)) == (max_span_s > 0)  # some share
    audio = RegionAudio.read(info, regions, times, 4.0, 3.0, align)
    waves, valid = audio.windows()
    for t, wave, ok in zip(times, waves, valid):
        own, own_ok = read_window(info, t - 5.0, 10.0)
        np.testing.assert_allclose(wave, own, atol=1e-6)
        assert (ok == own_ok).all()
    # the network's audio: each region's, from a sample on the align grid; overlapping ones merged in stretches
    assert (audio.start % align == 0).all() and (audio.start <= [round(r.start_s * 16_000) for r in regions]).all()
    everything = np.arange(len(regions))
    stretches = list(audio.stretches(everything, trim_s=1.0))
    assert sum(len(starts) for _, starts in stretches) == len(regions) and len(stretches) < len(regions)
    first = 0  # the stretch's first region
    for stretch, starts in stretches:
        assert starts[0] == 0 and (starts % align == 0).all()
        from_file, _ = read_window(info, (audio.start[first] + 16_000) / 16_000, len(stretch) / 16_000)
        np.testing.assert_allclose(stretch, from_file, atol=1e-6)
        first += len(starts)


def test_shared_regions_do_not_depend_on_the_batch_size(hypothesis: list[Turn]) -> None:
    """segmentation-3.0 runs once per region; batches never split one, so the batch size changes nothing."""
    results = [Refiner("silence-snap", region_span_s=span, batch_size=batch).refine_file(SAMPLE.audio, hypothesis)
               for span, batch in ((4.0, 1), (4.0, 64), (0.0, 64))]
    np.testing.assert_allclose(results[0].confidence, results[1].confidence, atol=1e-4)
    np.testing.assert_allclose(results[0].offset_s, results[1].offset_s, atol=1e-3)
    assert results[0].n_shape_matched > 0 and results[2].n_shape_matched > 0


def test_regions_change_nothing_for_a_front_end_without_context(tiny_checkpoint: Path, hypothesis: list[Turn]) -> None:
    """fbank features are per window: sharing a region's read gives the same predictions."""
    alone, shared = (Refiner(tiny_checkpoint, threshold=0.0, match_shapes=False, region_span_s=span).refine_file(
        SAMPLE.audio, hypothesis) for span in (0.0, 8.0))
    np.testing.assert_allclose(alone.offset_s, shared.offset_s, atol=1e-5)
    assert alone.turns == shared.turns
    with pytest.raises(DiarefineError, match="region_span_s"):
        Refiner(tiny_checkpoint, region_span_s=-1)
