"""The plan of a distributed render: shots, then segments of at most ``segment_seconds`` (issue #14).

Shots come from the same streaming cut detector as the in-process render
(:mod:`flowstyle.scenes`, which compares 160-px reduced copies of the frames), run
over the frames exactly as the render decodes them, so a segment that starts on
a cut starts where the in-process render resets its temporal state: those seams
are frame for frame the same as a single-process render. A shot longer than a
segment is split into equal parts; every part but the shot's first starts with a
pre-roll of frames that warm the temporal state up and are not written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..io.formats import get_source
from ..io.reader import SizePolicy
from ..scenes import CutDetector, CutOptions

PREROLL_FRAMES = 12  # the flow stabilizer's memory fades within about a dozen frames (E_warp seam test)


@dataclass(frozen=True)
class Segment:
    """Frames ``[start, stop)`` written to one file, after ``preroll`` frames rendered and dropped."""

    index: int
    start: int
    stop: int
    preroll: int = 0

    @property
    def frames(self) -> int:
        return self.stop - self.start

    @property
    def name(self) -> str:
        return f"{self.index:05d}"


@dataclass(frozen=True)
class Plan:
    """Every segment of a render, in order; ``cuts`` are the frames that start a shot (besides 0)."""

    frames: int
    cuts: tuple[int, ...]
    segments: tuple[Segment, ...]

    @property
    def shots(self) -> int:
        return len(self.cuts) + 1


def split(frames: int, cuts: tuple[int, ...], segment_frames: int, preroll: int = PREROLL_FRAMES,
          split_shots: bool = True) -> tuple[Segment, ...]:
    """Cut ``frames`` at ``cuts`` into shots, and shots longer than ``segment_frames`` into equal parts.

    ``split_shots`` False keeps each shot whole (Gatys: its frames depend on each other).
    """
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < frames), frames]
    segments: list[Segment] = []
    for shot_start, shot_stop in zip(bounds, bounds[1:]):
        length = shot_stop - shot_start
        parts = max(1, math.ceil(length / segment_frames)) if split_shots else 1
        edges = [shot_start + round(i * length / parts) for i in range(parts + 1)]
        for a, b in zip(edges, edges[1:]):
            segments.append(Segment(len(segments), a, b, min(preroll, a - shot_start)))
    return tuple(segments)


def find_cuts(path, size: SizePolicy, cuts: CutOptions | None) -> tuple[int, tuple[int, ...], float]:
    """One pass over the input: (frame count, cut frames, frame rate). ``cuts`` None: no cuts."""
    detector = CutDetector(cuts) if cuts is not None else None
    found: list[int] = []
    count = 0
    with get_source(path, size, threads=1) as source:
        rate = float(source.frame_rate or 25)
        for frame in source.frames():
            if detector is not None and detector.is_cut(frame.rgb):
                found.append(frame.index)
            count = frame.index + 1
    return count, tuple(found), rate


def make_plan(path, size: SizePolicy, cuts: CutOptions | None, segment_seconds: float,
              preroll: int = PREROLL_FRAMES, split_shots: bool = True) -> Plan:
    frames, found, rate = find_cuts(path, size, cuts)
    segment_frames = max(1, round(segment_seconds * rate))
    return Plan(frames, found, split(frames, found, segment_frames, preroll, split_shots))
