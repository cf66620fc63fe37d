"""Regions of nearby changes that share one pass of the front end: which changes (pure time maths), and
the audio of a batch of them (`RegionAudio`).

``refine`` reads, for each change, its window plus the context the front end needs (4 + 2 x 3 s
for segmentation-3.0). Changes a few seconds apart then run the network over mostly the same
audio. A region groups consecutive changes whose times span at most ``max_span_s``; its audio runs
from the first change's window and context to the last one's, so every window keeps at least
``context_s`` on each side (changes inside a region get more). The span is rounded up to a whole
``quantum_s``, with the extra split between both ends, so that regions come in a few lengths and go
through the network in batches. ``max_span_s = 0`` gives one region per change, the audio read
without regions.

Overlapping regions still repeat work. segmentation-3.0's sinc filters (the costliest part of its
SincNet) are linear up to the waveform's instance norm, so `RegionAudio.stretches` merges
overlapping regions and the network runs the filters once per stretch
(`networks.pyannet.PyanNet.layers_of_chunks`). They step by 10 samples, so each region's audio
starts on that grid of the file: up to 0.6 ms early, and not at all for change times on a 10 ms
grid (most RTTMs).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..audio import AudioInfo, read_window
from ..types import Seconds
from ..units import SAMPLE_RATE


@dataclass(frozen=True)
class Region:
    """Audio ``[start_s, start_s + duration_s)`` that holds the windows (and context) of changes
    ``first`` .. ``stop - 1`` (indices into the time-ordered changes)."""

    start_s: Seconds
    duration_s: Seconds
    first: int
    stop: int


def change_regions(times_s: Sequence[Seconds], window_s: Seconds, context_s: Seconds, max_span_s: Seconds,
                   quantum_s: Seconds = 1.0) -> list[Region]:
    """Group time-ordered change times into regions (greedy, left to right): a region takes the next
    changes up to ``max_span_s`` after its first one.

    >>> [(r.start_s, r.duration_s, r.first, r.stop) for r in change_regions([10.0, 12.5, 20.0], 4.0, 3.0, 4.0)]
    [(4.75, 13.0, 0, 2), (15.0, 10.0, 2, 3)]
    >>> [(r.start_s, r.duration_s) for r in change_regions([10.0, 12.5], 4.0, 3.0, 0.0)]
    [(5.0, 10.0), (7.5, 10.0)]
    """
    if any(b < a for a, b in zip(times_s, times_s[1:])):
        raise ValueError("change times must be in time order")
    regions, first = [], 0
    while first < len(times_s):
        stop = first + 1
        while stop < len(times_s) and times_s[stop] - times_s[first] <= max_span_s:
            stop += 1
        span = times_s[stop - 1] - times_s[first]
        rounded = math.ceil(span / quantum_s - 1e-9) * quantum_s if quantum_s > 0 else span
        start = times_s[first] - window_s / 2 - context_s - (rounded - span) / 2
        regions.append(Region(start, window_s + 2 * context_s + rounded, first, stop))
        first = stop
    return regions


def region_batches(regions: Sequence[Region], max_changes: int) -> list[list[Region]]:
    """Consecutive regions in batches of at most ``max_changes`` changes (a region with more is a batch
    of its own), so a batch's changes are consecutive too.

    >>> [[r.first for r in b] for b in region_batches([Region(0, 10, 0, 2), Region(9, 10, 2, 3),
    ...                                                Region(20, 10, 3, 6)], 3)]
    [[0, 2], [3]]
    """
    batches: list[list[Region]] = []
    for region in regions:
        if batches and region.stop - batches[-1][0].first <= max_changes:
            batches[-1].append(region)
        else:
            batches.append([region])
    return batches


def merge_spans(first: np.ndarray, stop: np.ndarray, max_length: int) -> list[np.ndarray]:
    """Indices of spans ``[first, stop)`` (in order of ``first``) in groups that overlap or touch, each group
    at most ``max_length`` long unless one span alone is longer (pure).

    >>> [g.tolist() for g in merge_spans(np.array([0, 5, 20, 22]), np.array([10, 15, 30, 40]), 100)]
    [[0, 1], [2, 3]]
    >>> [g.tolist() for g in merge_spans(np.array([0, 5, 9]), np.array([10, 15, 19]), 16)]
    [[0, 1], [2]]
    """
    groups: list[list[int]] = []
    begin = end = 0
    for i, (lo, hi) in enumerate(zip(first, stop)):
        if groups and lo <= end and max(end, hi) - begin <= max_length:
            groups[-1].append(i)
            end = max(end, hi)
        else:
            groups.append([i])
            begin, end = lo, hi
    return [np.array(g) for g in groups]


@dataclass(frozen=True)
class RegionAudio:
    """The audio of a batch of regions (`region_batches`) and where each of their B changes' audio lies in
    it: the change's window with ``context_s`` on each side, ``n_samples`` long.

    Each region's audio starts on a multiple of ``align`` samples of the file (up to ``align - 1`` samples
    before the region's own start, and as many more at its end), so that regions can share a network stage
    that steps by that many samples (`stretches`); the network runs on ``length`` samples from there."""

    samples: list[np.ndarray]  # per region [N_r] float32, 16 kHz, zero outside the file
    valid: list[np.ndarray]  # per region [N_r] bool: inside the file
    start: np.ndarray  # [R] int: the file sample where each region's audio starts (a multiple of align)
    length: np.ndarray  # [R] int: samples of each region the network runs on (its duration)
    owner: np.ndarray  # [B] int: which region holds each change
    lead: np.ndarray  # [B] int: the sample of its region where each change's audio starts
    n_samples: int  # samples of each change's audio: window + 2 x context_s
    context_s: Seconds

    @classmethod
    def read(cls, audio: AudioInfo, regions: Sequence[Region], times_s: Sequence[Seconds], window_s: Seconds,
             context_s: Seconds, align: int = 1) -> "RegionAudio":
        """Read ``regions`` of ``audio``; ``times_s`` [B] are the times of their changes (``first`` of the
        first region to ``stop`` of the last)."""
        start = np.array([round(r.start_s * SAMPLE_RATE) // align * align for r in regions], dtype=int)
        length = np.array([round(r.duration_s * SAMPLE_RATE) for r in regions], dtype=int)
        samples, valid = zip(*(read_window(audio, a / SAMPLE_RATE, (n + align - 1) / SAMPLE_RATE)
                               for a, n in zip(start, length)))
        owner = np.repeat(np.arange(len(regions)), [r.stop - r.first for r in regions])
        n_samples = round((window_s + 2 * context_s) * SAMPLE_RATE)
        lead = np.array([round((t - window_s / 2 - context_s) * SAMPLE_RATE) for t in times_s], dtype=int).reshape(-1)
        lead = np.clip(lead - start[owner], 0, np.array([len(samples[k]) for k in owner], dtype=int) - n_samples)
        return cls(list(samples), list(valid), start, length, owner, lead, n_samples, context_s)

    def windows(self, trim_s: Seconds = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """Every change's audio and valid mask [B, N], with ``context_s - trim_s`` around its window."""
        cut = round(trim_s * SAMPLE_RATE)
        span = [slice(lead + cut, lead + self.n_samples - cut) for lead in self.lead]
        return (np.stack([self.samples[k][s] for k, s in zip(self.owner, span)]),
                np.stack([self.valid[k][s] for k, s in zip(self.owner, span)]))

    def stretches(self, regions: np.ndarray, trim_s: Seconds = 0.0,
                  max_s: Seconds = 60.0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The network's audio of ``regions`` (in time order, each ``length`` samples, ``trim_s`` shorter at both
        ends) merged where it overlaps or touches, up to about ``max_s`` per stretch (bounded memory): per
        stretch, (its samples [M], where each of its regions starts in it [R'] samples, multiples of ``align``
        when the regions were read with it), in the order of ``regions``."""
        cut = round(trim_s * SAMPLE_RATE)
        first, stop = self.start[regions] + cut, self.start[regions] + self.length[regions] - cut
        if (np.diff(first) < 0).any():
            raise ValueError("regions must be in time order")
        for mine in merge_spans(first, stop, round(max_s * SAMPLE_RATE)):
            lo = first[mine[0]]
            samples = np.zeros(stop[mine].max() - lo, np.float32)
            for i in mine:
                samples[first[i] - lo:stop[i] - lo] = self.samples[regions[i]][cut:cut + stop[i] - first[i]]
            yield samples, first[mine] - lo

    def by_length(self, trim_s: Seconds = 0.0) -> Iterator[tuple[np.ndarray, np.ndarray, torch.Tensor]]:
        """For each length of the regions (``trim_s`` shorter at both ends): (those regions [R], the rows of
        their changes [B'], where each of those changes' window starts in its trimmed region [B'] s)."""
        window_lead = self.lead + round(self.context_s * SAMPLE_RATE) - round(trim_s * SAMPLE_RATE)
        for length in np.unique(self.length):
            regions = np.flatnonzero(self.length == length)
            rows = np.flatnonzero(np.isin(self.owner, regions))
            yield regions, rows, torch.from_numpy((window_lead[rows] / SAMPLE_RATE).astype(np.float32))
