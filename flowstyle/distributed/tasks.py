"""One task: render one segment ``[start, stop)`` after its pre-roll to a file of its own (issue #14).

The segment file is written in the final codec by the same sink as any render
(:func:`flowstyle.io.formats.get_sink`: a temporary file renamed into place only
when complete), without audio. Its encoder starts with it, so the file begins
with a keyframe and its GOPs refer to nothing outside it (x264 closes GOPs by
default): segments can be joined by stream copy.

The range + pre-roll render is built here from the seams primitives
(``source.frames(FrameRange(start - preroll, stop))`` and a sink that drops the
pre-roll), since the ``wiring`` branch had no range render yet when this was
written; the integrator may unify the two.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..device import resolve_device, resolve_precision
from ..io.formats import get_sink, get_source
from ..io.sink import FrameSink
from ..io.source import FrameRange
from ..pipeline import io_threads, run
from ..render import RenderConfig
from ..stylize.base import NetworkStylizer
from ..stylize.feedforward import make_stylizer
from ..stylize.options import StyleOptions
from ..temporal import PerFrame, Stabilizer
from ..threads import intra_op_threads
from .plan import Segment

log = logging.getLogger(__name__)


class SkipFirst:
    """A sink that drops the first ``count`` frames (the pre-roll) and passes the rest on."""

    def __init__(self, sink: FrameSink, count: int) -> None:
        self.sink = sink
        self.count = count
        self.path = getattr(sink, "path", None)

    def write(self, rgb: np.ndarray, pts: int, alpha: np.ndarray | None = None) -> None:
        if self.count > 0:
            self.count -= 1
            return
        self.sink.write(rgb, pts, alpha)

    def close(self) -> None:
        self.sink.close()

    def abort(self) -> None:
        self.sink.abort()


@functools.lru_cache(maxsize=2)
def _stylizer(style: StyleOptions, device: torch.device, dtype: torch.dtype) -> NetworkStylizer:
    """One network per worker process, kept between its tasks: loading it is part of the fixed cost per segment."""
    return NetworkStylizer(make_stylizer(style, device, dtype), device)


@dataclass(frozen=True)
class SegmentResult:
    index: int
    frames: int
    seconds: float
    worker: str  # host:pid that rendered it


def render_segment(input_path: str, segment_path: str, segment: Segment, config: RenderConfig,
                   threads: int = 1) -> SegmentResult:
    """Render ``segment`` of ``input_path`` into ``segment_path``; runs on a worker, so arguments are plain data.

    ``threads``: torch/OpenCV threads of this task (one worker process per core wants 1).
    """
    start = time.perf_counter()
    device = resolve_device(config.device)
    stylizer = _stylizer(config.style, device, resolve_precision(config.precision, device))
    temporal = Stabilizer(config.temporal) if config.temporal.mode != "none" else PerFrame()
    io = io_threads(config.io_threads, device)
    encode = config.encode if config.encode.threads else dataclasses.replace(config.encode, threads=io)
    frames = FrameRange(segment.start - segment.preroll, segment.stop)
    with get_source(Path(input_path), config.size, threads=io) as source, intra_op_threads(threads):
        sink = SkipFirst(get_sink(Path(segment_path), source.spec, encode, audio_from=None), segment.preroll)
        # No cut detection inside a segment: the plan put every cut on a segment start.
        result = run(source, stylizer, temporal, sink, frames=frames, cuts=None, workers=1)
    written = result.frames - segment.preroll
    if written != segment.frames:
        log.warning("%s: segment %d wrote %d frames, planned %d", input_path, segment.index, written, segment.frames)
    return SegmentResult(segment.index, written, time.perf_counter() - start, f"{os.uname().nodename}:{os.getpid()}")
