"""Frames of a clip as still images to paint (``flowstyle frames``, issue #31's first step).

An artist paints a few frames of a shot and the render carries them to the rest
(``render --keyframe N=keys/00N.png``). The painted key must match the render's
frame pixel for pixel, so the frames are taken by the render's own reader:

- positions are what ``--in`` takes (:func:`flowstyle.io.timecode.parse_position`):
  a frame number, seconds (``2.5s``, rounded to a frame) or a timecode counted from
  the clip's start timecode (``;`` for drop-frame);
- the size is the render's :class:`~flowstyle.io.reader.SizePolicy` (``--max-width``,
  ``--size``), the picture upright and decoded with the clip's matrix and range,
  as :func:`~flowstyle.io.formats.get_source` delivers it to the render;
- a frame is named by the number a render gives it: its index for a video, its file
  number for an image sequence (``FrameSource.number``, what a sequence output of the
  render is numbered with), zero-padded to at least 4 digits;
- 8-bit sources give 8-bit PNG; deeper ones (10/12/16-bit, float: the render's
  ``deep`` test, more than 8 bits per component) 16-bit TIFF, which holds the
  render's float frames exactly (``format`` overrides the file type, not the depth).
  Alpha is not written: the render stylizes RGB.

One decode pass: seek to the first position and decode forward, keeping the
frames asked for. Every position, target and the folder are checked before any
file is written; each file appears whole (a temporary beside it, then a rename),
and the files are renamed into place only once every one has been encoded and
stored (docs/architecture.md, "Conventions": nothing partial).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import ConfigError, InputError, OutputError
from .atomic import AtomicFile, make_folder
from .colour import ColourTags
from .depth import bit_depth, encode_frame
from .formats import get_source
from .reader import SizePolicy
from .sequence import IMAGE_FORMATS, find_sequence, is_sequence
from .source import FrameRange, FrameSource, ReadOptions
from .timecode import parse_position

log = logging.getLogger(__name__)

# --format NAME -> file extension (a key in IMAGE_FORMATS).
EXPORT_FORMATS = {"png": ".png", "tiff": ".tif"}
MIN_DIGITS = 4


def split_positions(at: Iterable[str | int]) -> list[str]:
    """``--at`` values (each may hold several, comma-separated) as one list of position texts."""
    out: list[str] = []
    for value in at:
        out += [p.strip() for p in str(value).split(",")]
    return out


def _frames_of(source: FrameSource, texts: Sequence[str]) -> dict[int, str]:
    """{frame index: the text that named it}, checked against the clip.

    Raises:
        ConfigError: no position at all.
        InputError: text that is no position (named ``--at``), a position outside the clip
            (named with the clip's length), two positions on one frame (both named).
    """
    rate = source.frame_rate
    if rate is None:
        raise InputError(source.path, "has no frame rate, so --at positions cannot be placed")
    count = source.frame_count
    frames: dict[int, str] = {}
    for text in texts:
        index = parse_position(text, rate, source.timecode, "--at")
        if count and index >= count:
            raise InputError(source.path, f"--at {text} (frame {index}) is past the clip's end: it has {count} "
                             f"frames (0-{count - 1})")
        if index in frames:
            raise InputError(source.path, f"--at {frames[index]} and {text} are both frame {index}; "
                             "give each frame once")
        frames[index] = text
    return frames


def _estimated_length(source: FrameSource) -> int:
    """Frames in the clip by its duration and rate (0 when either is unknown)."""
    rate, duration = source.frame_rate, source.duration
    return int(round(duration * float(rate))) if rate and duration else 0


def _check_folder(folder: Path) -> None:
    """Refuse a folder that cannot be made or written, before anything is decoded."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        if existing == folder:
            raise OutputError(folder, "is a file, not a folder")
        raise OutputError(folder, f"cannot create this folder: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(folder, "output folder is not writable" if existing == folder
                          else f"cannot create this folder: {existing} is not writable")


def _input_files(clip: Path) -> set[Path]:
    """The files of an image-sequence input (never to be replaced by a key)."""
    return {p.resolve() for p in find_sequence(clip)[1].values()} if is_sequence(clip) else set()


def image_bytes(rgb: np.ndarray, encoder: str, pix_fmt: str, colour: ColourTags,
                options: dict[str, str] | None = None) -> bytes:
    """One image file's bytes (PNG, TIFF, ...) from uint8 or float32 RGB, by libavcodec's image encoder."""
    frame = encode_frame(rgb, pix_fmt, colour)
    frame.pts = 0
    cc = av.CodecContext.create(encoder, "w")
    cc.width, cc.height, cc.pix_fmt = frame.width, frame.height, pix_fmt
    cc.time_base = Fraction(1, 25)
    if options:
        cc.options = dict(options)
    packets = list(cc.encode(frame)) + list(cc.encode(None))
    return b"".join(bytes(p) for p in packets)


def export_frames(clip: str | Path, folder: str | Path, at: Iterable[str | int], size: SizePolicy = SizePolicy(),
                  format: str | None = None, overwrite: bool = False, read: ReadOptions = ReadOptions(),
                  threads: int = 0) -> list[Path]:
    """Write the frames of ``clip`` at the positions ``at`` into ``folder``; the paths written, in frame order.

    Args:
        clip: a video file or an image sequence (pattern or folder), as ``render`` takes it.
        folder: where the images go; made (parents too) if missing.
        at: positions as ``--in`` takes them (``48``, ``2.5s``, ``01:00:01:00``); a text may
            hold several, comma-separated.
        size: the render's size policy, so a painted key matches the render's frames.
        format: ``png`` or ``tiff``; None: PNG for 8-bit sources, TIFF for deeper ones.
            The depth follows the source either way (16 bits per channel when deeper than 8).
        overwrite: replace images that exist (else refused, nothing written).
        read: ``fps`` and ``allow_gaps`` of an image-sequence input (``deep`` is set here).

    Raises:
        InputError, OutputError, ConfigError: one line each, and nothing written.
    """
    clip, folder = Path(clip), Path(folder)
    if format is not None and format not in EXPORT_FORMATS:
        raise ConfigError("format", f"unknown image format '{format}'; use {' or '.join(EXPORT_FORMATS)}")
    texts = split_positions(at)
    if not texts:
        raise ConfigError("at", "give the frames to export, e.g. --at 0,48,2.5s,01:00:01:00")
    if not is_sequence(clip):
        if not clip.exists():
            raise InputError(clip, "no such file")
        if clip.is_dir():
            raise InputError(clip, "is a directory, not a media file")
    _check_folder(folder)
    options = ReadOptions(read.fps, read.allow_gaps, deep=True)  # the render's float frames for a deep source
    with get_source(clip, size, threads=threads, options=options) as source:
        frames = _frames_of(source, texts)
        deep = source.pix_fmt is not None and bit_depth(source.pix_fmt) > 8
        ext = EXPORT_FORMATS[format] if format else (".tif" if deep else ".png")
        image = IMAGE_FORMATS[ext]
        pix_fmt = image.deep if deep else image.rgb8
        assert pix_fmt is not None
        # Names wide enough for the clip's last frame (a duration estimate where the container has no count).
        length = source.frame_count or _estimated_length(source)
        last = max([*frames, length - 1])
        digits = max(MIN_DIGITS, len(str(source.number(last) if last < source.frame_count else last)))
        targets = {i: folder / f"{source.number(i):0{digits}d}{ext}" for i in sorted(frames)}
        inputs = _input_files(clip)
        for target in targets.values():
            if target.resolve() in inputs:
                raise OutputError(target, "is a frame of the input sequence; choose another folder")
            if target.is_dir():
                raise OutputError(target, "is a folder")
            if target.exists() and not overwrite:
                raise OutputError(target, "already exists; pass --overwrite to replace it")
        first, stop = min(frames), max(frames) + 1
        data: dict[int, bytes] = {}  # encoded as they come: a few compressed images, not frames, are held
        seen = -1
        for frame in source.frames(FrameRange(first, stop)):
            seen = frame.index
            if frame.index in frames:
                data[frame.index] = image_bytes(frame.rgb, image.encoder, pix_fmt, source.colour, dict(image.options))
        missing = [i for i in sorted(frames) if i not in data]
        if missing:
            # The container's frame count was unknown, or an estimate that overstated the clip.
            i = missing[0]
            if seen >= 0:
                end = f"it has {seen + 1} frames (0-{seen})"
            elif source.duration:
                end = f"it is {source.duration:.3f} s long (about {_estimated_length(source)} frames)"
            else:
                end = f"no frame at or after frame {first} decodes"
            raise InputError(source.path, f"--at {frames[i]} (frame {i}) is past the clip's end: {end}")
        w, h = source.size
    make_folder(folder)
    files: list[AtomicFile] = []
    try:
        for i, target in targets.items():
            files.append(AtomicFile(target))
            files[-1].tmp.write_bytes(data[i])
        for file in files:
            file.commit()
    finally:
        for file in files:
            file.discard()
    log.info("%s: %d frame%s at %dx%d as %d-bit %s in %s", clip, len(targets), "" if len(targets) == 1 else "s",
             w, h, bit_depth(pix_fmt), ext[1:].upper(), folder)
    return list(targets.values())
