"""Which audio goes with which turns: audio files by file id, pairing them with RTTM turns, and
opening each recording once for refinement. Shared by ``refine``, ``diarize`` and ``prepare``
(``data/`` imports this module; nothing here imports ``data/``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..audio import AUDIO_SUFFIXES, AudioInfo, audio_info, check_audio_covers
from ..errors import DiarefineError, InputFileError, MismatchError
from ..rttm import MergedTurns, merge_turns
from ..types import Turn
from ..units import quantize_time

log = logging.getLogger("diarefine")


def audio_by_id(folder: str | Path) -> dict[str, Path]:
    """Audio files under ``folder`` (recursively) by file id (the name without extension); ids must be unique."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "audio folder not found")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    out: dict[str, Path] = {}
    for p in files:
        if p.stem in out:
            raise MismatchError(f"{folder}: two audio files for file id {p.stem!r}: {out[p.stem]} and {p}")
        out[p.stem] = p
    return out


def audio_for(file_ids: Sequence[str], audio: Mapping[str, Path], rttm_source: str,
              audio_source: str | None = None) -> dict[str, Path]:
    """The audio path of every file id (sorted); a file id without audio is a `MismatchError`."""
    missing = sorted(set(file_ids) - set(audio))
    if missing:
        where = f" in {audio_source}" if audio_source else ""
        raise MismatchError(f"{rttm_source}: no audio{where} for file id(s) {', '.join(missing[:5])}"
                            f"{' ...' if len(missing) > 5 else ''}; audio files must be named <file id>.<ext>")
    return {fid: audio[fid] for fid in sorted(file_ids)}


@dataclass(frozen=True)
class FileInput:
    """One recording ready to refine: its audio, opened and checked to cover the turns, and its merged turns."""

    file_id: str
    audio: AudioInfo
    turns: MergedTurns


def clip_to_audio(turns: Sequence[Turn], duration_s: float, file_id: str) -> list[Turn]:
    """Turns cut at the end of the audio (any starting after it dropped), with a warning when any was:
    labels that overrun their recording a little (rounding) are kept inside it.

    >>> clip_to_audio([Turn("f", 0, 5, "A"), Turn("f", 5, 10.3, "B")], 10.0, "f")
    [Turn(file_id='f', start=0.0, end=5.0, speaker='A', channel='1'), Turn(file_id='f', start=5.0, end=10.0, speaker='B', channel='1')]
    """
    end_s = quantize_time(duration_s)
    if all(t.end <= end_s for t in turns):
        return list(turns)
    overrun = max(t.end for t in turns) - end_s
    log.warning("%s: turns run %.2f s past the end of the audio (%.2f s); clipped to it", file_id, overrun, end_s)
    return [replace(t, end=min(t.end, end_s)) for t in turns if t.start < end_s]


def open_input(audio: str | Path | AudioInfo, turns: Sequence[Turn], file_id: str | None = None) -> FileInput:
    """Open the audio (its header; unless already open) and merge the turns, once, and check that they
    belong together: one file id (``file_id`` if given, else the turns'; an empty hypothesis takes the
    audio's name) and audio that lasts as long as the turns (overruns within `audio.LENGTH_TOLERANCE_S`
    are clipped, see `clip_to_audio`)."""
    info = audio if isinstance(audio, AudioInfo) else audio_info(audio)
    file_ids = sorted({t.file_id for t in turns})
    if len(file_ids) > 1:
        raise DiarefineError(f"expected the turns of one file, got file ids {file_ids}")
    file_id = file_id or (file_ids[0] if file_ids else info.path.stem)
    check_audio_covers(info, max((t.end for t in turns), default=0.0), file_id)
    return FileInput(file_id, info, merge_turns(clip_to_audio(turns, info.duration_s, file_id)))


def open_folder(audio_dir: str | Path, turns_by_file: Mapping[str, Sequence[Turn]],
                rttm_source: str) -> list[FileInput]:
    """`open_input` of every file id of ``turns_by_file`` with its audio from ``audio_dir`` (all
    checked before any work starts)."""
    paths = audio_for(list(turns_by_file), audio_by_id(audio_dir), rttm_source, str(audio_dir))
    return [open_input(paths[fid], turns_by_file[fid], fid) for fid in paths]


def open_pair(audio: str | Path, turns_by_file: Mapping[str, Sequence[Turn]], rttm_source: str) -> FileInput:
    """`open_input` of one audio file and an RTTM that must hold one file id (warns when that id is
    not the audio's name: they are refined together as given)."""
    if len(turns_by_file) > 1:
        raise DiarefineError(f"{rttm_source}: holds {len(turns_by_file)} file ids "
                             f"({', '.join(sorted(turns_by_file)[:5])}); refine one file with AUDIO HYP, "
                             "or several with --audio-dir / --rttm-dir")
    (file_id, turns), = turns_by_file.items()
    if file_id != Path(audio).stem:
        log.warning("%s: file id %r differs from the audio's name %s; refining them together as given",
                    rttm_source, file_id, Path(audio).name)
    return open_input(audio, turns, file_id)
