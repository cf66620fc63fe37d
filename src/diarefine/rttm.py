"""Strict RTTM and UEM reading and writing, turn merging, and pyannote.core conversion.

RTTM ``SPEAKER`` line (10 whitespace-separated fields; 9, without the last ``<NA>``, as several
tools and published references write them, are read too)::

    SPEAKER <file> <chan> <start> <dur> <NA> <NA> <speaker> <NA> <NA>

UEM line: ``<file> <chan> <start> <end>``. Files may interleave several file ids; readers
return turns grouped by file id and sorted. Comments (``#`` or ``;;``) and blank lines are
allowed; ``# diarefine: no speech in file <file id>`` (what `write_rttm` writes for a file id
with no turn) reads back as that file id with no turns. A UTF-8 byte-order mark is dropped.

The domain, and what is refused (`InputFileError` naming path, line number and reason; any
echoed token is cut to 80 characters):

* fields are separated by spaces or tabs; lines end at ``\\n`` only (see `fileio.split_lines`);
* times are ASCII decimal numbers (``12``, ``6.690``, ``1e-3``; no ``1_0``, no non-ASCII
  digits, no ``inf`` / ``nan``), not negative (``-0`` reads as 0), and a turn must end by
  `units.MAX_RECORDING_S` (7 days): RTTM times are seconds;
* a turn whose duration is 0 once start and end are on the 1 microsecond storage grid is
  skipped with a warning (several systems write such lines);
* file ids, channels and speaker labels are printable (no control, format, separator or
  bidirectional-override characters: `str.isprintable`).
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputFileError
from .fileio import atomic_write_text, read_text_lines
from .types import Region, Seconds, Turn
from .units import MAX_RECORDING_S, quantize_time

if TYPE_CHECKING:  # pyannote.core imports matplotlib (about 1 s): the conversions import it when called
    from pyannote.core import Annotation, Timeline

log = logging.getLogger(__name__)

#: RTTM types of the NIST spec that carry no speaker-turn information; they are skipped.
IGNORED_RTTM_TYPES = frozenset(
    {"SEGMENT", "NOSCORE", "NO_RT_METADATA", "LEXEME", "NON-LEX", "NON-SPEECH", "FILLER",
     "IP", "SU", "CB", "A/P", "EDIT", "SPKR-INFO"}
)
N_RTTM_FIELDS = 10
N_RTTM_FIELDS_SHORT = 9  # the last <NA> (signal lookahead time) left out
N_UEM_FIELDS = 4
#: The comment `write_rttm` writes for a file id with no speech; read back as that file id with no turns.
NO_SPEECH_COMMENT = "# diarefine: no speech in file {file_id}"
_NO_SPEECH = re.compile(r"# diarefine: no speech in file (\S+)")
_FIELD_SEPARATOR = re.compile(r"[ \t]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")  # unambiguous: linear time
#: Longest token read as a number (a 1 microsecond time of 7 days has 13 characters; more is not a time).
MAX_NUMBER_CHARS = 32
#: Longest token quoted in an error message.
MAX_ECHO_CHARS = 80

TurnsByFile = dict[str, list[Turn]]
RegionsByFile = dict[str, list[Region]]


def echo(token: str) -> str:
    """``repr`` of a token for an error message, cut to `MAX_ECHO_CHARS` characters.

    >>> echo("abc"), echo("x" * 100)
    ("'abc'", "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...' (100 characters)")
    """
    if len(token) <= MAX_ECHO_CHARS:
        return repr(token)
    return f"{token[:MAX_ECHO_CHARS] + '...'!r} ({len(token)} characters)"


def _fields(line: str) -> list[str]:
    """Whitespace-separated fields of a line (spaces and tabs only), [] for a comment or blank line."""
    stripped = line.strip(" \t")
    if not stripped or stripped.startswith("#") or stripped.startswith(";;"):
        return []
    return _FIELD_SEPARATOR.split(stripped)


def _parse_seconds(token: str, what: str, source: str, line_no: int) -> Seconds:
    if token.lower().lstrip("+-") in ("nan", "inf", "infinity"):
        raise InputFileError(source, f"{what} {echo(token)} is not finite", line_no)
    if len(token) > MAX_NUMBER_CHARS or not _DECIMAL.fullmatch(token):
        raise InputFileError(source, f"{what} {echo(token)} is not a number (seconds as an ASCII decimal, "
                                     "e.g. 6.69 or 1e-3)", line_no)
    value = float(token) + 0.0  # + 0.0 turns -0.0 into 0.0
    if value < 0:
        raise InputFileError(source, f"{what} {echo(token)} is negative", line_no)
    if value > MAX_RECORDING_S:
        raise InputFileError(source, f"{what} {echo(token)} is beyond {MAX_RECORDING_S:.0f} s (7 days), the "
                                     "longest recording diarefine accepts; RTTM and UEM times are in seconds", line_no)
    return value


def _parse_label(token: str, what: str, source: str, line_no: int) -> str:
    if not token.isprintable():
        bad = next(ch for ch in token if not ch.isprintable())
        raise InputFileError(source, f"{what} {echo(token)} holds the unprintable character U+{ord(bad):04X}; "
                                     "use letters, digits and punctuation", line_no)
    return token


def _parse_turn(fields: list[str], source: str, line_no: int) -> Turn | None:
    """The turn of one SPEAKER line's fields; None when its duration vanishes on the storage grid."""
    if len(fields) not in (N_RTTM_FIELDS, N_RTTM_FIELDS_SHORT):
        raise InputFileError(
            source,
            f"expected {N_RTTM_FIELDS} fields (SPEAKER file chan start dur <NA> <NA> speaker <NA> <NA>), "
            f"got {len(fields)}",
            line_no,
        )
    _, file_id, channel, start_tok, dur_tok = fields[:5]
    file_id = _parse_label(file_id, "file id", source, line_no)
    channel = _parse_label(channel, "channel", source, line_no)
    speaker = _parse_label(fields[7], "speaker label", source, line_no)
    start = _parse_seconds(start_tok, "start time", source, line_no)
    duration = _parse_seconds(dur_tok, "duration", source, line_no)
    if speaker == "<NA>":
        raise InputFileError(source, "speaker label (field 8) is <NA>", line_no)
    end = start + duration
    if end > MAX_RECORDING_S:
        raise InputFileError(source, f"the turn ends at {end:.0f} s, beyond {MAX_RECORDING_S:.0f} s (7 days), the "
                                     "longest recording diarefine accepts; RTTM times are in seconds", line_no)
    if quantize_time(end) <= quantize_time(start):
        return None
    return Turn(file_id, start, end, speaker, channel)


def parse_rttm_with_files(lines: Iterable[str], source: str = "<string>") -> tuple[list[Turn], list[str]]:
    """`parse_rttm`, plus the file ids that its ``no speech`` comments name (in file order)."""
    turns: list[Turn] = []
    silent: list[str] = []
    n_zero = 0
    for line_no, line in enumerate(lines, start=1):
        fields = _fields(line)
        if not fields:
            if match := _NO_SPEECH.fullmatch(line.strip(" \t")):
                silent.append(_parse_label(match[1], "file id", source, line_no))
            continue
        kind = fields[0]
        if kind in IGNORED_RTTM_TYPES:
            continue
        if kind != "SPEAKER":
            raise InputFileError(
                source, f"unknown RTTM type {echo(kind)}; diarization RTTM lines start with SPEAKER", line_no
            )
        turn = _parse_turn(fields, source, line_no)
        if turn is None:
            n_zero += 1
        else:
            turns.append(turn)
    if n_zero:
        log.warning("%s: skipped %d SPEAKER line(s) of zero duration (after rounding to 1 us)", source, n_zero)
    return turns, silent


def parse_rttm(lines: Iterable[str], source: str = "<string>") -> list[Turn]:
    """Parse RTTM text lines into turns, in file order (no merging, no sorting).

    >>> parse_rttm(["SPEAKER rec 1 6.690 0.430 <NA> <NA> spk1 <NA> <NA>"])
    [Turn(file_id='rec', start=6.69, end=7.12, speaker='spk1', channel='1')]
    """
    return parse_rttm_with_files(lines, source)[0]


def parse_uem(lines: Iterable[str], source: str = "<string>") -> list[Region]:
    """Parse UEM text lines (``file chan start end``) into regions, in file order.

    >>> parse_uem(["rec 1 0.0 30.0"])
    [Region(file_id='rec', start=0.0, end=30.0, channel='1')]
    """
    regions: list[Region] = []
    for line_no, line in enumerate(lines, start=1):
        fields = _fields(line)
        if not fields:
            continue
        if len(fields) != N_UEM_FIELDS:
            raise InputFileError(
                source, f"expected {N_UEM_FIELDS} UEM fields (file chan start end), got {len(fields)}", line_no
            )
        file_id, channel, start_tok, end_tok = fields
        file_id = _parse_label(file_id, "file id", source, line_no)
        channel = _parse_label(channel, "channel", source, line_no)
        start = _parse_seconds(start_tok, "start time", source, line_no)
        end = _parse_seconds(end_tok, "end time", source, line_no)
        if quantize_time(end) <= quantize_time(start):
            raise InputFileError(source, f"end time {end_tok[:MAX_ECHO_CHARS]} is not after start time {start_tok[:MAX_ECHO_CHARS]}", line_no)
        regions.append(Region(file_id, start, end, channel))
    return regions


def format_time(t: Seconds) -> str:
    """Format seconds with at least 3 and at most 6 decimals (exact on the storage grid).

    >>> format_time(6.69), format_time(0.1234567), format_time(12.0)
    ('6.690', '0.123457', '12.000')
    """
    text = f"{t:.6f}".rstrip("0")
    decimals = len(text.split(".")[1])
    return text + "0" * max(0, 3 - decimals)


def format_rttm(turns: Iterable[Turn], file_ids: Iterable[str] = ()) -> str:
    """RTTM text for turns, sorted by file id and time; each of ``file_ids`` with no turn gets a
    ``no speech`` comment line, so that the file reads back as that file id with no turns.

    >>> format_rttm([], ["rec"])
    '# diarefine: no speech in file rec\\n'
    """
    turns = sorted(turns)
    silent = sorted(set(file_ids) - {t.file_id for t in turns})
    return "".join(NO_SPEECH_COMMENT.format(file_id=file_id) + "\n" for file_id in silent) + "".join(
        f"SPEAKER {t.file_id} {t.channel} {format_time(t.start)} {format_time(t.duration)} "
        f"<NA> <NA> {t.speaker} <NA> <NA>\n"
        for t in turns
    )


def format_uem(regions: Iterable[Region]) -> str:
    """UEM text for regions, sorted by file id and time."""
    return "".join(
        f"{r.file_id} {r.channel} {format_time(r.start)} {format_time(r.end)}\n" for r in sorted(regions)
    )


def group_by_file(items: Iterable[Turn] | Iterable[Region]) -> dict:
    """Group turns (or regions) by file id; keys and each list sorted (merged turns stay `MergedTurns`)."""
    grouped: dict[str, list] = defaultdict(list)
    for item in items:
        grouped[item.file_id].append(item)
    kind = MergedTurns if isinstance(items, MergedTurns) else list
    return {file_id: kind(sorted(grouped[file_id])) for file_id in sorted(grouped)}


def read_rttm(path: str | Path, allow_empty: bool = False) -> TurnsByFile:
    """Read one RTTM file into turns grouped by file id (raw: not merged); a file id that only a
    ``no speech`` comment names maps to no turns.

    An RTTM with no SPEAKER line and no such comment is an error unless ``allow_empty``.
    """
    turns, silent = parse_rttm_with_files(read_text_lines(path), source=str(path))
    if not turns and not silent and not allow_empty:
        raise InputFileError(path, "no SPEAKER lines: the RTTM is empty")
    grouped = group_by_file(turns)
    return {file_id: grouped.get(file_id, []) for file_id in sorted(set(grouped) | set(silent))}


def read_uem(path: str | Path) -> RegionsByFile:
    """Read one UEM file into scored regions grouped by file id."""
    regions = parse_uem(read_text_lines(path), source=str(path))
    if not regions:
        raise InputFileError(path, "no UEM lines: the file is empty")
    return group_by_file(regions)


def write_rttm(turns: Iterable[Turn], path: str | Path, file_ids: Iterable[str] = ()) -> None:
    """Write turns as RTTM (atomically: a temporary file renamed when complete); ``file_ids`` with no
    turn are written as ``no speech`` comments (see `format_rttm`)."""
    atomic_write_text(path, format_rttm(turns, file_ids))


def write_uem(regions: Iterable[Region], path: str | Path) -> None:
    """Write scored regions as UEM (atomically)."""
    atomic_write_text(path, format_uem(regions))


def _expand(paths: Sequence[str | Path], suffix: str) -> list[Path]:
    """Files named directly, plus every ``*suffix`` file inside named folders (sorted)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.glob(f"*{suffix}"))
            if not found:
                raise InputFileError(path, f"folder holds no *{suffix} file")
            files.extend(found)
        else:
            files.append(path)
    return files


def _load_grouped(paths, suffix: str, reader) -> dict:
    merged: dict[str, list] = {}
    origin: dict[str, Path] = {}
    for path in _expand([paths] if isinstance(paths, (str, Path)) else paths, suffix):
        for file_id, items in reader(path).items():
            if file_id in merged:
                raise InputFileError(
                    path, f"file id {file_id!r} is also in {origin[file_id]}; give each file id in one file only"
                )
            merged[file_id] = items
            origin[file_id] = path
    return {file_id: merged[file_id] for file_id in sorted(merged)}


def load_rttms(paths: str | Path | Sequence[str | Path]) -> TurnsByFile:
    """Turns by file id from RTTM files and/or folders of ``*.rttm`` files."""
    return _load_grouped(paths, ".rttm", read_rttm)


def load_uems(paths: str | Path | Sequence[str | Path]) -> RegionsByFile:
    """Scored regions by file id from UEM files and/or folders of ``*.uem`` files."""
    return _load_grouped(paths, ".uem", read_uem)


class MergedTurns(list):
    """Turns as `merge_turns` returns them: same-speaker turns that touch or overlap merged, sorted.

    A read-only list (it equals a plain list of the same turns), so it stays merged, and
    `merge_turns` returns it as it is: every function that needs merged turns calls
    `merge_turns` on its input, and a pipeline that merged its turns once pays nothing more.
    """

    __slots__ = ()

    def _read_only(self, *args, **kwargs):
        raise TypeError("merged turns are read-only; copy them with list(turns) to change them")

    append = extend = insert = remove = pop = clear = sort = reverse = _read_only
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only

    def __reduce__(self):  # pickling must not go through the disabled extend / append
        return MergedTurns, (list(self),)


def merge_turns(turns: Iterable[Turn]) -> MergedTurns:
    """Merge same-speaker turns of a file that touch or overlap; sorted result (returned as is when
    ``turns`` already came from here).

    >>> merge_turns([Turn("f", 0, 1, "A"), Turn("f", 1, 2, "A"), Turn("f", 1.5, 3, "B")])
    [Turn(file_id='f', start=0.0, end=2.0, speaker='A', channel='1'), Turn(file_id='f', start=1.5, end=3.0, speaker='B', channel='1')]
    """
    if isinstance(turns, MergedTurns):
        return turns
    by_key: dict[tuple[str, str], list[Turn]] = defaultdict(list)
    for turn in turns:
        by_key[(turn.file_id, turn.speaker)].append(turn)
    merged: list[Turn] = []
    for same_speaker in by_key.values():
        same_speaker.sort()
        current = same_speaker[0]
        for turn in same_speaker[1:]:
            if turn.start <= current.end:
                current = Turn(current.file_id, current.start, max(current.end, turn.end), current.speaker,
                               current.channel)
            else:
                merged.append(current)
                current = turn
        merged.append(current)
    return MergedTurns(sorted(merged))


def cap_speakers(turns: Iterable[Turn], max_speakers: int) -> MergedTurns:
    """Turns (any number of files) with at most ``max_speakers`` talking at any time: where more do,
    those whose (merged) turn began first keep the floor (ties: by name) and the others' speech there
    is dropped.

    What a diarizer that represents at most that many simultaneous speakers can get right at best
    (segmentation-3.0's powerset has two), hence its DER floor on heavy overlap.

    >>> [(t.start, t.end, t.speaker) for t in cap_speakers(
    ...     [Turn("f", 0, 4, "A"), Turn("f", 1, 3, "B"), Turn("f", 2, 5, "C")], 2)]
    [(0.0, 4.0, 'A'), (1.0, 3.0, 'B'), (3.0, 5.0, 'C')]
    """
    if max_speakers < 1:
        raise ValueError(f"max_speakers must be at least 1, got {max_speakers}")
    kept: list[Turn] = []
    for file_turns in group_by_file(merge_turns(turns)).values():
        starting, ending = defaultdict(list), defaultdict(list)
        for turn in file_turns:
            starting[turn.start].append(turn)
            ending[turn.end].append(turn)
        times = sorted(starting.keys() | ending.keys())
        talking: set[Turn] = set()
        for start, end in zip(times, times[1:]):  # elementary spans: nobody starts or stops inside
            talking = (talking - set(ending[start])) | set(starting[start])
            floor = sorted(talking, key=lambda turn: (turn.start, turn.speaker))[:max_speakers]
            kept += [Turn(turn.file_id, start, end, turn.speaker, turn.channel) for turn in floor]
    return merge_turns(kept)


def to_annotation(turns: Iterable[Turn], uri: str | None = None) -> Annotation:
    """pyannote.core `Annotation` of one file's turns (one track per turn)."""
    from pyannote.core import Annotation, Segment

    turns = list(turns)
    annotation = Annotation(uri=uri if uri is not None else (turns[0].file_id if turns else None))
    for track, turn in enumerate(sorted(turns)):
        annotation[Segment(turn.start, turn.end), track] = turn.speaker
    return annotation


def from_annotation(annotation: Annotation, file_id: str | None = None, channel: str = "1") -> list[Turn]:
    """Turns of a pyannote.core `Annotation` (file id from its uri unless given)."""
    file_id = file_id if file_id is not None else annotation.uri
    if file_id is None:
        raise ValueError("the annotation has no uri; pass file_id")
    return sorted(
        Turn(file_id, segment.start, segment.end, str(label), channel)
        for segment, _, label in annotation.itertracks(yield_label=True)
    )


def to_timeline(regions: Iterable[Region], uri: str | None = None) -> Timeline:
    """pyannote.core `Timeline` of scored regions."""
    from pyannote.core import Segment, Timeline

    regions = list(regions)
    return Timeline([Segment(r.start, r.end) for r in regions],
                    uri=uri if uri is not None else (regions[0].file_id if regions else None))


def from_timeline(timeline: Timeline, file_id: str | None = None, channel: str = "1") -> list[Region]:
    """Scored regions of a pyannote.core `Timeline`."""
    file_id = file_id if file_id is not None else timeline.uri
    if file_id is None:
        raise ValueError("the timeline has no uri; pass file_id")
    return [Region(file_id, s.start, s.end, channel) for s in timeline]
