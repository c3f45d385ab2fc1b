"""Stylizers shared by previews, the style gallery and the live stream, built once per style.

Building a stylizer loads weights (0.1-0.5 s); a preview must answer in about a
second (issue #15), so the last few are kept, keyed by their frozen
:class:`~flowstyle.stylize.options.StyleOptions`.
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
from ..io.source import FrameRange
from ..stylize.base import NetworkStylizer
from ..stylize.feedforward import make_stylizer
from ..stylize.options import StyleOptions

CACHE_SIZE = 4


class StylizerCache:
    """The last :data:`CACHE_SIZE` stylizers by style options; thread-safe."""

    def __init__(self, device: str = "auto", precision: str = "auto") -> None:
        self.device = resolve_device(device)
        self.dtype = resolve_precision(precision, self.device)
        self._items: OrderedDict[StyleOptions, NetworkStylizer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, options: StyleOptions) -> NetworkStylizer:
        with self._lock:
            if options in self._items:
                self._items.move_to_end(options)
                return self._items[options]
        stylizer = NetworkStylizer(make_stylizer(options, self.device, self.dtype), self.device)
        with self._lock:
            self._items[options] = stylizer
            while len(self._items) > CACHE_SIZE:
                self._items.popitem(last=False)
        return stylizer

    def stylize(self, options: StyleOptions, frame: Frame) -> np.ndarray:
        with torch.inference_mode():
            return self.get(options).stylize(frame, True)


def read_frame(path: Path, index: int, width: int) -> Frame:
    """Frame ``index`` of the clip at ``path`` (a picture is one frame), scaled down to ``width`` at most."""
    with get_source(path, SizePolicy(max_width=width)) as source:
        for frame in source.frames(FrameRange(max(0, index), max(0, index) + 1)):
            return frame
    raise InputError(path, f"has no frame {index}")


def jpeg(rgb: np.ndarray, quality: int = 85) -> bytes:
    """uint8 RGB -> JPEG bytes (Pillow's libjpeg-turbo: ~2 ms at 640x360)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
