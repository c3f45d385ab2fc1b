"""Where frames come from: the :class:`FrameSource` seam (docs/architecture.md, "Seams").

Modelled on PySceneDetect's ``VideoStream``: one abstract class with typed
properties, several backends (today a video file, :class:`~flowstyle.io.reader.VideoReader`;
image sequences and cameras plug in beside it through :mod:`flowstyle.io.formats`),
and one contract test suite run over all of them (tests/test_seams.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

from ..errors import ConfigError
from .colour import ColourTags
from .frames import Frame
from .timecode import Timecode


@dataclass(frozen=True)
class FrameRange:
    """Frames ``[start, stop)`` by index in presentation order; ``stop`` None runs to the end.

    ``anchor``: ``(index, pts)`` of a frame at or before ``start`` whose pts an earlier
    pass over the file saw (a distributed plan's scan). A video source then
    seeks to that pts and numbers frames from it, instead of estimating the pts from
    the average rate: on variable-rate files (phones; a loop with a gap) the estimate
    landed a GOP early, and the numbering after the seek could drift by a frame.
    """

    start: int = 0
    stop: int | None = None
    anchor: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.start < 0:
            raise ConfigError("start", f"the in-point must be frame 0 or later, got {self.start}")
        if self.stop is not None and self.stop <= self.start:
            raise ConfigError("stop", f"the out-point ({self.stop}) must come after the in-point ({self.start})")
        if self.anchor is not None and not 0 <= self.anchor[0] <= self.start:
            raise ConfigError("anchor", f"frame {self.anchor[0]} must be at or before the in-point ({self.start})")

    def __contains__(self, index: int) -> bool:
        return index >= self.start and (self.stop is None or index < self.stop)

    @property
    def length(self) -> int | None:
        return None if self.stop is None else self.stop - self.start


@dataclass(frozen=True)
class ReadOptions:
    """How a source is read, beyond its size.

    Attributes:
        fps: frame rate of an image sequence (None: 24, said in a log line); videos carry their own.
        allow_gaps: a gap in a sequence's numbering is a warning (the frame before is held), not an error.
        deep: deliver float32 frames in [0, 1] (and alpha) when the source has more than 8 bits;
            set when the output can hold them. 8-bit sources stay uint8 either way.
    """

    fps: float | None = None
    allow_gaps: bool = False
    deep: bool = False

    def __post_init__(self) -> None:
        if self.fps is not None and self.fps <= 0:
            raise ConfigError("fps", f"must be positive, got {self.fps}")


@dataclass(frozen=True)
class StreamSpec:
    """What a sink needs to know of the pictures it will be given (see :func:`flowstyle.io.formats.get_sink`).

    Attributes:
        size: (width, height) of the frames, upright.
        time_base: seconds per pts unit of the frames.
        frame_rate: nominal rate (rate control, container headers); timing comes from the pts.
        colour: the tags the pictures were decoded with and the output is tagged with.
        timecode: SMPTE timecode of the first frame written (the source's, shifted by a range's in-point), or None.
        metadata: container metadata worth carrying over (title, creation time, ...).
        first_number: the number of the first frame written, for outputs that number their
            frames (image sequences): the source's own numbering, or a range's in-point.
        trim: the output's clock starts at its first frame and audio is cut to the frames
            written (a range render); False keeps the source's timing as it is.
    """

    size: tuple[int, int]
    time_base: Fraction
    frame_rate: Fraction | None
    colour: ColourTags
    timecode: Timecode | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    first_number: int = 0
    trim: bool = False


class FrameSource(ABC):
    """A stream of upright RGB :class:`~flowstyle.io.frames.Frame`\\ s with their own timestamps.

    Properties are known once the source is open (a source may decode its first
    frame to learn size and colour). Use it as a context manager; ``frames()`` may
    be called more than once (each call seeks).
    """

    path: Path

    @property
    @abstractmethod
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames delivered (after scaling and rotation)."""

    @property
    @abstractmethod
    def time_base(self) -> Fraction:
        """Seconds per pts unit."""

    @property
    @abstractmethod
    def frame_rate(self) -> Fraction | None:
        """Nominal frame rate (None when the source does not say); VFR sources vary around it."""

    @property
    @abstractmethod
    def colour(self) -> ColourTags:
        """Colour tags of the pictures."""

    @property
    def timecode(self) -> Timecode | None:
        """SMPTE timecode of the first frame, or None (not every source has one)."""
        return None

    @property
    def pix_fmt(self) -> str | None:
        """The pixel format of the stored pictures (``yuv422p10le``), or None when unknown."""
        return None

    def number(self, index: int) -> int:
        """The number a numbered source (an image sequence) gives frame ``index``; a video's is the index."""
        return index

    @property
    @abstractmethod
    def frame_count(self) -> int:
        """The source's own estimate of its frame count (0 when unknown); VFR containers may overstate it."""

    @property
    def duration(self) -> float | None:
        """Seconds from the first frame's start to the last frame's end, if known."""
        return None

    @property
    def start_time(self) -> float:
        """Presentation time of the first frame in seconds."""
        return 0.0

    @property
    def metadata(self) -> Mapping[str, str]:
        """Container-level metadata worth carrying to the output."""
        return {}

    @property
    def audio_path(self) -> Path | None:
        """A file whose audio streams a sink may copy (None: the source has no audio)."""
        return None

    @property
    def lost_frames(self) -> int:
        """Frames the source announced that could not be delivered (known after iteration)."""
        return 0

    @property
    def spec(self) -> StreamSpec:
        """What a sink needs to write this source's frames."""
        return StreamSpec(self.size, self.time_base, self.frame_rate, self.colour, self.timecode, dict(self.metadata))

    def fraction(self, frame: Frame) -> float | None:
        """How far into the source ``frame`` ends, 0-1 by media time (None when the duration is unknown).

        The end of the frame, not its start: frame k of n ends at (k + 1) / n of the
        clip. Counting from the start made the first estimates of the total one frame
        duration short, and the progress total jumped (132 -> 176 -> 132 frames on
        bigbuckbunny).
        """
        duration = self.duration
        if not duration:
            return None
        step = 1 / float(self.frame_rate) if self.frame_rate else 0.0
        return min(1.0, max(0.0, (frame.time - self.start_time + step) / duration))

    @abstractmethod
    def frames(self, range: FrameRange | None = None) -> Iterator[Frame]:
        """The frames in ``range`` (all by default), in presentation order, with their source indices."""

    @abstractmethod
    def close(self) -> None:
        """Release files and decoders."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
