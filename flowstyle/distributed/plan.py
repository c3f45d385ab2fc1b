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
from collections.abc import Iterator
from dataclasses import dataclass

from ..io.formats import get_source
from ..io.reader import SizePolicy
from ..scenes import CutDetector, CutOptions

# The flow stabilizer's coarse band keeps 0.9 of its past a frame, so a seam's state still
# differs from the single-process one by 0.9**preroll. The seam test (tests/test_distributed.py,
# pair across an in-shot seam / mid-shot E_warp) measured 1.17 (AVX-512) and 1.22 (AVX2) with
# 12 frames, 1.03 and 1.09 with 16, against the bar of 1.2; 16 costs 6.7% of a 10 s segment.
PREROLL_FRAMES = 16


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


def split_shot(shot_start: int, shot_stop: int, segment_frames: int, preroll: int = PREROLL_FRAMES,
               split_shots: bool = True, first_index: int = 0) -> list[Segment]:
    """One shot ``[shot_start, shot_stop)`` as segments numbered from ``first_index``: equal parts of at most
    ``segment_frames`` (one part when ``split_shots`` is False), each but the first with a pre-roll."""
    length = shot_stop - shot_start
    parts = max(1, math.ceil(length / segment_frames)) if split_shots else 1
    edges = [shot_start + round(i * length / parts) for i in range(parts + 1)]
    return [Segment(first_index + k, a, b, min(preroll, a - shot_start)) for k, (a, b) in enumerate(zip(edges, edges[1:]))]


def split(frames: int, cuts: tuple[int, ...], segment_frames: int, preroll: int = PREROLL_FRAMES,
          split_shots: bool = True) -> tuple[Segment, ...]:
    """Cut ``frames`` at ``cuts`` into shots, and shots longer than ``segment_frames`` into equal parts.

    ``split_shots`` False keeps each shot whole (Gatys: its frames depend on each other).
    """
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < frames), frames]
    segments: list[Segment] = []
    for shot_start, shot_stop in zip(bounds, bounds[1:]):
        segments += split_shot(shot_start, shot_stop, segment_frames, preroll, split_shots, len(segments))
    return tuple(segments)


def scan(path, size: SizePolicy, cuts: CutOptions | None) -> Iterator[tuple[int, int | None]]:
    """One pass over the input, yielding each shot ``(start, stop)`` as soon as it ends, then ``(frames, None)``.

    Streaming, so a distributed render can start a shot's segments while the scan
    goes on (issue #14: the scan would otherwise idle every worker for the time it
    takes to decode the whole input). ``cuts`` None: no cuts, one shot.
    """
    detector = CutDetector(cuts) if cuts is not None else None
    shot_start = count = 0
    with get_source(path, size, threads=1) as source:
        for frame in source.frames():
            if detector is not None and detector.is_cut(frame.rgb) and frame.index > shot_start:
                yield shot_start, frame.index
                shot_start = frame.index
            count = frame.index + 1
    if count > shot_start:
        yield shot_start, count
    yield count, None


def frame_rate(path, size: SizePolicy) -> float:
    with get_source(path, size, threads=1) as source:
        return float(source.frame_rate or 25)


def stream_plan(path, size: SizePolicy, cuts: CutOptions | None, segment_seconds: float,
                preroll: int = PREROLL_FRAMES, split_shots: bool = True) -> Iterator[Segment | Plan]:
    """The plan's segments as the scan finds them, then the whole :class:`Plan`."""
    segment_frames = max(1, round(segment_seconds * frame_rate(path, size)))
    segments: list[Segment] = []
    shots: list[int] = []
    for start, stop in scan(path, size, cuts):
        if stop is None:
            yield Plan(start, tuple(shots[1:]), tuple(segments))
            return
        shots.append(start)
        for segment in split_shot(start, stop, segment_frames, preroll, split_shots, len(segments)):
            segments.append(segment)
            yield segment


def make_plan(path, size: SizePolicy, cuts: CutOptions | None, segment_seconds: float,
              preroll: int = PREROLL_FRAMES, split_shots: bool = True) -> Plan:
    *_, plan = stream_plan(path, size, cuts, segment_seconds, preroll, split_shots)
    return plan
