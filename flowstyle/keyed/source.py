"""The propagated pictures as a :class:`~flowstyle.io.source.FrameSource` (docs/architecture.md, "Seams").

:class:`PaintedSource` reads the clip a span at a time (from one key to the next, within a shot),
carries the keys over it (:func:`flowstyle.temporal.propagate.propagate_span`) and delivers the
clip's frames with those pictures in place of the decoded ones: their index, timestamp and alpha
are the clip's. The one render loop then writes them through :class:`Unchanged`, with the
clip's timing, audio, timecode and colours, and aborts the output on any failure
(:func:`flowstyle.pipeline.run`). Propagation needs frames ahead of the one it delivers, which
a :class:`~flowstyle.stylize.base.Stylizer` (one frame in, one out, in order) cannot see.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..io.colour import ColourTags
from ..io.frames import Frame
from ..io.source import FrameRange, FrameSource, StreamSpec
from ..io.timecode import Timecode
from ..temporal.propagate import FlowPairs, PropagationOptions, propagate_span
from .plan import KeyPlan, spans

log = logging.getLogger(__name__)

#: paint_key(frame, guess) -> the key picture of a frame the plan has no given key for; ``guess`` is the
#: previous key carried to this frame (None at a shot's first key), for painters that can start from it.
KeyPainter = Callable[[Frame, "np.ndarray | None"], np.ndarray]

IN_MEMORY = 256 * 2**20  # bytes: a span's flows and pictures beyond this go to a memory-mapped file


class Unchanged:
    """The stylizer of a propagated render: its frames are painted already."""

    sequential = False

    def stylize(self, frame: Frame, shot_start: bool) -> np.ndarray:
        return frame.rgb


class Carried:
    """The stylizer that shows the propagated picture of each frame of a :class:`PaintedSource` that keeps
    the clip's own pictures in its frames (``keep_frames``): the base a region composite paints over,
    while its masks (a person's segmentation, a matte) see the frame as filmed."""

    sequential = False

    def __init__(self, source: "PaintedSource") -> None:
        self.source = source

    def stylize(self, frame: Frame, shot_start: bool) -> np.ndarray:
        return self.source.take(frame.index)


class Spool:
    """Arrays for one span: in memory when small, else memory-mapped files in a temporary folder
    (a 10-second shot at 1080p holds about 6 GB of flows)."""

    def __init__(self) -> None:
        self._folder: tempfile.TemporaryDirectory | None = None
        self._count = 0

    def __call__(self, count: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        if count * math.prod(shape) * np.dtype(dtype).itemsize < IN_MEMORY:
            return np.empty((count, *shape), dtype)
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="flowstyle-keys-")
        self._count += 1
        path = Path(self._folder.name) / f"{self._count}.npy"
        return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(count, *shape))

    def close(self) -> None:
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None


class PaintedSource(FrameSource):
    """``inner``'s frames with the plan's keys carried over them; every other property is ``inner``'s."""

    def __init__(self, inner: FrameSource, plan: KeyPlan, paint_key: KeyPainter | None,
                 options: PropagationOptions = PropagationOptions(), keep_frames: bool = False,
                 paints_frames: bool = False) -> None:
        """``keep_frames``: deliver the clip's frames as decoded and hold each propagated picture for
        :meth:`take` (:class:`Carried`), instead of delivering the pictures in the frames.
        ``paints_frames``: ``paint_key`` paints any frame from the frame alone at a frame's cost (a
        feed-forward network), so between keys it painted, what the flow cannot carry is painted anew
        instead of copied from a key, and a key is painted without a guess carried to it."""
        self.inner = inner
        self.plan = plan
        self.paint_key = paint_key
        self.options = options
        self.keep_frames = keep_frames
        self.paints_frames = paints_frames and paint_key is not None
        self.path = inner.path
        self._keys: dict[int, np.ndarray] = {}
        self._carried: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def take(self, index: int) -> np.ndarray:
        """The propagated picture of frame ``index`` (``keep_frames``), once: the render loop asks for each
        frame it was handed, on its stylize threads."""
        with self._lock:
            return self._carried.pop(index)

    def _deliver(self, frame: Frame, picture: np.ndarray) -> Frame:
        if not self.keep_frames:
            return dataclasses.replace(frame, rgb=picture)
        with self._lock:
            self._carried[frame.index] = picture
        return frame

    def key(self, frame: Frame, guess: np.ndarray | None = None) -> np.ndarray:
        """The key of ``frame``: given, or painted now (once), from ``guess`` where the painter can use one."""
        if frame.index in self.plan.given:
            return self.plan.given[frame.index]
        if frame.index not in self._keys:
            if self.paint_key is None:
                raise ValueError(f"frame {frame.index} needs a key and the render has no painter for it")
            # Only the key two spans share is needed again.
            self._keys = {frame.index: self.paint_key(frame, guess)}
            log.debug("painted the key of frame %d%s", frame.index, " from the carried picture" if guess is not None else "")
        return self._keys[frame.index]

    def late_key(self, frame: Frame) -> np.ndarray | Callable[[np.ndarray | None], np.ndarray]:
        """Key b of a span: given or painted already, or the painting of it from the picture carried to it."""
        if frame.index in self.plan.given or frame.index in self._keys:
            return self.key(frame)
        return lambda guess: self.key(frame, guess)

    def frames(self, range: FrameRange | None = None) -> Iterator[Frame]:
        flows = FlowPairs(self.options.flow)
        spool = Spool()
        decoded = iter(self.inner.frames(range))
        held: Frame | None = None  # a key frame two spans share
        try:
            for shot in self.plan.shots:
                for first, last, at_first, at_last in spans(shot):
                    buffer = [held] if held is not None and held.index == first else []
                    while not buffer or buffer[-1].index < last:
                        frame = next(decoded, None)
                        if frame is None:
                            break
                        buffer.append(frame)
                    if not buffer:
                        return
                    at_last = at_last and buffer[-1].index == last  # a truncated clip ends early
                    at_first = at_first and buffer[0].index == first
                    key_a = self.key(buffer[0]) if at_first else None
                    # A painter that starts from a guess gets key a carried to key b's frame; a network
                    # paints from the frame alone, so it is not worth a pass to carry one.
                    late = key_a is not None and not self.paints_frames
                    key_b = (self.late_key(buffer[-1]) if late else self.key(buffer[-1])) if at_last else None
                    if key_a is None and key_b is None:  # frames lost around a key: carry on from the first one
                        key_a = self.key(buffer[0])
                    pictures = propagate_span([f.rgb for f in buffer], key_a, key_b, flows, self.options, spool,
                                              fresh=self._fresh(buffer))
                    held = buffer[-1] if at_last else None
                    for i, (frame, picture) in enumerate(zip(buffer, pictures)):
                        if held is not None and i == len(buffer) - 1:
                            break  # the next span starts with it
                        yield self._deliver(frame, picture)
                    spool.close()
            if held is not None:
                yield self._deliver(held, self.key(held))
        finally:
            spool.close()
            flows.close()

    def _fresh(self, span: list[Frame]) -> Callable[[int], np.ndarray] | None:
        """Frame i of ``span`` painted anew, where the painter painted the span's keys; None where a key
        is given (a painter's look the network cannot paint)."""
        if not self.paints_frames or {span[0].index, span[-1].index} & self.plan.given.keys():
            return None
        paint = self.paint_key
        assert paint is not None
        return lambda i: paint(span[i], None)

    # -- everything else is the clip's ------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        return self.inner.size

    @property
    def time_base(self) -> Fraction:
        return self.inner.time_base

    @property
    def frame_rate(self) -> Fraction | None:
        return self.inner.frame_rate

    @property
    def colour(self) -> ColourTags:
        return self.inner.colour

    @property
    def timecode(self) -> Timecode | None:
        return self.inner.timecode

    @property
    def pix_fmt(self) -> str | None:
        return self.inner.pix_fmt

    def number(self, index: int) -> int:
        return self.inner.number(index)

    @property
    def frame_count(self) -> int:
        return self.inner.frame_count

    @property
    def duration(self) -> float | None:
        return self.inner.duration

    @property
    def start_time(self) -> float:
        return self.inner.start_time

    @property
    def metadata(self) -> Mapping[str, str]:
        return self.inner.metadata

    @property
    def audio_path(self) -> Path | None:
        return self.inner.audio_path

    @property
    def lost_frames(self) -> int:
        return self.inner.lost_frames

    @property
    def spec(self) -> StreamSpec:
        return self.inner.spec

    def fraction(self, frame: Frame) -> float | None:
        return self.inner.fraction(frame)

    def close(self) -> None:
        self.inner.close()
