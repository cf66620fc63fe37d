"""The training cache: prepare -> HDF5 schema -> Dataset; config refusal, shards, workers, bad input."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf
from fixtures import speechlike, write

from diarefine.cli import main
from diarefine.data import (SCHEMA, PrepareConfig, WindowDataset, check_config, collate_windows, discover_corpus,
                            draw_windows, prepare_cache, read_config)
from diarefine.errors import DiarefineError, InputFileError, MismatchError
from diarefine.changes import find_changes
from diarefine.types import Turn

CONFIG = PrepareConfig(embeddings={"name": "dummy"}, error_model="gaussian-0.5", draws_per_change=3)


def _conversation(root: Path, file_id: str, seed: int, rate: int = 16_000, channels: int = 1) -> None:
    """Speakers A / B alternate every 3 s over 24 s; RTTM and audio written in the corpus layout."""
    parts = [speechlike(3.0, seed=seed + i, f0=110 if i % 2 == 0 else 230) for i in range(8)]
    audio = np.concatenate(parts)
    if rate != 16_000:
        from diarefine.audio import resample
        audio = resample(audio, 16_000, rate)
    if channels == 2:
        audio = np.stack([audio, audio], axis=1)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "rttm").mkdir(exist_ok=True)
    sf.write(root / "audio" / f"{file_id}.flac", audio, rate)
    write(root / "rttm" / f"{file_id}.rttm", "".join(
        f"SPEAKER {file_id} 1 {3 * i}.000 3.000 <NA> <NA> {'AB'[i % 2]} <NA> <NA>\n" for i in range(8)))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    _conversation(root, "c1", 0)
    _conversation(root, "c2", 10, rate=8_000, channels=2)  # resampled and mixed down, not refused
    _conversation(root, "c3", 20)
    return root


@pytest.fixture(scope="module")
def cache(corpus: Path, tmp_path_factory) -> Path:
    path, n = prepare_cache(discover_corpus(corpus), tmp_path_factory.mktemp("cache") / "train.h5", CONFIG)
    assert n > 0
    return path


def test_cache_holds_the_schema_and_every_window_of_every_change(cache: Path) -> None:
    config = read_config(cache)
    assert config["window"] == {"window_s": 4.0, "n_frames": 200, "sample_rate": 16_000}
    assert config["features"]["name"] == "fbank" and config["embeddings"] == {"name": "dummy", "dim": 256}
    with h5py.File(cache) as h5:
        assert h5.attrs["schema"] == SCHEMA and h5.attrs["complete"]
        assert h5["features"].dtype == np.float16 and h5["features"].shape[1:] == (200, 80)
        true_windows = int(np.sum(h5["source"][:] == 0))
        assert true_windows == 3 * 7 * 3  # 3 files x 7 changes x 3 draws
        assert [x.decode() for x in h5["file_ids"][:]] == ["c1", "c2", "c3"]
        has = h5["has_change"][:]
        off = h5["offset_s"][:]
        assert np.all(np.abs(off[has]) <= 2.0) and np.all(np.isnan(off[~has]))
        np.testing.assert_allclose(h5["initial_error_s"][has], -off[has])


def test_dataset_items_and_batches_have_the_documented_shapes(cache: Path) -> None:
    ds = WindowDataset(cache)
    batch = collate_windows([ds[i] for i in range(5)])
    assert batch["features"].shape == (5, 200, 80) and batch["features"].dtype.is_floating_point
    assert batch["mask"].shape == (5, 200) and batch["left_emb"].shape == (5, 256)
    assert batch["offset_s"].shape == (5,) and not batch["offset_s"].isnan().any()
    import torch

    loader = torch.utils.data.DataLoader(ds, batch_size=16, num_workers=2, collate_fn=collate_windows)
    assert sum(len(b["offset_s"]) for b in loader) == len(ds)


def test_batched_and_in_memory_reads_equal_item_reads(cache: Path) -> None:
    import torch

    lazy, memory = WindowDataset(cache), WindowDataset([cache, cache], in_memory=True)
    rows = [7, 2, 7, len(lazy) - 1, 0]
    expected = collate_windows([lazy[i] for i in rows])
    for got in (collate_windows(lazy.__getitems__(rows)), collate_windows(memory.__getitems__(rows)),
                collate_windows([memory[i + len(lazy)] for i in rows])):  # second shard = same windows
        assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert (memory.feature_dim, memory.embedding_dim, memory.n_frames) == (80, 256, 200)
    with pytest.raises(IndexError):
        lazy.__getitems__([len(lazy)])


def test_a_config_mismatch_is_refused_saying_what_differs(cache: Path) -> None:
    expected = read_config(cache)
    expected["features"] = {**expected["features"], "n_mels": 40}
    with pytest.raises(DiarefineError, match=r"features.n_mels: expected 40, found 80"):
        check_config(cache, expected)
    with pytest.raises(DiarefineError, match="features.n_mels"):
        WindowDataset(cache, expected=expected)


def test_an_incomplete_cache_is_refused(tmp_path: Path, cache: Path) -> None:
    broken = tmp_path / "broken.h5"
    broken.write_bytes(cache.read_bytes())
    with h5py.File(broken, "a") as h5:
        h5.attrs["complete"] = False
    with pytest.raises(InputFileError, match="incomplete"):
        read_config(broken)


def test_shards_partition_the_corpus_and_workers_do_not_change_the_cache(corpus: Path, cache: Path,
                                                                        tmp_path: Path) -> None:
    recordings = discover_corpus(corpus)
    parts = [prepare_cache(recordings, tmp_path / f"s{i}.h5", CONFIG, shard=(i, 2))[0] for i in range(2)]
    both = WindowDataset(parts)
    whole = WindowDataset(cache)
    assert len(both) == len(whole)
    assert sorted(both.column("center_s")) == pytest.approx(sorted(whole.column("center_s")))
    parallel, _ = prepare_cache(recordings, tmp_path / "par.h5", CONFIG, workers=2)
    np.testing.assert_array_equal(WindowDataset(parallel).column("features"), whole.column("features"))


def test_embeddings_from_perturbed_turns_differ_only_in_the_embeddings(corpus: Path, tmp_path: Path) -> None:
    recordings = discover_corpus(corpus)[:1]
    ref, _ = prepare_cache(recordings, tmp_path / "ref.h5", replace(CONFIG, embeddings={"name": "resemblyzer"}))
    hyp, _ = prepare_cache(recordings, tmp_path / "hyp.h5",
                           replace(CONFIG, embeddings={"name": "resemblyzer"}, embed_from="hypothesis"))
    a, b = WindowDataset(ref), WindowDataset(hyp)
    np.testing.assert_array_equal(a.column("offset_s"), b.column("offset_s"))
    assert not np.allclose(a.column("left_emb"), b.column("left_emb"))


def test_window_labels_follow_the_nearest_reference_change() -> None:
    turns = [Turn("f", 0, 5, "A"), Turn("f", 5, 6, "B"), Turn("f", 6, 20, "A")]
    changes = find_changes(turns)
    offsets = np.array([[0.2, 2.5], [-0.3, 0.0]])
    specs = draw_windows(changes, turns, 20.0, offsets, 0.0, np.random.default_rng(0))
    assert [s.change_index for s in specs] == [0, 1, 1, 1]  # 7.5 is 2.5 s from change 0: labelled change 1
    assert specs[1].offset_s == pytest.approx(6.0 - 7.5)
    with_false = draw_windows(changes, turns, 20.0, offsets, 0.5, np.random.default_rng(0))
    false = [s for s in with_false if s.source == 1]
    assert false and all(not s.has_change and abs(s.center_s - 5.5) > 2.0 for s in false)
    assert all(s.pause_s == 0 for s in false)


def test_windows_carry_the_pause_or_overlap_of_the_change_they_were_drawn_around() -> None:
    turns = [Turn("f", 0, 5, "A"), Turn("f", 5.4, 9, "B"), Turn("f", 8.5, 20, "A")]  # a 0.4 s pause, an overlap
    changes = find_changes(turns)
    specs = draw_windows(changes, turns, 20.0, np.array([[0.1], [-0.2]]), 0.0, np.random.default_rng(0))
    assert [s.pause_s for s in specs] == [pytest.approx(0.4), 0.0]
    assert [s.clean_overlap_s for s in specs] == [0.0, pytest.approx(0.5)]


def _run_prepare(corpus: Path, out: Path) -> int:
    return main(["prepare", "--corpus", str(corpus), "-o", str(out), "--embedder", "dummy", "--jobs", "1"])


@pytest.mark.parametrize("breakage, message", [
    ("no_audio", "no audio for file id"),
    ("short_audio", "audio lasts"),
    ("empty_rttm", "empty"),
    ("unreadable_audio", "cannot be read as audio"),
    ("bad_line", ":2:"),
])
def test_bad_corpus_input_is_a_clear_error_with_no_cache_left(tmp_path: Path, capsys, breakage: str,
                                                               message: str) -> None:
    root = tmp_path / "corpus"
    _conversation(root, "c1", 0)
    rttm, audio = root / "rttm" / "c1.rttm", root / "audio" / "c1.flac"
    if breakage == "no_audio":
        audio.unlink()
        sf.write(root / "audio" / "other.flac", np.zeros(16_000, np.float32), 16_000)
    elif breakage == "short_audio":
        sf.write(audio, np.zeros(16_000 * 5, np.float32), 16_000)
    elif breakage == "empty_rttm":
        write(rttm, "")
    elif breakage == "unreadable_audio":
        audio.write_bytes(b"garbage" * 100)
    else:
        write(rttm, rttm.read_text().replace("3.000 3.000", "3.000 x", 1))
    out = tmp_path / "cache.h5"
    assert _run_prepare(root, out) == 2
    err = capsys.readouterr().err
    assert message in err and ("c1" in err or "corpus" in err)
    assert not out.exists() and not list(tmp_path.glob("cache.h5*"))


def test_prepare_cli_and_config_typos(corpus: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "c.h5"
    assert _run_prepare(corpus, out) == 0 and "windows from 3 recordings" in capsys.readouterr().out
    cfg = write(tmp_path / "p.toml", "[prepare]\ndraws_per_chnage = 2\n")
    assert main(["prepare", "--corpus", str(corpus), "-o", str(tmp_path / "d.h5"), "--config", str(cfg)]) == 2
    assert "unknown key 'draws_per_chnage'" in capsys.readouterr().err
    with pytest.raises(MismatchError):
        from diarefine.data.corpus import match_recordings
        match_recordings({}, {"x": [Turn("x", 0, 1, "A")]}, None, "r.rttm")


def test_lhotse_manifests_give_the_same_recordings_as_the_folder(corpus: Path, tmp_path: Path) -> None:
    lhotse = pytest.importorskip("lhotse")
    from diarefine.data import from_lhotse

    folder = discover_corpus(corpus)
    recordings = lhotse.RecordingSet.from_recordings(
        lhotse.Recording.from_file(r.audio, recording_id=r.file_id) for r in folder)
    supervisions = lhotse.SupervisionSet.from_segments(
        lhotse.SupervisionSegment(f"{t.file_id}-{i}", t.file_id, t.start, t.duration, speaker=t.speaker)
        for r in folder for i, t in enumerate(r.turns))
    recordings.to_file(tmp_path / "recordings.jsonl.gz")
    supervisions.to_file(tmp_path / "supervisions.jsonl.gz")
    from_manifest = from_lhotse(tmp_path / "recordings.jsonl.gz", tmp_path / "supervisions.jsonl.gz")
    assert [(r.file_id, r.audio, r.turns) for r in from_manifest] == [(r.file_id, r.audio, r.turns) for r in folder]


def test_caches_of_one_recipe_with_other_draw_seeds_are_read_together(corpus: Path, cache: Path,
                                                                      tmp_path: Path) -> None:
    recordings = discover_corpus(corpus)[:1]
    more, _ = prepare_cache(recordings, tmp_path / "more.h5", replace(CONFIG, seed=CONFIG.seed + 1))
    both = WindowDataset([cache, more])  # more training data from the same recipe
    assert len(both) == len(WindowDataset(cache)) + len(WindowDataset(more))
    errors, _ = prepare_cache(recordings, tmp_path / "errors.h5", replace(CONFIG, error_model="pyannote-like"))
    pooled = WindowDataset([cache, errors])  # windows of two systems' errors on one front end
    assert [m["name"] for m in pooled.config["error_model"]] == [CONFIG.error_model, "pyannote-like"]
    other, _ = prepare_cache(recordings, tmp_path / "other.h5", replace(CONFIG, draws_per_change=1))
    with pytest.raises(DiarefineError, match=r"other.h5: built with other settings than .*train.h5 \(draws_per_change\)"):
        WindowDataset([cache, other])
