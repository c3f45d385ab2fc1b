"""Image sequences in and out: ``shot_%06d.png``, ``.tif``, ``.exr`` (float), ``.dpx`` (10-bit), ``.jpg``.

:class:`ImageSequenceReader` has the interface of :class:`~flowstyle.io.reader.VideoReader`
(iterate :class:`~flowstyle.io.frames.Frame`; ``size``, ``time_base``, ``rate``,
``colour``, ``stats`` after opening), and :class:`ImageSequenceWriter` that of
:class:`~flowstyle.io.writer.VideoWriter` (``write``, ``close``, ``abort``), so
both register in the source/sink factories by name.

- Numbering is kept: frame ``n`` of ``shot_%06d.png`` has pts ``n - start`` in a
  time base of ``1/fps``, and the writer names each output by the same offset
  from the number it is given for the first frame. A gap in the numbering is an
  error naming the missing file, or, with ``allow_gaps``, a warning (the frame
  before holds for the missing time, as a variable-frame-rate clip would).
- Each image is decoded by PyAV (libavcodec's png/tiff/exr/dpx/mjpeg) and written
  by a libavcodec encoder whose single packet is the whole image file (what the
  image2 muxer itself writes), so no muxer numbering gets in the way.
- Output appears whole or not at all (flowstyle/io/atomic.py's rule for files):
  images go to a hidden temporary folder beside the target and are moved in on
  ``close``; ``abort`` removes the folder. When the target folder does not exist
  yet, the whole temporary folder is renamed into place (one atomic rename).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import Interpolation

from ..errors import InputError, OutputError
from .atomic import _default_mode
from .colour import ColourTags, tags_from_frame
from .depth import bit_depth, decode_float, encode_frame, has_alpha
from .frames import Frame
from .probe import open_container
from .reader import DecodeStats, SizePolicy
from .source import FrameRange, FrameSource

log = logging.getLogger(__name__)

DEFAULT_FPS = Fraction(24)


@dataclass(frozen=True)
class ImageFormat:
    """An image file type: its libavcodec encoder and pixel formats (8-bit, deep, with alpha)."""

    encoder: str
    rgb8: str | None
    deep: str | None
    rgba8: str | None
    rgba_deep: str | None
    options: tuple[tuple[str, str], ...] = ()

    @property
    def pix_fmts(self) -> tuple[str, ...]:
        return tuple(f for f in (self.rgb8, self.deep, self.rgba8, self.rgba_deep) if f)


IMAGE_FORMATS: dict[str, ImageFormat] = {
    ".png": ImageFormat("png", "rgb24", "rgb48be", "rgba", "rgba64be"),
    ".tif": ImageFormat("tiff", "rgb24", "rgb48le", "rgba", "rgba64le"),
    ".tiff": ImageFormat("tiff", "rgb24", "rgb48le", "rgba", "rgba64le"),
    # OpenEXR is float; 8-bit frames are written as float too.
    ".exr": ImageFormat("exr", None, "gbrpf32le", None, "gbrapf32le"),
    # DPX: 10-bit RGB is what film scans and grading tools exchange.
    ".dpx": ImageFormat("dpx", None, "gbrp10le", None, "rgba64le"),
    # JPEG is 8-bit only; qmin/qmax keep libavcodec's mjpeg from its low default quality.
    ".jpg": ImageFormat("mjpeg", "yuvj444p", None, None, None, (("qmin", "1"), ("qmax", "3"))),
    ".jpeg": ImageFormat("mjpeg", "yuvj444p", None, None, None, (("qmin", "1"), ("qmax", "3"))),
}

_PRINTF = re.compile(r"%(0?)(\d*)d")


def is_sequence(path: str | Path) -> bool:
    """True for a printf pattern (``shot_%06d.png``) or a folder: what this module reads and writes."""
    p = Path(path)
    return bool(_PRINTF.search(p.name)) or p.is_dir()


def _pattern_regex(name: str) -> re.Pattern[str]:
    m = _PRINTF.search(name)
    assert m is not None
    digits = rf"\d{{{int(m.group(2))}}}" if m.group(1) and m.group(2) else r"\d+"
    return re.compile(re.escape(name[:m.start()]) + f"({digits})" + re.escape(name[m.end():]) + "$")


def _check_pattern(pattern: Path, error: type[InputError] | type[OutputError]) -> None:
    if len(_PRINTF.findall(pattern.name)) != 1 or "%" in _PRINTF.sub("", pattern.name):
        raise error(pattern, "a sequence pattern needs exactly one %d field (e.g. shot_%06d.png)")
    if pattern.suffix.lower() not in IMAGE_FORMATS:
        raise error(pattern, f"unknown image type '{pattern.suffix}'; use one of {', '.join(IMAGE_FORMATS)}")


def _numbered(folder: Path, regex: re.Pattern[str], pattern: str) -> dict[int, Path]:
    """The files of ``folder`` the pattern names, by number (names that format back exactly)."""
    out: dict[int, Path] = {}
    for entry in os.scandir(folder):
        m = regex.match(entry.name)
        if m and entry.is_file() and pattern % int(m.group(1)) == entry.name:
            out[int(m.group(1))] = Path(entry.path)
    return out


def find_sequence(path: str | Path) -> tuple[Path, dict[int, Path]]:
    """(pattern, files by number) for a printf pattern or a folder holding one numbered sequence.

    Raises:
        InputError: no such folder, no numbered images, or several sequences in one folder.
    """
    path = Path(path)
    if _PRINTF.search(path.name):
        _check_pattern(path, InputError)
        if not path.parent.is_dir():
            raise InputError(path, f"no such folder {path.parent}")
        files = _numbered(path.parent, _pattern_regex(path.name), path.name)
        if not files:
            raise InputError(path, "no images match this pattern")
        return path, files
    if not path.is_dir():
        raise InputError(path, "no such file or folder")
    groups: dict[tuple[str, str], dict[str, Path]] = {}
    for entry in os.scandir(path):
        m = re.match(r"^(.*?)(\d+)(\.[A-Za-z]+)$", entry.name)
        if m and m.group(3).lower() in IMAGE_FORMATS and entry.is_file():
            groups.setdefault((m.group(1), m.group(3)), {})[m.group(2)] = Path(entry.path)
    seqs: dict[Path, dict[int, Path]] = {}
    for (prefix, ext), by_digits in groups.items():
        # Zero-padded names (0001.png) share one width; unpadded ones (1.png ... 10.png) do not.
        widths = {len(d) for d in by_digits}
        padded = len(widths) == 1 and any(d.startswith("0") for d in by_digits)
        name = f"{prefix}%0{widths.pop()}d{ext}" if padded else f"{prefix}%d{ext}"
        seqs[path / name] = {int(d): p for d, p in by_digits.items() if name % int(d) == p.name}
    if not seqs:
        raise InputError(path, f"no numbered images ({', '.join(IMAGE_FORMATS)}) in this folder")
    if len(seqs) > 1:
        names = ", ".join(sorted(p.name for p in seqs))
        raise InputError(path, f"holds several sequences ({names}); give one as a pattern")
    return next(iter(seqs.items()))


def _decode_image(path: Path) -> av.VideoFrame:
    try:
        with open_container(path) as c:
            frame = next(c.decode(video=0), None)
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot decode this image ({exc})") from None
    if frame is None:
        raise InputError(path, "cannot decode this image (no picture in it)")
    return frame


class ImageSequenceReader:
    """Iterate a numbered image sequence as :class:`Frame`s, like :class:`VideoReader`.

    Args:
        path: a printf pattern (``shots/shot_%06d.png``) or a folder holding one sequence.
        size: the output size policy (as VideoReader's).
        fps: frames per second; None uses 24 and says so in the log.
        allow_gaps: a missing number is a warning, not an error.
        deep: yield float32 RGB in [0, 1] (plus alpha when the images have it)
            instead of uint8 when the images have more than 8 bits (16-bit PNG/TIFF,
            10-bit DPX, EXR). 8-bit images stay uint8 either way.

    After opening: ``pattern``, ``numbers`` (sorted), ``start_number``, ``size``,
    ``time_base`` (``1/fps``), ``rate``, ``colour``, ``pix_fmt`` (of the images),
    ``timecode`` (None: images carry none), ``stats``.
    """

    def __init__(self, path: str | Path, size: SizePolicy = SizePolicy(), fps: Fraction | float | None = None,
                 allow_gaps: bool = False, deep: bool = False, threads: int = 0) -> None:
        self.pattern, files = find_sequence(path)
        self.path = self.pattern
        self.numbers = sorted(files)
        self._files = files
        self.start_number = self.numbers[0]
        last = self.numbers[-1]
        missing = [n for n in range(self.start_number, last + 1) if n not in files]
        if missing:
            where = f"{len(missing)} missing in {self.start_number}-{last}"
            if not allow_gaps:
                raise InputError(self.pattern.parent / (self.pattern.name % missing[0]),
                                 f"missing frame {missing[0]} of the sequence {self.pattern.name} ({where}); "
                                 "pass --allow-gaps to hold the frame before it")
            log.warning("%s: frames %s missing (%s); the frame before each gap is held", self.pattern,
                        _spans(missing), where)
        if fps is None:
            log.info("%s: image sequences carry no frame rate; reading at %s fps (set --fps)", self.pattern, DEFAULT_FPS)
        self.rate = Fraction(fps).limit_denominator(1001) if fps is not None else DEFAULT_FPS
        if self.rate <= 0:
            raise InputError(self.pattern, f"--fps must be positive, got {fps}")
        self.time_base = 1 / self.rate
        self.timecode = None
        self._threads = threads
        first = _decode_image(files[self.start_number])
        self.pix_fmt = first.format.name
        self.source_size = (first.width, first.height)
        self.colour: ColourTags = tags_from_frame(first, first.height)
        self.size = size.target(first.width, first.height)
        self.deep = deep and bit_depth(first.format) > 8
        shrinking = self.size[0] * self.size[1] < first.width * first.height
        self._interp = Interpolation.AREA if shrinking else Interpolation.BICUBIC
        self.stats = DecodeStats(expected=len(self.numbers), frame_step=float(self.time_base))
        self._first: av.VideoFrame | None = first
        log.info("%s: %d images, frames %d-%d, %dx%d %s", self.pattern, len(self.numbers), self.start_number, last,
                 first.width, first.height, self.pix_fmt)

    def __len__(self) -> int:
        return len(self.numbers)

    def number(self, frame: Frame) -> int:
        """The file number ``frame`` was read from."""
        return self.start_number + frame.pts

    def _convert(self, index: int, number: int, image: av.VideoFrame) -> Frame:
        if (image.width, image.height) != self.source_size:
            w, h = self.source_size
            raise InputError(self._files[number], f"is {image.width}x{image.height}, but the sequence is {w}x{h} "
                             f"(from {self._files[self.start_number].name}); all images must be one size")
        pts = number - self.start_number
        if self.deep:
            rgb, alpha = decode_float(image, self.colour, self.size, self._interp, self._threads)
            return Frame(index=index, pts=pts, time_base=self.time_base, rgb=rgb, alpha=alpha)
        w, h = self.size
        alpha = has_alpha(image.format)
        rgb = image.to_ndarray(width=w, height=h, format="rgba" if alpha else "rgb24", interpolation=self._interp,
                               src_colorspace=self.colour.matrix, src_color_range=self.colour.swscale_range,
                               threads=self._threads)
        if alpha:  # passed through unstylized to outputs that hold alpha
            return Frame(index=index, pts=pts, time_base=self.time_base, rgb=np.ascontiguousarray(rgb[..., :3]),
                         alpha=np.ascontiguousarray(rgb[..., 3]))
        return Frame(index=index, pts=pts, time_base=self.time_base, rgb=rgb)

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[Frame]:
        """Frames ``[start, stop)`` by index (seeking is free: each image is its own file)."""
        for index, number in enumerate(self.numbers[start:stop], start=start):
            if index == 0 and self._first is not None:
                image, self._first = self._first, None
            else:
                image = _decode_image(self._files[number])
            frame = self._convert(index, number, image)
            self.stats.decoded += 1
            self.stats.last_time = frame.time
            yield frame

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def close(self) -> None:
        self._first = None

    def __enter__(self) -> "ImageSequenceReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _spans(numbers: list[int], limit: int = 4) -> str:
    """'7, 9-11, 20' for [7, 9, 10, 11, 20] (at most ``limit`` spans, then '...')."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    text = ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in spans[:limit])
    return text + (", ..." if len(spans) > limit else "")


def image_pix_fmt(pattern: str | Path, deep: bool, alpha: bool = False, pix_fmt: str | None = None) -> str:
    """The pixel format to write ``pattern``'s images in: 16-bit/float/10-bit when ``deep``, 8-bit otherwise.

    Raises:
        OutputError: an unknown image type, or a ``pix_fmt`` this type cannot hold.
    """
    pattern = Path(pattern)
    _check_pattern(pattern, OutputError)
    fmt = IMAGE_FORMATS[pattern.suffix.lower()]
    if pix_fmt is not None:
        if pix_fmt not in fmt.pix_fmts:
            raise OutputError(pattern, f"{pattern.suffix} images cannot hold --pix-fmt {pix_fmt}; "
                              f"use one of {', '.join(fmt.pix_fmts)}")
        return pix_fmt
    pair = (fmt.rgba_deep, fmt.rgba8) if alpha and (fmt.rgba_deep or fmt.rgba8) else (fmt.deep, fmt.rgb8)
    # The depth asked for if this type has it, else the one it has (EXR is always float, JPEG always 8-bit).
    return next(f for f in (pair if deep else pair[::-1]) if f)


class ImageSequenceWriter:
    """Write frames as numbered images, atomically: ``write``, ``close``, ``abort`` like VideoWriter.

    Args:
        pattern: ``out/shot_%06d.png``; its folder is created if missing (its parent must exist).
        size: (width, height) of the frames.
        time_base: the time base of the pts given to :meth:`write`.
        rate: frames per second of the numbering (a source sequence's fps, or a video's rate).
        colour: the source's colour tags (matrix and range for JPEG's YUV).
        first_number: the number of the first frame written; later frames are numbered by
            their pts distance from it, so a sequence source's numbering (gaps included) is kept.
        pix_fmt: None picks by :func:`image_pix_fmt` from the first frame (float frames: deep).
        overwrite: replace existing images of this pattern (else refuse to start).
    """

    def __init__(self, pattern: str | Path, size: tuple[int, int], time_base: Fraction, rate: Fraction | None,
                 colour: ColourTags, first_number: int = 0, pix_fmt: str | None = None,
                 overwrite: bool = False) -> None:
        self.pattern = Path(pattern)
        _check_pattern(self.pattern, OutputError)
        if pix_fmt is not None:
            image_pix_fmt(self.pattern, False, pix_fmt=pix_fmt)
        self.folder = self.pattern.parent
        parent = self.folder.parent
        if not self.folder.is_dir() and not parent.is_dir():
            raise OutputError(self.pattern, f"output folder {parent} does not exist")
        self._regex = _pattern_regex(self.pattern.name)
        if self.folder.is_dir():
            existing = _numbered(self.folder, self._regex, self.pattern.name)
            if existing and not overwrite:
                first = existing[min(existing)].name
                raise OutputError(self.pattern, f"{len(existing)} images of this sequence already exist (first: {first}); "
                                  "pass --overwrite to replace them")
        self.size, self.time_base, self.colour = size, time_base, colour
        self.rate = Fraction(rate) if rate else DEFAULT_FPS
        self.first_number = first_number
        self.pix_fmt = pix_fmt
        self.format = IMAGE_FORMATS[self.pattern.suffix.lower()]
        self._new_folder = not self.folder.is_dir()
        where = parent if self._new_folder else self.folder
        try:
            self.tmp = Path(tempfile.mkdtemp(dir=where, prefix=f".{self.folder.name if self._new_folder else 'seq'}.",
                                             suffix=".part"))
        except OSError as exc:
            raise OutputError(self.pattern, f"cannot create a folder in {where} ({exc.strerror})") from None
        self._first_pts: int | None = None
        self._last_number: int | None = None
        self.numbers: list[int] = []
        self.frames = 0
        self._cc: av.CodecContext | None = None

    def _number(self, pts: int) -> int:
        if self._first_pts is None:
            self._first_pts = pts
        n = self.first_number + int(round((pts - self._first_pts) * self.time_base * self.rate))
        if self._last_number is not None and n <= self._last_number:
            # Frames closer than 1/rate (variable frame rate) would share a name.
            log.debug("%s: pts %s maps to number %d already written; using %d", self.pattern, pts, n,
                      self._last_number + 1)
            n = self._last_number + 1
        self._last_number = n
        return n

    def write(self, rgb: np.ndarray, pts: int, alpha: np.ndarray | None = None) -> None:
        """Write one image (uint8 or float32 RGB, optional alpha) numbered by its ``pts``."""
        if self.pix_fmt is None:
            self.pix_fmt = image_pix_fmt(self.pattern, rgb.dtype != np.uint8, alpha is not None)
        frame = encode_frame(rgb, self.pix_fmt, self.colour, alpha)
        frame.pts = self.frames
        data = self._encode(frame)
        number = self._number(pts)
        (self.tmp / (self.pattern.name % number)).write_bytes(data)
        self.numbers.append(number)
        self.frames += 1

    def _encode(self, frame: av.VideoFrame) -> bytes:
        """One image file's bytes. The codec context is kept from image to image (an image
        codec answers each frame at once; a new context per image cost mjpeg 7.65 against
        4.34 ms); a codec that holds a frame back is flushed and its context made anew."""
        if self._cc is None:
            cc = av.CodecContext.create(self.format.encoder, "w")
            cc.width, cc.height = frame.width, frame.height
            cc.pix_fmt = self.pix_fmt
            cc.time_base = self.time_base
            if self.pix_fmt.startswith("yuvj"):
                cc.color_range = 2  # JPEG is full range (AVCOL_RANGE_JPEG)
            cc.options = dict(self.format.options)
            self._cc = cc
        packets = self._cc.encode(frame)
        if not packets:
            packets = self._cc.encode(None)
            self._cc = None
        return b"".join(bytes(p) for p in packets)

    def close(self) -> None:
        """Move the images into place (one rename when the folder is new)."""
        try:
            os.chmod(self.tmp, _default_mode() | 0o111)  # mkdtemp makes 0o700
            if self._new_folder:
                os.replace(self.tmp, self.folder)
                return
            for n in self.numbers:
                name = self.pattern.name % n
                os.replace(self.tmp / name, self.folder / name)
            self.tmp.rmdir()
        except OSError as exc:
            self.abort()
            raise OutputError(self.pattern, f"cannot move the images into {self.folder} ({exc.strerror})") from None

    def abort(self) -> None:
        """Remove everything written; the target folder is left as it was."""
        shutil.rmtree(self.tmp, ignore_errors=True)



class SequenceSource(FrameSource):
    """:class:`ImageSequenceReader` as a :class:`~flowstyle.io.source.FrameSource` (registered by
    :func:`is_sequence` in :mod:`flowstyle.io.formats`). Frame indices are positions in the
    sequence; :meth:`number` gives the file number of each, so outputs keep the numbering."""

    def __init__(self, path: str | Path, size: SizePolicy = SizePolicy(), fps: Fraction | float | None = None,
                 allow_gaps: bool = False, deep: bool = False, threads: int = 0) -> None:
        self.reader = ImageSequenceReader(path, size, fps, allow_gaps, deep, threads)
        self.path = self.reader.pattern

    @property
    def size(self) -> tuple[int, int]:
        return self.reader.size

    @property
    def time_base(self) -> Fraction:
        return self.reader.time_base

    @property
    def frame_rate(self) -> Fraction | None:
        return self.reader.rate

    @property
    def colour(self) -> ColourTags:
        return self.reader.colour

    @property
    def frame_count(self) -> int:
        return len(self.reader)

    @property
    def duration(self) -> float | None:
        return float((self.reader.numbers[-1] - self.reader.start_number + 1) * self.reader.time_base)

    @property
    def pix_fmt(self) -> str | None:
        return self.reader.pix_fmt

    @property
    def lost_frames(self) -> int:
        return self.reader.stats.lost

    def number(self, index: int) -> int:
        return self.reader.numbers[index]

    def frames(self, range: FrameRange | None = None) -> Iterator[Frame]:
        return self.reader.frames(range.start, range.stop) if range is not None else self.reader.frames()

    def close(self) -> None:
        self.reader.close()
