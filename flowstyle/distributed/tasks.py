"""One task: render one segment ``[start, stop)`` after its pre-roll to a file of its own.

A task is the in-process render itself, :func:`flowstyle.render.render` (or
:func:`~flowstyle.render.render_gatys` for a Gatys shot), given the segment as its
range (:class:`~flowstyle.io.media.RangeOptions` with ``trim=False``: the segment
keeps the source's clock, so the finisher can join segments by stream copy) and
the segment's pre-roll. Regions, mattes and style keys therefore work in tasks
exactly as in one process. The segment file is written in the final codec
without audio by the same atomic sink as any render; its encoder starts with
it, so the file begins with a keyframe and its GOPs refer to nothing outside it
(x264 closes GOPs by default).

Inside a segment cut detection is off: the plan put every cut on a segment start
or, for short shots grouped into one segment, lists it (``Segment.cuts``).
A Gatys shot task checkpoints each frame beside its segment file
(:mod:`flowstyle.gatys.workdir`), so a task that is retried after its worker died
continues from its last finished frame.

Progress: every finished frame is reported to the client as a Dask worker event
(topic :data:`PROGRESS_TOPIC`), throttled, so one bar can count frames of all
tasks while they run.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

from ..gatys.stylizer import GatysConfig
from ..io.media import RangeOptions
from ..keyed.options import PaintedKeyOptions
from ..keyed.plan import keys_within
from ..progress import Progress
from ..render import RenderConfig, render, render_gatys
from ..threads import intra_op_threads
from .plan import Segment

log = logging.getLogger(__name__)

PROGRESS_TOPIC = "flowstyle-progress"
PROGRESS_INTERVAL = 0.5  # seconds between a task's progress events (the scheduler relays each one)


@dataclass(frozen=True)
class SegmentResult:
    index: int
    frames: int
    seconds: float
    worker: str  # host:pid that rendered it
    peak_rss_mib: float = 0.0  # of the worker process so far (its RSS must stay flat over tasks)


def segment_config(config: RenderConfig | GatysConfig, segment: Segment) -> RenderConfig | GatysConfig:
    """``config`` narrowed to ``segment``: its range on the source's clock, its pre-roll, no audio, no cut search."""
    span = RangeOptions(str(segment.start), str(segment.stop), segment.preroll, trim=False, anchor=segment.anchor)
    if isinstance(config, GatysConfig):
        return dataclasses.replace(config, span=span, copy_audio=False, cuts=None, keep_work=False)
    # workers=1: one worker process per core already keeps every core busy. The scan's
    # cuts inside the segment (grouped short shots) reset the state where the whole render would,
    # and split the painted keys' shots there too. Painted keys come resolved (frame numbers,
    # absolute paths: the engine's resolve_keys); a task gets the keys of its own shots.
    painted = keys_within(config.painted, segment.start, segment.stop) if config.painted.active else config.painted
    return dataclasses.replace(config, span=span, copy_audio=False, workers=1, painted=painted,
                               temporal=dataclasses.replace(config.temporal, cuts=None, cut_frames=segment.cuts))


def _report_progress(segment: Segment):
    """A ``progress`` callback that sends this segment's finished frames to the client, at most every 0.5 s."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None  # not on a Dask worker (a benchmark calling the task directly)
    last = [0.0]

    def progress(p: Progress) -> None:
        now = time.monotonic()
        if p.iteration or now - last[0] < PROGRESS_INTERVAL:
            return
        last[0] = now
        worker.log_event(PROGRESS_TOPIC, {"segment": segment.index, "frames": p.done})

    return progress


def render_segment(input_path: str, segment_path: str, segment: Segment, config: RenderConfig | GatysConfig,
                   threads: int = 1, input_sha256: str | None = None,
                   gatys_keys: PaintedKeyOptions = PaintedKeyOptions()) -> SegmentResult:
    """Render ``segment`` of ``input_path`` into ``segment_path``; runs on a worker, so arguments are plain data.

    ``threads``: torch/OpenCV threads of this task (one worker process per core wants 1).
    ``input_sha256``: the input's hash, known to the client (a Gatys shot's checkpoints are keyed by it).
    ``gatys_keys``: resolved painted keys of a Gatys render (the engine's); the task takes its own shots'.
    """
    start = time.perf_counter()
    cfg = segment_config(config, segment)
    progress = _report_progress(segment)
    with intra_op_threads(threads):
        if isinstance(cfg, GatysConfig):
            report = render_gatys(input_path, segment_path, cfg, overwrite=True, progress=progress,
                                  input_sha256=input_sha256,
                                  painted=keys_within(gatys_keys, segment.start, segment.stop))
        else:
            report = render(input_path, segment_path, cfg, overwrite=True, progress=progress)
    # A finished render leaves its decoder, encoder and frame buffers in reference cycles
    # until the cyclic collector runs; collected here, a worker's RSS stays flat from its
    # second task on (measured: +1% over 10 tasks, against +12% uncollected).
    gc.collect()
    if report.frames != segment.frames:
        log.warning("%s: segment %d wrote %d frames, planned %d", input_path, segment.index, report.frames,
                    segment.frames)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return SegmentResult(segment.index, report.frames, time.perf_counter() - start,
                         f"{os.uname().nodename}:{os.getpid()}", rss)
