"""Streaming decode: a video file to upright RGB :class:`Frame`s with their own timestamps.

Follows PyAV's guidance (docs/architecture.md, "Media facts"): threaded decode
(``thread_type = "AUTO"``), pts and time_base copied from each decoded frame,
``frame.rotation`` applied so pictures come out upright, conversion to RGB by
swscale with the input's matrix and range (10-bit and full-range input
included). Scaling happens in the same swscale call as the colour conversion.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation

from ..errors import InputError
from .colour import ColourTags, tags_from_frame
from .depth import bit_depth, decode_float
from .frames import Frame
from .probe import first_video_stream, open_input
from .source import FrameRange, FrameSource
from .timecode import Timecode, read_timecode

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SizePolicy:
    """Output frame size.

    ``width`` (with ``height`` None) scales to that width keeping the display aspect;
    ``width`` and ``height`` set both; ``short_side`` scales the shorter displayed side
    to that (training crops); ``max_width`` only ever scales down.
    Sides are then rounded to even numbers, since yuv420p subsamples chroma by two:
    the documented pad/crop policy is *scale to the nearest even size* (a change of
    aspect of at most one pixel), never pad with borders or crop picture away.
    """

    width: int | None = None
    height: int | None = None
    max_width: int | None = None
    short_side: int | None = None

    def target(self, display_w: int, display_h: int) -> tuple[int, int]:
        w, h = display_w, display_h
        if self.width and self.height:
            w, h = self.width, self.height
        elif self.width:
            w, h = self.width, display_h * self.width / display_w
        elif self.height:
            w, h = display_w * self.height / display_h, self.height
        elif self.short_side:
            s = self.short_side / min(display_w, display_h)
            w, h = display_w * s, display_h * s
        if self.max_width and w > self.max_width:
            w, h = self.max_width, h * self.max_width / w
        # Round half up (45 -> 46, not 44 as banker's rounding would give).
        return max(2, int(w / 2 + 0.5) * 2), max(2, int(h / 2 + 0.5) * 2)


@dataclass
class DecodeStats:
    """Counts for the end-of-render report.

    Attributes:
        decoded: frames delivered.
        errors: packets the decoder rejected (corrupt data).
        expected: the container's frame count (or duration x rate).
        declared_end: where the container says the video ends (s), if it says.
        last_time: presentation time of the last decoded frame (s).
        frame_step: nominal frame duration (s).
    """

    decoded: int = 0
    errors: int = 0
    expected: int = 0
    declared_end: float | None = None
    last_time: float | None = None
    frame_step: float | None = None

    @property
    def lost(self) -> int:
        """Frames the file announced that never decoded.

        Two signs of loss: decode errors (then the count shortfall), and a stream
        that stops short of its declared duration (a cut-off file: the demuxer
        simply ends). A count shortfall alone is not loss: AVI and other VFR
        containers count dropped/empty index entries as frames (tree.avi
        announces 444, codes 68, and ends on time).
        """
        by_count = max(0, self.expected - self.decoded) if self.errors else 0
        by_time = 0
        if self.declared_end is not None and self.last_time is not None and self.frame_step:
            missing = self.declared_end - (self.last_time + self.frame_step)
            if missing > 1.5 * self.frame_step:
                by_time = int(round(missing / self.frame_step))
        return max(by_count, by_time)


class VideoReader(FrameSource):
    """The :class:`~flowstyle.io.source.FrameSource` of the first video stream of a file.

    Usage::

        with VideoReader(path, SizePolicy(max_width=640)) as reader:
            for frame in reader.frames(FrameRange(48, 96)):
                ...

    ``reader.size`` (output width, height), ``reader.time_base``, ``reader.frame_rate``
    and ``reader.colour`` are known after opening (the first frame is decoded then);
    ``reader.stats`` after iteration. Iterating the reader is ``frames()``.
    """

    def __init__(self, path: str | Path, size: SizePolicy = SizePolicy(), threads: int = 0, deep: bool = False) -> None:
        """``threads``: decoder and scaler threads; 0 lets libav choose (one per core).
        ``deep``: frames of a source with more than 8 bits come as float32 RGB in [0, 1], with
        their alpha; 8-bit sources stay uint8 (the fast path, unchanged)."""
        self.path = Path(path)
        self._threads = threads
        self._want_deep = deep
        self._size_policy = size
        self._ready = False
        self.container = open_input(self.path)
        try:
            stream = first_video_stream(self.container)
            if stream is None:
                kinds = sorted({s.type for s in self.container.streams}) or ["no streams"]
                raise InputError(self.path, f"no video stream (contains: {', '.join(kinds)})")
            self.stream = stream
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = threads
            self._time_base: Fraction = stream.time_base or Fraction(1, 90000)
            self._rate: Fraction | None = stream.average_rate or stream.guessed_rate
            self._duration, self._start_time = self._timing()
            self._timecode = read_timecode(self.container, stream)
            self.stats = DecodeStats(
                expected=stream.frames or self._estimate_frames(),
                declared_end=self._start_time + self._duration if self._duration else None,
                frame_step=1 / float(self._rate) if self._rate else None,
            )
            self._frames = self._decode(first_index=0)
            first = next(self._frames, None)
        except BaseException:
            self.container.close()
            raise
        if first is None:
            self.container.close()
            raise InputError(self.path, "no decodable video frames")
        self._first: Frame | None = first
        self._first_pts = first.pts

    # -- FrameSource properties --------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        return self._size

    @property
    def time_base(self) -> Fraction:
        return self._time_base

    @property
    def frame_rate(self) -> Fraction | None:
        return self._rate

    @property
    def rate(self) -> Fraction | None:
        """The nominal frame rate (same as :attr:`frame_rate`)."""
        return self._rate

    @property
    def colour(self) -> ColourTags:
        return self._colour

    @property
    def frame_count(self) -> int:
        return self.stats.expected

    @property
    def duration(self) -> float | None:
        return self._duration

    @property
    def start_time(self) -> float:
        return self._start_time

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.container.metadata)

    @property
    def audio_path(self) -> Path | None:
        # Any stream besides the picture: the sink copies audio and says which others it drops.
        return self.path if len(self.container.streams) > 1 else None

    @property
    def lost_frames(self) -> int:
        return self.stats.lost

    @property
    def timecode(self) -> Timecode | None:
        return self._timecode

    @property
    def pix_fmt(self) -> str | None:
        return self._pix_fmt

    def _timing(self) -> tuple[float | None, float]:
        """(duration, start time) of the video stream in seconds, from the container."""
        s = self.stream
        start = float(s.start_time * s.time_base) if s.start_time is not None and s.time_base else 0.0
        if s.duration and s.time_base:
            return float(s.duration * s.time_base), start
        if self.container.duration:
            return self.container.duration / 1_000_000, start
        return None, start

    def _estimate_frames(self) -> int:
        s = self.stream
        if s.duration and s.time_base and self._rate:
            return int(round(float(s.duration * s.time_base * self._rate)))
        return 0

    # -- decoding ---------------------------------------------------------
    def _setup(self, frame: av.VideoFrame) -> None:
        """Decide rotation, colour and size from the first decoded frame."""
        self._ready = True
        self.rotation = int(round(frame.rotation)) % 360
        if self.rotation % 90:
            log.warning("%s: rotation %s is not a multiple of 90 degrees; ignoring it", self.path, frame.rotation)
            self.rotation = 0
        self._colour: ColourTags = tags_from_frame(frame, frame.height)
        self._pix_fmt = frame.format.name
        self.deep = self._want_deep and bit_depth(frame.format) > 8
        sar = self.stream.codec_context.sample_aspect_ratio
        w = frame.width * float(sar) if sar and sar > 0 else frame.width
        disp = (frame.height, w) if self.rotation % 180 else (w, frame.height)
        self._size: tuple[int, int] = self._size_policy.target(*disp)
        out_w, out_h = self._size
        # swscale works in stored orientation: scale to the pre-rotation size.
        self._scale_to = (out_h, out_w) if self.rotation % 180 else (out_w, out_h)
        shrinking = self._scale_to[0] * self._scale_to[1] < frame.width * frame.height
        # AREA averages all source pixels when shrinking (no aliasing); BICUBIC when enlarging.
        self._interp = Interpolation.AREA if shrinking else Interpolation.BICUBIC

    def _to_frame(self, frame: av.VideoFrame, index: int, pts: int) -> Frame:
        if not self.deep:
            return Frame(index=index, pts=pts, time_base=self._time_base, rgb=self._to_rgb(frame))
        rgb, alpha = decode_float(frame, self._colour, self._scale_to, self._interp, self._threads)
        return Frame(index=index, pts=pts, time_base=self._time_base, rgb=self._rotate(rgb),
                     alpha=None if alpha is None else self._rotate(alpha))

    def _rotate(self, plane: np.ndarray) -> np.ndarray:
        # frame.rotation is the counter-clockwise angle the display matrix turns
        # the stored picture by (av_display_rotation_get); np.rot90 turns the same way.
        return np.ascontiguousarray(np.rot90(plane, k=self.rotation // 90)) if self.rotation else plane

    def _to_rgb(self, frame: av.VideoFrame) -> np.ndarray:
        w, h = self._scale_to
        rgb = frame.to_ndarray(
            width=w, height=h, format="rgb24", interpolation=self._interp,
            src_colorspace=self._colour.matrix, src_color_range=self._colour.swscale_range, threads=self._threads,
        )
        return self._rotate(rgb)

    def _index_of(self, pts: int) -> int:
        """Index of the frame shown at ``pts`` after a seek: exact for constant-rate
        sources, the nearest nominal slot for variable-rate ones."""
        if not self._rate:
            return 0
        return max(0, int(round(float((pts - self._first_pts) * self._time_base * self._rate))))

    def _decode(self, first_index: int | None, anchor: tuple[int, int] | None = None) -> Iterator[Frame]:
        """Decode from the demuxer's position; ``first_index`` None: derive it from the first pts (after a
        seek), or from ``anchor`` ``(index, pts)``: frames before its pts are numbered before its index."""
        index = first_index
        last_pts: int | None = None
        step = int(round(1 / (self._rate * self._time_base))) if self._rate and self._time_base else 1
        for packet in self.container.demux(self.stream):
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                # Corrupt or truncated data: keep what decodes, count the rest (docs/architecture.md, "Conventions").
                self.stats.errors += 1
                log.debug("%s: decode error at packet pts=%s: %s", self.path, packet.pts, exc)
                continue
            for frame in frames:
                if not self._ready:
                    self._setup(frame)
                pts = frame.pts
                if pts is None:
                    pts = (last_pts + step) if last_pts is not None else 0
                elif last_pts is not None and pts <= last_pts:
                    # Encoders need strictly increasing pts; a duplicate would be dropped.
                    log.debug("%s: non-increasing pts %s after %s", self.path, pts, last_pts)
                    pts = last_pts + 1
                last_pts = pts
                if index is None and anchor is not None:
                    if pts < anchor[1]:
                        continue  # between the keyframe and the anchor: before the range
                    index = anchor[0]
                if index is None:
                    index = self._index_of(pts)
                out = self._to_frame(frame, index, pts)
                index += 1
                self.stats.decoded += 1
                self.stats.last_time = out.time
                yield out

    def _from_start(self) -> Iterator[Frame]:
        first, self._first = self._first, None
        if first is not None:
            yield first
        yield from self._frames

    def _seek(self, start: int, anchor: tuple[int, int] | None = None) -> Iterator[Frame]:
        """Seek to the keyframe at or before frame ``start`` and decode forward from it.

        ``anchor`` ``(index, pts)`` (at or before ``start``, see :class:`FrameRange`) is
        exact; without it the pts is estimated from the average rate, rounded down so
        the seek never lands past the frame.
        """
        if anchor is not None:
            target = anchor[1]
        else:
            ticks = Fraction(start) / (Fraction(self._rate) * self._time_base) if self._rate else Fraction(0)
            target = self._first_pts + math.floor(ticks)
        self._first = None
        try:
            self.container.seek(target, stream=self.stream, backward=True, any_frame=False)
        except av.FFmpegError as exc:
            raise InputError(self.path, f"cannot seek to frame {start} ({exc})") from None
        return self._decode(first_index=None if start else 0, anchor=anchor)

    def frames(self, range: FrameRange | None = None) -> Iterator[Frame]:
        """Frames in ``range`` (all by default); the first call from frame 0 decodes straight on."""
        start = range.start if range is not None else 0
        stop = range.stop if range is not None else None
        anchor = range.anchor if range is not None else None
        frames = self._from_start() if self._first is not None and start == 0 else self._seek(start, anchor)
        for frame in frames:
            if stop is not None and frame.index >= stop:
                return
            if frame.index >= start:
                yield frame

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    # -- lifetime ---------------------------------------------------------
    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> "VideoReader":
        return self
