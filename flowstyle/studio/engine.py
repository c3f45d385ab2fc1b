"""Stylizers shared by previews, the style gallery and the live stream, built once per style.

Building a stylizer loads weights (0.1-0.5 s); a preview must answer in about a
second, so the last few are kept, keyed by their frozen
:class:`~flowstyle.stylize.options.StyleOptions`. A preview with regions, a matte or
style keys uses the render's own stylizer for that clip
(:func:`~flowstyle.regions.build.make_clip_stylizer`), kept per clip and settings.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..device import resolve_device, resolve_precision
from ..errors import InputError
from ..io.formats import get_source
from ..io.frames import Frame
from ..io.reader import SizePolicy
from ..io.source import FrameRange, FrameSource
from ..regions.build import make_clip_stylizer
from ..regions.composite import RegionOptions
from ..stylize.base import Stylizer
from ..stylize.keyframes import KeyframeOptions
from ..stylize.options import StyleOptions
from ..stylize.painter import TrackStylizer, make_stylizer

CACHE_SIZE = 4


class StylizerCache:
    """The last :data:`CACHE_SIZE` stylizers by style options; thread-safe."""

    def __init__(self, device: str = "auto", precision: str = "auto") -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_precision(precision, self.device)
        self._items: OrderedDict[StyleOptions, TrackStylizer] = OrderedDict()
        # Region/keyed stylizers by (settings, clip): each with its own lock, since a region
        # stylizer's mask tracker keeps state from call to call.
        self._clips: OrderedDict[tuple, tuple[Stylizer, threading.Lock]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, options: StyleOptions) -> TrackStylizer:
        with self._lock:
            if options in self._items:
                self._items.move_to_end(options)
                return self._items[options]
        stylizer = make_stylizer(options, self.device, self.dtype)
        with self._lock:
            self._items[options] = stylizer
            while len(self._items) > CACHE_SIZE:
                self._items.popitem(last=False)
        return stylizer

    def stylize(self, options: StyleOptions, frame: Frame) -> np.ndarray:
        with torch.inference_mode():
            return self.get(options).stylize(frame, True)

    def stylize_clip_frame(self, style: StyleOptions, regions: RegionOptions, keys: KeyframeOptions, path: Path,
                           index: int, width: int) -> np.ndarray:
        """Frame ``index`` of the clip at ``path`` (at most ``width`` wide) as the render stylizes it with these
        regions, matte and keys: the style keyed at the frame's time, the mask of that frame."""
        with get_source(path, SizePolicy(max_width=width)) as source:
            frame = frame_at(source, path, index)
            key = (style, regions, keys, source.size, str(path))
            with self._lock:
                entry = self._clips.get(key)
                if entry is not None:
                    self._clips.move_to_end(key)
            if entry is None:
                entry = (make_clip_stylizer(style, regions, keys, self.device, self.dtype, source, path.name),
                         threading.Lock())
                with self._lock:
                    self._clips[key] = entry
                    while len(self._clips) > CACHE_SIZE:
                        self._clips.popitem(last=False)
        stylizer, lock = entry
        with lock, torch.inference_mode():
            return stylizer.stylize(frame, True)


def frame_at(source: FrameSource, path: Path, index: int) -> Frame:
    """Frame ``index`` of the open ``source`` (of the file at ``path``, named by the error)."""
    for frame in source.frames(FrameRange(max(0, index), max(0, index) + 1)):
        return frame
    raise InputError(path, f"has no frame {index}")


def read_frame(path: Path, index: int, width: int | None) -> Frame:
    """Frame ``index`` of the clip at ``path`` (a picture is one frame), scaled down to ``width`` at most
    (None: as stored)."""
    with get_source(path, SizePolicy(max_width=width)) as source:
        return frame_at(source, path, index)


def png(rgb: np.ndarray) -> bytes:
    """uint8 RGB -> lossless PNG bytes (a frame to paint)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    """uint8 RGB -> JPEG bytes (Pillow's libjpeg-turbo: ~2 ms at 640x360)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
