"""What a media file holds: streams, timing, rotation, audio (``flowstyle probe``)."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av

from ..errors import InputError
from .timecode import read_timecode

log = logging.getLogger(__name__)


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
    timecode: str | None = None  # start timecode of the first video stream, drop-frame with ';'


_damaged_warned: set[object] = set()
_damaged_lock = threading.Lock()


def open_container(file: str | Path, **kwargs) -> av.container.InputContainer:
    """``av.open(file)`` for reading, tolerant of metadata that is not valid UTF-8.

    Every input open goes through here (media, mattes, image files, segments, live
    sources). PyAV decodes container and stream metadata (e.g. a track's handler
    name) strictly by default, and one damaged byte there ends the open with a
    UnicodeDecodeError although the pictures are fine; "replace" reads such names
    with U+FFFD instead. The damage is then seen by looking for U+FFFD in the
    metadata PyAV has already decoded: a few small dicts, no second open, and the
    container stays tolerant of metadata decoded later (chapters); a file written
    with a real U+FFFD in its tags warns too, which is fair, as it marks an earlier
    loss. The warning is
    logged once per file (a render opens its input several times: frames,
    rotation, audio), as a log line, not an error (docs/architecture.md,
    "Conventions": the library logs, only the CLI draws).
    """
    container = av.open(str(file), mode="r", metadata_errors="replace", **kwargs)
    if _has_replacement(container.metadata) or any(_has_replacement(s.metadata) for s in container.streams):
        try:
            st = os.stat(file)
            key: object = (os.path.realpath(file), st.st_mtime_ns, st.st_size)
        except (OSError, ValueError):  # lavfi graphs and devices are no files
            key = str(file)
        with _damaged_lock:
            first = key not in _damaged_warned
            _damaged_warned.add(key)
        if first:
            log.warning("%s: damaged metadata (not valid UTF-8), read with replacement characters", file)
    return container


def _has_replacement(metadata: dict[str, str]) -> bool:
    return any("\ufffd" in k or "\ufffd" in v for k, v in metadata.items())


def open_input(path: str | Path) -> av.container.InputContainer:
    """Open a media file for reading, turning libav errors into one-line :class:`InputError`."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file")
    if p.is_dir():
        raise InputError(p, "is a directory, not a media file")
    try:
        return open_container(p)
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
        with open_container(path) as c:
            stream = c.streams[index]
            for frame in c.decode(stream):
                return int(round(frame.rotation)) % 360
    except av.FFmpegError:
        pass
    return 0
