"""What a media file holds: streams, timing, rotation, audio (``flowstyle probe``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from ..errors import InputError
from .timecode import read_timecode


@dataclass(frozen=True)
class AudioInfo:
    index: int
    codec: str
    sample_rate: int
    channels: int
    layout: str
    duration: float | None


@dataclass(frozen=True)
class VideoInfo:
    index: int
    codec: str
    width: int
    height: int
    pix_fmt: str
    time_base: Fraction
    average_rate: Fraction | None
    frames: int
    duration: float | None
    rotation: int
    sample_aspect_ratio: Fraction | None

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown: square pixels, rotation applied."""
        w, h = self.width, self.height
        if self.sample_aspect_ratio and self.sample_aspect_ratio > 0 and self.sample_aspect_ratio != 1:
            w = max(1, round(w * self.sample_aspect_ratio))
        return (h, w) if self.rotation % 180 else (w, h)


@dataclass(frozen=True)
class MediaInfo:
    path: str
    format: str
    duration: float | None
    video: list[VideoInfo] = field(default_factory=list)
    audio: list[AudioInfo] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    timecode: str | None = None  # start timecode of the first video stream (issue #13), drop-frame with ';'


def open_input(path: str | Path) -> av.container.InputContainer:
    """Open a media file for reading, turning libav errors into one-line :class:`InputError`."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file")
    if p.is_dir():
        raise InputError(p, "is a directory, not a media file")
    try:
        return av.open(str(p), mode="r")
    except PermissionError:
        raise InputError(p, "permission denied") from None
    except av.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(p, f"not a readable media file ({reason})") from None


def first_video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The first real video stream; cover art (attached pictures) does not count."""
    for s in container.streams.video:
        if not s.disposition & av.stream.Disposition.attached_pic:
            return s
    return None


def probe(path: str | Path) -> MediaInfo:
    """Describe ``path`` without decoding it (rotation is read from the first frame)."""
    with open_input(path) as c:
        videos, audios, other = [], [], []
        for s in c.streams:
            tb = s.time_base
            dur = float(s.duration * tb) if s.duration is not None and tb else None
            if s.type == "video" and not s.disposition & av.stream.Disposition.attached_pic:
                cc = s.codec_context
                rotation = _peek_rotation(path, s.index)
                videos.append(VideoInfo(
                    index=s.index, codec=cc.name, width=cc.width, height=cc.height,
                    pix_fmt=cc.pix_fmt or "?", time_base=tb, average_rate=s.average_rate,
                    frames=s.frames, duration=dur, rotation=rotation,
                    sample_aspect_ratio=cc.sample_aspect_ratio,
                ))
            elif s.type == "audio":
                cc = s.codec_context
                audios.append(AudioInfo(index=s.index, codec=cc.name, sample_rate=cc.sample_rate,
                                        channels=cc.channels, layout=cc.layout.name, duration=dur))
            else:
                other.append(f"#{s.index} {s.type} {s.codec_context.name if s.codec_context else ''}".strip())
        duration = c.duration / 1_000_000 if c.duration else None
        tc = read_timecode(c, first_video_stream(c)) if videos else None
        return MediaInfo(path=str(path), format=c.format.name, duration=duration, video=videos, audio=audios, other=other,
                         timecode=str(tc) if tc is not None else None)


def _peek_rotation(path: str | Path, index: int) -> int:
    """Rotation from the display matrix of the first decodable frame (0 if none decodes)."""
    try:
        with av.open(str(path)) as c:
            stream = c.streams[index]
            for frame in c.decode(stream):
                return int(round(frame.rotation)) % 360
    except av.FFmpegError:
        pass
    return 0
