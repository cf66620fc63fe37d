"""Corpus discovery: recordings (audio + reference turns + optional UEM) matched by file id.

Layouts accepted for ``--corpus DIR``: ``DIR/audio`` (or ``wav``) + ``DIR/rttm`` (+ ``DIR/uem``),
as ``diarefine simulate`` writes; or one folder holding audio files and ``*.rttm`` side by
side. A lhotse ``RecordingSet`` / ``SupervisionSet`` manifest pair is read with `from_lhotse`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..audio import audio_info, check_audio_covers
from ..errors import DiarefineError, InputFileError
from ..refine.files import audio_by_id, audio_for
from ..rttm import load_rttms, load_uems
from ..types import Region, Turn


@dataclass(frozen=True)
class Recording:
    """One recording of a corpus: audio path, its reference turns and scored regions (may be empty)."""

    file_id: str
    audio: Path
    turns: tuple[Turn, ...]
    uem: tuple[Region, ...] = ()


def check_recordings(recordings: Sequence[Recording]) -> None:
    """Refuse audio that is missing, unreadable, or shorter than its RTTM says (names the file)."""
    for rec in recordings:
        check_audio_covers(audio_info(rec.audio), max((t.end for t in rec.turns), default=0.0), rec.file_id)


def match_recordings(audio: Mapping[str, Path], turns: Mapping[str, Sequence[Turn]],
                     uem: Mapping[str, Sequence[Region]] | None, rttm_source: str) -> list[Recording]:
    """Pair audio and turns by file id (`refine.files.audio_for`: an RTTM file id without audio is an error)."""
    paths = audio_for(list(turns), audio, rttm_source)
    uem = uem or {}
    return [Recording(fid, path, tuple(turns[fid]), tuple(uem.get(fid, ()))) for fid, path in paths.items()]


def discover_corpus(root: str | Path) -> list[Recording]:
    """The recordings of a corpus folder (see the module docstring), checked."""
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "corpus folder not found")
    audio_dir = next((root / d for d in ("audio", "wav") if (root / d).is_dir()), root)
    rttm_dir = root / "rttm" if (root / "rttm").is_dir() else root
    if not list(rttm_dir.glob("*.rttm")):
        raise InputFileError(rttm_dir, "no *.rttm files: expected DIR/rttm/*.rttm (+ DIR/audio/) or both side by side")
    uem_dir = root / "uem"
    uem = load_uems(uem_dir) if uem_dir.is_dir() and list(uem_dir.glob("*.uem")) else None
    recordings = match_recordings(audio_by_id(audio_dir), load_rttms(rttm_dir), uem, str(rttm_dir))
    check_recordings(recordings)
    return recordings


def from_lhotse(recordings_manifest: str | Path, supervisions_manifest: str | Path) -> list[Recording]:
    """Recordings from a lhotse manifest pair (needs ``pip install lhotse``); one audio file per recording."""
    try:
        from lhotse import RecordingSet, SupervisionSet
    except ImportError:
        raise DiarefineError("reading lhotse manifests needs lhotse: pip install 'diarefine[lhotse]'") from None
    recs = RecordingSet.from_file(str(recordings_manifest))
    sups = SupervisionSet.from_file(str(supervisions_manifest))
    audio, turns = {}, {}
    for rec in recs:
        files = [s for s in rec.sources if s.type == "file"]
        if len(files) != 1:
            raise InputFileError(recordings_manifest, f"recording {rec.id!r} needs exactly one file source")
        audio[rec.id] = Path(files[0].source)
    for sup in sups:
        if sup.speaker is None:
            raise InputFileError(supervisions_manifest, f"supervision {sup.id!r} has no speaker")
        turns.setdefault(sup.recording_id, []).append(
            Turn(sup.recording_id, sup.start, sup.start + sup.duration, sup.speaker))  # Turn quantizes
    recordings = match_recordings(audio, turns, None, str(supervisions_manifest))
    check_recordings(recordings)
    return recordings
