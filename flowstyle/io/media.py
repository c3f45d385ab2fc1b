"""The source, range and sink of a file-to-file render (docs/architecture.md, "Seams").

:func:`open_render` puts the I/O building blocks together in one place for
``render()``, ``render_gatys()``, ``batch`` and ``conform``:

- paths are checked before anything is opened (an image-sequence input is a
  pattern or a folder, and is never overwritten; an output appears whole or not
  at all, see :mod:`flowstyle.io.atomic`);
- ``--codec/--profile/--pix-fmt`` are resolved against the output's container
  (:func:`flowstyle.io.codecs.resolve`) before the source is decoded, so a bad
  choice is one line and nothing is written;
- the source is read deep (float, with alpha) only when the output can hold more
  than 8 bits (io/depth.py: 8-bit sources stay on the uint8 path);
- ``--in/--out`` become a :class:`~flowstyle.io.source.FrameRange`
  (:func:`flowstyle.io.timecode.parse_position`), checked against the clip;
- the output's timecode is the source's shifted by the in-point, and an image
  sequence output is numbered like its source (or from the in-point).
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ..errors import ConfigError, InputError, OutputError
from .atomic import check_paths
from .codecs import resolve
from .depth import bit_depth
from .formats import get_sink, get_source
from .reader import SizePolicy
from .sequence import IMAGE_FORMATS, find_sequence, image_pix_fmt, is_sequence
from .sink import FrameSink
from .source import FrameRange, FrameSource, ReadOptions
from .timecode import Timecode, parse_position
from .writer import EncodeOptions

DEFAULT_PREROLL = 12  # frames: the multi-band propagation's coarse band settles within ~10 (alpha_low 0.9)


@dataclass(frozen=True)
class RangeOptions:
    """``--in/--out`` (timecode ``01:00:10:12``, seconds ``12.5s`` or a frame number) and ``--preroll``.

    Kept as the text typed: what a position means depends on the clip (its rate and
    start timecode), known only once it is open.
    """

    in_point: str | None = None
    out_point: str | None = None
    preroll: int = DEFAULT_PREROLL
    # False: the range keeps the source's clock and timecode, so it is one segment of a
    # longer render that a finisher joins by stream copy; True is the editor's
    # range, whose clock starts at its first frame.
    trim: bool = True
    anchor: tuple[int, int] | None = None  # (frame, pts) seen by an earlier pass: see FrameRange.anchor

    def __post_init__(self) -> None:
        if self.preroll < 0:
            raise ConfigError("preroll", f"must be 0 or more frames, got {self.preroll}")


@dataclass
class RenderIO:
    """An open source, the frames to write (None: all) and how to open the sink."""

    source: FrameSource
    frames: FrameRange | None
    open_sink: Callable[[], FrameSink]


def check_media_paths(src: Path, dst: Path, overwrite: bool) -> None:
    """:func:`~flowstyle.io.atomic.check_paths` extended to image sequences (patterns and folders)."""
    if not is_sequence(src) and not is_sequence(dst):
        check_paths(src, dst, overwrite)
        return
    if is_sequence(src):
        pattern, files = find_sequence(src)  # InputError: no such folder, no images, several sequences
        first = files[min(files)]
    else:
        if not src.exists():
            raise InputError(src, "no such file")
        if src.is_dir():
            raise InputError(src, "is a directory, not a media file")
        pattern = first = src
    if not is_sequence(dst):
        check_paths(first, dst, overwrite)  # the output checks; an image of the input stands for it
        return
    if dst.is_dir():
        raise OutputError(dst, "is a folder; give an image pattern such as out/shot_%06d.png")
    if is_sequence(src) and dst.parent.resolve() == pattern.parent.resolve() and dst.name == pattern.name:
        raise OutputError(dst, "is the input sequence; choose another pattern or folder")
    image_pix_fmt(dst, False)  # one %d field, a known image type
    folder = dst.parent
    if not folder.is_dir() and not folder.parent.is_dir():
        raise OutputError(dst, f"output folder {folder.parent} does not exist")
    if folder.is_dir() and not overwrite:
        field = re.search(r"%0?\d*d", dst.name)
        assert field is not None
        prefix, suffix = dst.name[:field.start()], dst.name[field.end():]
        taken = [e.name for e in os.scandir(folder) if e.name.startswith(prefix) and e.name.endswith(suffix)
                 and e.name[len(prefix):len(e.name) - len(suffix)].isdigit()]
        if taken:
            raise OutputError(dst, f"{len(taken)} images of this sequence already exist (first: {min(taken)}); "
                              "pass --overwrite to replace them")


def output_depth(dst: Path, encode: EncodeOptions) -> int:
    """The bits per channel ``dst`` will be written with; raises OutputError for a bad codec choice."""
    if is_sequence(dst):
        if encode.codec or encode.profile:
            raise OutputError(dst, "image sequences take --pix-fmt only (--codec and --profile are for video files)")
        fmt = IMAGE_FORMATS[dst.suffix.lower()]
        pix_fmt = image_pix_fmt(dst, fmt.deep is not None, pix_fmt=encode.pix_fmt)
        return bit_depth(pix_fmt)
    return resolve(dst, encode.codec, encode.profile, encode.pix_fmt).bit_depth


class SpanError(ValueError):
    """An in or out point that does not fit the clip; ``point`` is ``"in"`` or ``"out"``: the render names
    the file with it, the studio the page's field."""

    def __init__(self, point: str, message: str) -> None:
        super().__init__(message)
        self.point = point


def place_span(options: RangeOptions, rate: Fraction, timecode: Timecode | None, count: int) -> tuple[int, int | None]:
    """``--in/--out`` as (start, stop) frame indices of a clip of ``count`` frames (0: unknown), stop None
    for the clip's end: the one place both the render and the studio check a span.

    Raises:
        InputError: text that is no position (named by its flag).
        SpanError: an in-point not before the out-point, or outside the clip.
    """
    start = parse_position(options.in_point, rate, timecode, "--in") if options.in_point else 0
    stop = parse_position(options.out_point, rate, timecode, "--out") if options.out_point else None
    if count and start >= count:
        raise SpanError("in", f"--in {options.in_point} (frame {start}) is past the clip's last frame ({count} frames)")
    if count and stop is not None and stop > count:
        raise SpanError("out", f"--out {options.out_point} (frame {stop}) is past the clip's end ({count} frames)")
    if stop is not None and stop <= start:
        raise SpanError("out", f"--in {options.in_point or 0} (frame {start}) must come before "
                        f"--out {options.out_point} (frame {stop})")
    return start, stop


def frame_range(source: FrameSource, options: RangeOptions) -> FrameRange | None:
    """``--in/--out`` as frame indices of ``source``, or None for the whole clip.

    Raises:
        InputError: text that is no position (named by its flag), or an in-point not
            before the out-point or outside the clip (named by the file).
    """
    if options.in_point is None and options.out_point is None:
        return None
    rate = source.frame_rate
    if rate is None:
        raise InputError(source.path, "has no frame rate, so --in/--out cannot be placed")
    try:
        start, stop = place_span(options, rate, source.timecode, source.frame_count)
    except SpanError as exc:
        raise InputError(source.path, str(exc)) from None
    return FrameRange(start, stop, options.anchor)


def open_render(src: Path, dst: Path, size: SizePolicy, encode: EncodeOptions, read: ReadOptions,
                span: RangeOptions, threads: int, copy_audio: bool, overwrite: bool,
                deep: bool = True) -> RenderIO:
    """Check the paths and choices, open the source and decide the range; the sink opens on ``open_sink()``.

    ``deep`` False keeps every frame 8-bit (Gatys optimises uint8 frames).
    """
    check_media_paths(src, dst, overwrite)
    depth = output_depth(dst, encode)
    read = ReadOptions(read.fps, read.allow_gaps, deep and depth > 8)
    encode = encode if encode.threads else dataclasses.replace(encode, threads=threads)
    source = get_source(src, size, threads=threads, options=read)
    try:
        frames = frame_range(source, span)
    except BaseException:
        source.close()
        raise
    trim = frames is not None and span.trim
    start = frames.start if trim else 0
    tc = source.timecode
    spec = dataclasses.replace(source.spec, timecode=tc.shifted(start) if tc is not None else None,
                               first_number=source.number(frames.start if frames is not None else 0), trim=trim)

    def open_sink() -> FrameSink:
        return get_sink(dst, spec, encode, audio_from=source.audio_path if copy_audio else None)

    return RenderIO(source, frames, open_sink)
