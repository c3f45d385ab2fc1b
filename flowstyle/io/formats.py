"""Sources and sinks by name or by path, in the manner of whisper's ``get_writer``.

To add a format (an image sequence, a camera, another container family), write a
:class:`~flowstyle.io.source.FrameSource` or :class:`~flowstyle.io.sink.FrameSink`
and add one :class:`SourceFormat` / :class:`SinkFormat` entry, either here or with
:func:`register_source` / :func:`register_sink`. Entries are tried in order and the
first whose ``matches(path)`` is true opens the path; the video file entries come
last and match anything, so libav has the final word on what it can open.
Then add a fixture to tests/test_seams.py: the contract suite runs over every entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from .reader import SizePolicy, VideoReader
from .sequence import ImageSequenceWriter, SequenceSource, is_sequence
from .sink import AtomicSink, FrameSink
from .source import FrameSource, ReadOptions, StreamSpec
from .writer import EncodeOptions, VideoWriter


@dataclass(frozen=True)
class SourceFormat:
    """A kind of source: ``open(path, size, threads, options)`` when ``matches(path)``."""

    name: str
    matches: Callable[[Path], bool]
    open: Callable[[Path, SizePolicy, int, ReadOptions], FrameSource]


@dataclass(frozen=True)
class SinkFormat:
    """A kind of sink: ``open(path, spec, options, audio_from)`` when ``matches(path)``.

    ``audio_from`` is a file whose audio streams the sink copies, or None.
    """

    name: str
    matches: Callable[[Path], bool]
    open: Callable[[Path, StreamSpec, EncodeOptions, Path | None], FrameSink]


def _any(path: Path) -> bool:
    return True


def _open_video_sink(path: Path, spec: StreamSpec, options: EncodeOptions, audio_from: Path | None) -> FrameSink:
    return AtomicSink(path, lambda tmp: VideoWriter(tmp, spec.size, spec.time_base, spec.frame_rate, spec.colour,
                                                    options, audio_source=audio_from, metadata=dict(spec.metadata),
                                                    display_path=path, timecode=spec.timecode, trim=spec.trim))


def _open_sequence_sink(path: Path, spec: StreamSpec, options: EncodeOptions, audio_from: Path | None) -> FrameSink:
    # Images carry no audio and no timecode; the writer is atomic itself (a temporary folder).
    # Existing images were refused (or allowed by --overwrite) by the caller's path check.
    return ImageSequenceWriter(path, spec.size, spec.time_base, spec.frame_rate, spec.colour,
                               first_number=spec.first_number, pix_fmt=options.pix_fmt, overwrite=True)


def _open_sequence(path: Path, size: SizePolicy, threads: int, options: ReadOptions) -> FrameSource:
    return SequenceSource(path, size, options.fps, options.allow_gaps, options.deep, threads)


def _open_video(path: Path, size: SizePolicy, threads: int, options: ReadOptions) -> FrameSource:
    return VideoReader(path, size, threads, deep=options.deep)


# Image sequences (a printf pattern or a folder) first; the video entries match anything.
SOURCES: list[SourceFormat] = [SourceFormat("sequence", is_sequence, _open_sequence),
                               SourceFormat("video", _any, _open_video)]
SINKS: list[SinkFormat] = [SinkFormat("sequence", is_sequence, _open_sequence_sink),
                           SinkFormat("video", _any, _open_video_sink)]


def register_source(fmt: SourceFormat) -> None:
    """Add ``fmt`` ahead of the catch-all video file entry (replacing one of the same name)."""
    _register(SOURCES, fmt)


def register_sink(fmt: SinkFormat) -> None:
    """Add ``fmt`` ahead of the catch-all video file entry (replacing one of the same name)."""
    _register(SINKS, fmt)


def _register(entries: list, fmt: SourceFormat | SinkFormat) -> None:
    entries[:] = [e for e in entries if e.name != fmt.name]
    entries.insert(len(entries) - 1 if entries and entries[-1].name == "video" else len(entries), fmt)


def _choose(entries: list, path: Path, format: str | None, kind: str) -> SourceFormat | SinkFormat:
    if format is not None:
        for entry in entries:
            if entry.name == format:
                return entry
        raise ConfigError("format", f"unknown {kind} format '{format}'; use one of {', '.join(e.name for e in entries)}")
    return next(e for e in entries if e.matches(path))


def get_source(path: str | Path, size: SizePolicy = SizePolicy(), threads: int = 0,
               format: str | None = None, options: ReadOptions = ReadOptions()) -> FrameSource:
    """Open ``path`` as a frame source (``format`` by name, or chosen by the path)."""
    path = Path(path)
    return _choose(SOURCES, path, format, "source").open(path, size, threads, options)


def get_sink(path: str | Path, spec: StreamSpec, options: EncodeOptions = EncodeOptions(),
             audio_from: Path | None = None, format: str | None = None) -> FrameSink:
    """Open a sink writing frames described by ``spec`` to ``path`` (appearing there only on ``close()``)."""
    path = Path(path)
    return _choose(SINKS, path, format, "sink").open(path, spec, options, audio_from)
