"""SMPTE timecode: parse, shift, read from a source and write to an output.

A frozen :class:`Timecode` (frame count since 00:00:00:00, rate, drop-frame
flag), in the manner of PySceneDetect's ``FrameTimecode``; the arithmetic,
drop-frame included, is OpenTimelineIO's ``opentime`` (``from_timecode``,
``to_timecode``), not ours. Drop-frame is written with ``;`` before the
frames (01:00:10;12) and exists only at 29.97 and 59.94 fps; 23.976 is always
non-drop, counted in 24s.

Where timecode lives in files, as libavformat exposes it to PyAV: a mov/mp4
tmcd track shows as a ``data`` stream with ``metadata["timecode"]`` (also
copied to the video stream's metadata); mxf and some mkv put it in the format
metadata. Setting ``stream.metadata["timecode"]`` on the output video stream
before the first packet is muxed makes the mov muxer write a tmcd track (and
mkv a TIMECODE tag).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

import av
from opentimelineio import opentime

from ..errors import InputError

_TC = re.compile(r"^\s*(\d{1,2})[:;.](\d{2})[:;.](\d{2})([:;.])(\d{2})\s*$")
_SECONDS = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*s\s*$")
_FRAMES = re.compile(r"^\s*(\d+)\s*$")


def _drop_frame_allowed(rate: Fraction) -> bool:
    """Drop-frame counting exists for the NTSC rates 30000/1001 and 60000/1001 only."""
    return rate.denominator == 1001 and rate.numerator in (30000, 60000)


@dataclass(frozen=True, order=True)
class Timecode:
    """A position as SMPTE timecode.

    Attributes:
        frame: frames since 00:00:00:00 (a real count: drop-frame labels skip numbers, frames are never skipped).
        rate: frames per second, exact (``Fraction(24000, 1001)`` for 23.976).
        drop_frame: count labels in drop-frame (29.97/59.94 only).
    """

    frame: int
    rate: Fraction
    drop_frame: bool = False

    def __post_init__(self) -> None:
        if self.frame < 0:
            raise ValueError(f"timecode frame must be >= 0, got {self.frame}")
        if self.drop_frame and not _drop_frame_allowed(self.rate):
            raise ValueError(f"drop-frame timecode needs 29.97 or 59.94 fps, got {float(self.rate):.3f}")

    @classmethod
    def from_string(cls, text: str, rate: Fraction, what: str = "timecode") -> "Timecode":
        """Parse ``HH:MM:SS:FF`` (or ``HH:MM:SS;FF``, drop-frame) at ``rate``.

        Raises:
            InputError: one line naming ``what`` (the flag or file) when the text is not a timecode.
        """
        m = _TC.match(text)
        if not m:
            raise InputError(what, f"'{text}' is not a timecode; use HH:MM:SS:FF (HH:MM:SS;FF for drop-frame)")
        drop = m.group(4) == ";" and _drop_frame_allowed(rate)
        nominal = round(rate)
        if int(m.group(5)) >= nominal or int(m.group(2)) >= 60 or int(m.group(3)) >= 60:
            raise InputError(what, f"'{text}' is not a timecode at {float(rate):.3f} fps (frames 00-{nominal - 1:02d}, "
                             "minutes and seconds 00-59)")
        if drop and int(m.group(3)) == 0 and int(m.group(2)) % 10 and int(m.group(5)) < 2 * (nominal // 30):
            # Drop-frame skips these labels at the start of every minute not divisible by 10.
            raise InputError(what, f"'{text}' does not exist in drop-frame timecode (labels ;00 and ;01 of "
                             "minutes not divisible by 10 are skipped)")
        label = f"{m.group(1)}:{m.group(2)}:{m.group(3)}{';' if drop else ':'}{m.group(5)}"
        try:
            value = opentime.from_timecode(label, float(rate)).value
        except ValueError as exc:  # e.g. a label drop-frame skips (00:01:00;00)
            raise InputError(what, f"'{text}' is not a timecode at {float(rate):.3f} fps ({exc})") from None
        return cls(int(round(value)), Fraction(rate), drop)

    def __str__(self) -> str:
        """``HH:MM:SS:FF``, with ``;`` before the frames when drop-frame."""
        return opentime.to_timecode(opentime.RationalTime(self.frame, float(self.rate)), float(self.rate),
                                    self.drop_frame)

    def __add__(self, frames: int) -> "Timecode":
        return Timecode(self.frame + frames, self.rate, self.drop_frame)

    def shifted(self, frames: int) -> "Timecode":
        """This timecode ``frames`` later (a range's in-point: the first written frame's label)."""
        return self + frames

    def to_rational_time(self) -> opentime.RationalTime:
        """As OpenTimelineIO's RationalTime (for timelines: the source range of a clip)."""
        return opentime.RationalTime(self.frame, float(self.rate))


def parse_position(text: str, rate: Fraction, start: Timecode | None = None, what: str = "--in") -> int:
    """A frame index in a clip from ``--in``/``--out`` text: timecode, seconds or a frame number.

    ``"01:00:10:12"`` is a timecode label, counted from the clip's own ``start``
    timecode (00:00:00:00 if it has none); ``"12.5s"`` is seconds from the
    clip's first frame, rounded to the nearest frame; ``"300"`` is a 0-based frame index.

    Raises:
        InputError: one line naming ``what`` for text that is none of these, or a
            timecode before the clip's start.
    """
    if m := _FRAMES.match(text):
        return int(m.group(1))
    if m := _SECONDS.match(text):
        return int(round(float(m.group(1)) * rate))
    if not _TC.match(text):
        raise InputError(what, f"'{text}' is not a position; use a timecode (01:00:10:12), seconds (12.5s) "
                         "or a frame number (300)")
    tc = Timecode.from_string(text, rate, what)
    origin = start.frame if start is not None else 0
    if tc.frame < origin:
        raise InputError(what, f"{text} is before the clip's first frame ({start})")
    return tc.frame - origin


def _rate(stream: av.video.stream.VideoStream) -> Fraction | None:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return Fraction(rate) if rate else None


def _tag(metadata: dict[str, str]) -> str | None:
    """The ``timecode`` tag, any case (matroska stores it as ``TIMECODE``)."""
    return next((v for k, v in metadata.items() if k.lower() == "timecode"), None)


def read_timecode(container: av.container.InputContainer, stream: av.video.stream.VideoStream | None = None
                  ) -> Timecode | None:
    """The start timecode of ``container``'s video (first video stream unless given), or None.

    Looked up, in this order, on the video stream's metadata, a tmcd data stream's,
    then the format's. Text that does not parse is ignored (None), since a
    bad tag must not stop a render; drop-frame follows the ``;`` separator.
    """
    if stream is None:
        stream = next(iter(container.streams.video), None)
        if stream is None:
            return None
    rate = _rate(stream)
    if rate is None:
        return None
    candidates = [_tag(stream.metadata)]
    candidates += [_tag(s.metadata) for s in container.streams if s.type == "data"]
    candidates.append(_tag(container.metadata))
    for text in candidates:
        if text:
            try:
                return Timecode.from_string(text, rate)
            except InputError:
                continue
    return None


def write_timecode(stream: av.video.stream.VideoStream, timecode: Timecode) -> None:
    """Tag the output video ``stream`` with ``timecode`` (before the first mux: mov writes a tmcd track)."""
    stream.metadata["timecode"] = str(timecode)
