"""Frozen records shared by every module: turns, change points, scored regions.

All times are in seconds (`Seconds`), stored on the 1 microsecond grid of `units.quantize_time`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .units import MIN_SEPARATION_S, Seconds, quantize_time

__all__ = ["CHANGE_KINDS", "Change", "Region", "Seconds", "Turn"]


class _Span:
    """Shared behaviour of [start, end) records: times on the storage grid, a duration."""

    start: Seconds
    end: Seconds

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", quantize_time(self.start))
        object.__setattr__(self, "end", quantize_time(self.end))

    @property
    def duration(self) -> Seconds:
        return quantize_time(self.end - self.start)


@dataclass(frozen=True, order=True)
class Turn(_Span):
    """One speaker turn: an RTTM ``SPEAKER`` line.

    Ordering is by (file_id, start, end, speaker), the order RTTM writers use.

    >>> Turn("rec", 1.0, 2.5, "alice").duration
    1.5
    """

    file_id: str
    start: Seconds
    end: Seconds
    speaker: str
    channel: str = field(default="1", compare=False)


@dataclass(frozen=True, order=True)
class Region(_Span):
    """A scored region of a file (one UEM line): [start, end) in seconds."""

    file_id: str
    start: Seconds
    end: Seconds
    channel: str = field(default="1", compare=False)


@dataclass(frozen=True, order=True)
class Change:
    """A speaker change point (see the definition in ARCHITECTURE.md).

    ``left_end`` is where the earlier single-speaker run stops and ``right_start`` where the
    later one begins; ``time`` is their midpoint (the same instant when they touch). The
    region between them is silence, overlapped speech, or both: ``overlap_s`` is how much
    of it is overlap, so ``gap_s = separation_s - overlap_s`` is silence.

    >>> c = Change("rec", 5.5, "A", "B", left_end=5.0, right_start=6.0)
    >>> c.separation_s, c.gap_s
    (1.0, 1.0)
    """

    file_id: str
    time: Seconds
    left_speaker: str
    right_speaker: str
    left_end: Seconds
    right_start: Seconds
    overlap_s: Seconds = 0.0

    @property
    def separation_s(self) -> Seconds:
        """Width of what separates the two speakers' runs (0 for an exact hand-over)."""
        return quantize_time(self.right_start - self.left_end)

    @property
    def gap_s(self) -> Seconds:
        """Width of silence between the two runs."""
        return quantize_time(self.separation_s - self.overlap_s)

    @property
    def pause_s(self) -> Seconds:
        """The pause between the two speakers: the separation when it is all silence, else 0 (a
        hand-over, or one with overlapped speech in between, has no clean pause to match).

        >>> Change("rec", 5.5, "A", "B", 5.0, 6.0).pause_s, Change("rec", 5.5, "A", "B", 5.0, 6.0, 0.2).pause_s
        (1.0, 0.0)
        """
        return self.gap_s if self.overlap_s == 0 else 0.0

    @property
    def clean_overlap_s(self) -> Seconds:
        """The overlap between the two speakers: the separation when it is all overlapped speech (the
        right speaker starts before the left one stops), else 0.

        >>> [Change("rec", 5.5, "A", "B", 5.0, 6.0, overlap).clean_overlap_s for overlap in (1.0, 0.2, 0.0)]
        [1.0, 0.0, 0.0]
        """
        return self.overlap_s if self.overlap_s > 0 and self.gap_s == 0 else 0.0

    @property
    def kind(self) -> str:
        """The change's shape (`CHANGE_KINDS`): ``"pause"`` or ``"overlap"`` when a clean one longer
        than `units.MIN_SEPARATION_S` separates the speakers, else ``"other"`` (an exact hand-over,
        or silence and overlap mixed).

        >>> [Change("rec", 5.5, "A", "B", 5.0, 6.0, overlap).kind for overlap in (0.0, 1.0, 0.2)]
        ['pause', 'overlap', 'other']
        """
        if self.pause_s > MIN_SEPARATION_S:
            return "pause"
        return "overlap" if self.clean_overlap_s > MIN_SEPARATION_S else "other"


#: What `Change.kind` can be.
CHANGE_KINDS = ("pause", "overlap", "other")
