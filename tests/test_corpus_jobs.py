"""Corpus scale: ``diarize`` and ``refine`` over folders with worker processes and shards give the
same files as one process does, and every file lands in exactly one shard."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fixtures import tiny_contrastive_checkpoint

from diarefine.audio import load_audio
from diarefine.cli import main
from diarefine.errors import DiarefineError
from diarefine.rttm import format_rttm, read_rttm
from diarefine.samples import bundled_sample, jitter_changes
from diarefine.types import Turn
from diarefine.workers import map_files, parse_shard, same, take_shard

SAMPLE = bundled_sample()
FILE_IDS = ("a", "b", "c")


def test_shards_partition_the_files_whatever_their_order() -> None:
    ids = [f"f{i:02d}" for i in range(11)]
    shards = [take_shard(reversed(ids), (i, 3), key=str) for i in range(3)]
    assert sorted(x for s in shards for x in s) == ids and sum(map(len, shards)) == len(ids)
    assert take_shard(ids, None, key=str) == ids
    for bad in ("0/2", "3/2", "x", "1/2/3"):
        with pytest.raises(DiarefineError, match="--shard"):
            parse_shard(bad)


def _square(offset: int, x: int) -> int:
    return x * x + offset


def test_map_files_keeps_the_input_order_in_workers() -> None:
    items = list(range(7))
    assert list(map_files(_square, items, same, (1,), jobs=2, threads=1)) == [x * x + 1 for x in items]
    assert list(map_files(_square, items, same, (1,), jobs=1, threads=1)) == [x * x + 1 for x in items]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Three 20 s recordings cut from the sample at different offsets, and jittered reference hypotheses."""
    root = tmp_path_factory.mktemp("corpus")
    (root / "audio").mkdir()
    (root / "rttm").mkdir()
    audio = load_audio(SAMPLE.audio)
    reference = read_rttm(SAMPLE.rttm)["sample"]
    turns = []
    for k, fid in enumerate(FILE_IDS):
        start = 4.0 * k
        sf.write(root / "audio" / f"{fid}.wav", audio[int(start * 16000):int((start + 20) * 16000)], 16000)
        cut = [Turn(fid, max(0.0, t.start - start), min(20.0, t.end - start), t.speaker) for t in reference
               if t.end - start > 0.5 and t.start - start < 19.5]
        turns += jitter_changes(cut, seed=k)
    (root / "rttm" / "hyp.rttm").write_text(format_rttm(turns))
    return root


def _texts(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.glob("*.rttm"))}


def test_refine_gives_the_same_files_for_any_jobs_and_shards(corpus: Path, tmp_path: Path) -> None:
    model = tiny_contrastive_checkpoint(tmp_path / "tiny.pt")
    base = ["refine", "--audio-dir", str(corpus / "audio"), "--rttm-dir", str(corpus / "rttm"),
            "--model", str(model), "--threshold", "0", "--threads", "1"]
    assert main([*base, "-o", str(tmp_path / "one"), "--jobs", "1"]) == 0
    assert main([*base, "-o", str(tmp_path / "two"), "--jobs", "2"]) == 0
    for shard in ("1/2", "2/2"):
        assert main([*base, "-o", str(tmp_path / "sharded"), "--jobs", "2", "--shard", shard]) == 0
    one = _texts(tmp_path / "one")
    assert list(one) == [f"{fid}.rttm" for fid in FILE_IDS]
    assert _texts(tmp_path / "two") == one == _texts(tmp_path / "sharded")
    assert main([*base, "-o", str(tmp_path / "none"), "--shard", "5/4"]) == 2


def test_diarize_gives_the_same_files_for_any_jobs_and_shards(corpus: Path, tmp_path: Path) -> None:
    base = ["diarize", "--method", "segmentation", "--step", "5", "--threads", "1"]
    assert main([*base, "--audio-dir", str(corpus / "audio"), "-o", str(tmp_path / "one"), "--jobs", "1"]) == 0
    for shard in ("1/2", "2/2"):
        assert main([*base, "--audio-dir", str(corpus / "audio"), "-o", str(tmp_path / "sharded"), "--jobs", "2",
                     "--shard", shard]) == 0
    one = _texts(tmp_path / "one")
    assert list(one) == [f"{fid}.rttm" for fid in FILE_IDS] and one == _texts(tmp_path / "sharded")
    assert main([*base, str(corpus / "audio"), "-o", str(tmp_path / "all.rttm"), "--jobs", "2"]) == 0
    together = read_rttm(tmp_path / "all.rttm")
    assert {fid: [(t.start, t.end, t.speaker) for t in together[fid]] for fid in FILE_IDS} == \
        {fid: [(t.start, t.end, t.speaker) for t in read_rttm(tmp_path / "one" / f"{fid}.rttm")[fid]]
         for fid in FILE_IDS}
    assert all(len({t.speaker for t in turns}) >= 1 for turns in together.values())
    assert np.all([t.end > t.start for turns in together.values() for t in turns])
    # both kinds of input at once is an error, as is a shard with nothing in it
    assert main([*base, str(corpus / "audio"), "--audio-dir", str(corpus / "audio"), "-o", str(tmp_path / "x")]) == 2
    assert main([*base, "--audio-dir", str(corpus / "audio"), "-o", str(tmp_path / "y"), "--shard", "4/4"]) == 2
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
