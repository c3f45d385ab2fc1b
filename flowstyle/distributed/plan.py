"""The plan of a distributed render: shots, then segments of at most ``segment_seconds``.

Shots come from the same streaming cut detector as the in-process render
(:mod:`flowstyle.scenes`, which compares 160-px reduced copies of the frames), run
over the frames exactly as the render decodes them, so a segment that starts on
a cut starts where the in-process render resets its temporal state: those seams
are frame for frame the same as a single-process render. A shot longer than a
segment is split into equal parts; every part but the shot's first starts with a
pre-roll of frames that warm the temporal state up and are not written.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
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
    """Frames ``[start, stop)`` written to one file, after ``preroll`` frames rendered and dropped;
    ``cuts``: shots that start inside it (short shots are grouped into one task)."""

    index: int
    start: int
    stop: int
    preroll: int = 0
    cuts: tuple[int, ...] = ()
    anchor_pts: int | None = None  # pts of frame start - preroll, as the scan saw it (FrameRange.anchor)

    @property
    def anchor(self) -> tuple[int, int] | None:
        return None if self.anchor_pts is None else (self.start - self.preroll, self.anchor_pts)

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


def split_shot(shot_start: int, shot_stop: int, segment_frames: int, preroll: int = PREROLL_FRAMES) -> list[Segment]:
    """One shot ``[shot_start, shot_stop)`` as equal parts of at most ``segment_frames``, each but the first
    with a pre-roll (numbered from 0: :class:`Planner` numbers them in the plan)."""
    length = shot_stop - shot_start
    parts = max(1, math.ceil(length / segment_frames))
    edges = [shot_start + round(i * length / parts) for i in range(parts + 1)]
    return [Segment(k, a, b, min(preroll, a - shot_start)) for k, (a, b) in enumerate(zip(edges, edges[1:]))]


def split(frames: int, cuts: tuple[int, ...], segment_frames: int, preroll: int = PREROLL_FRAMES,
          split_shots: bool = True, tail_parts: int = 1) -> tuple[Segment, ...]:
    """The segments of ``frames`` frames with shots starting at ``cuts`` (see :class:`Planner`)."""
    bounds = [0, *sorted(c for c in set(cuts) if 0 < c < frames), frames]
    planner = Planner(segment_frames, preroll, split_shots, tail_parts)
    segments = [s for a, b in zip(bounds, bounds[1:]) for s in planner.add(a, b)]
    return tuple(segments + planner.finish())


def scan(path, size: SizePolicy, cuts: CutOptions | None,
         pts: list[int] | None = None) -> Iterator[tuple[int, int | None]]:
    """One pass over the input, yielding each shot ``(start, stop)`` as soon as it ends, then ``(frames, None)``.

    Streaming, so a distributed render can start a shot's segments while the scan
    goes on (the scan would otherwise idle every worker for the time it
    takes to decode the whole input). ``cuts`` None: no cuts, one shot.
    """
    detector = CutDetector(cuts) if cuts is not None else None
    shot_start = count = 0
    with get_source(path, size, threads=1) as source:
        for frame in source.frames():
            if pts is not None:
                pts.append(frame.pts)
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


def split_tail(last: Segment, parts: int, preroll: int, shots: Sequence[int]) -> list[Segment]:
    """The render's last segment cut into ``parts`` (one per worker), when each part is still at
    least twice its pre-roll (and 8 frames) long; ``shots`` are the frames that start shots.

    Workers take segments as they free up, so while the last one renders alone the
    others idle: with 23 equal segments on 2 workers, one core idled for a whole
    segment (3.7 s of a 48 s render).
    """
    if parts < 2 or last.frames < parts * max(8, 2 * preroll):
        return [last]
    edges = [last.start + round(i * last.frames / parts) for i in range(parts + 1)]
    pieces = []
    for k, (a, b) in enumerate(zip(edges, edges[1:])):
        shot_start = max(c for c in shots if c <= a)
        pieces.append(Segment(last.index + k, a, b, last.preroll if k == 0 else min(preroll, a - shot_start),
                              tuple(c for c in last.cuts if a < c < b)))
    return pieces


class Planner:
    """Shots in, segments out, in order: the plan's rules, fed one shot at a time.

    Shots longer than ``segment_frames`` are split (:func:`split_shot`); consecutive
    shorter ones are grouped into one segment of at most that length, which then
    resets its state at the cuts the scan found (``Segment.cuts``): every task costs
    a source seek, an encoder start and a flush, and a clip of 5 s shots made twice
    the tasks its length needed. Gatys (``split_shots`` False) keeps one task per
    shot. The latest segment is held back until the next is known, so the last one
    can be split for ``tail_parts`` workers (:func:`split_tail`).
    """

    def __init__(self, segment_frames: int, preroll: int = PREROLL_FRAMES, split_shots: bool = True,
                 tail_parts: int = 1) -> None:
        self.segment_frames = segment_frames
        self.preroll = preroll
        self.split_shots = split_shots
        self.tail_parts = tail_parts
        self.shots: list[int] = []
        self.count = 0
        self._group: list[tuple[int, int]] = []  # short shots waiting to fill a segment
        self._ready: list[Segment] = []  # planned, not yet released (the latest is held back)

    def add(self, start: int, stop: int) -> list[Segment]:
        """The shot ``[start, stop)``; returns the segments that are now final."""
        self.shots.append(start)
        if not self.split_shots:
            self._ready.append(Segment(0, start, stop))
        elif stop - start > self.segment_frames:
            self._flush()
            self._ready += split_shot(start, stop, self.segment_frames, self.preroll)
        else:
            if self._group and stop - self._group[0][0] > self.segment_frames:
                self._flush()
            self._group.append((start, stop))
        return self._release(1)

    def finish(self) -> list[Segment]:
        """The remaining segments, the last one split for the workers."""
        self._flush()
        if self._ready and self.split_shots:
            self._ready[-1:] = split_tail(self._ready[-1], self.tail_parts, self.preroll, self.shots)
        return self._release(0)

    def _flush(self) -> None:
        if self._group:
            group = self._group
            self._ready.append(Segment(0, group[0][0], group[-1][1], 0, tuple(a for a, _ in group[1:])))
            self._group = []

    def _release(self, keep: int) -> list[Segment]:
        out = []
        while len(self._ready) > keep:
            out.append(dataclasses.replace(self._ready.pop(0), index=self.count))
            self.count += 1
        return out


def stream_plan(path, size: SizePolicy, cuts: CutOptions | None, segment_seconds: float,
                preroll: int = PREROLL_FRAMES, split_shots: bool = True,
                tail_parts: int = 1) -> Iterator[Segment | Plan]:
    """The plan's segments as the scan finds them (:class:`Planner`), then the :class:`Plan`.

    Each segment carries the pts its first decoded frame had in the scan
    (``anchor_pts``), so its task seeks there exactly.
    """
    planner = Planner(max(1, round(segment_seconds * frame_rate(path, size))), preroll, split_shots, tail_parts)
    pts: list[int] = []  # of every frame, by index
    planned: list[Segment] = []
    for start, stop in scan(path, size, cuts, pts):
        segments = planner.finish() if stop is None else planner.add(start, stop)
        for segment in segments:
            segment = dataclasses.replace(segment, anchor_pts=pts[segment.start - segment.preroll])
            planned.append(segment)
            yield segment
        if stop is None:  # the end: the scan counted ``start`` frames
            yield Plan(start, tuple(planner.shots[1:]), tuple(planned))
            return


def make_plan(path, size: SizePolicy, cuts: CutOptions | None, segment_seconds: float,
              preroll: int = PREROLL_FRAMES, split_shots: bool = True, tail_parts: int = 1) -> Plan:
    *_, plan = stream_plan(path, size, cuts, segment_seconds, preroll, split_shots, tail_parts)
    return plan
