"""The one render loop: ``run(source, stylizer, temporal, sink, cancel, on_frame)``.

Every render (feed-forward, arbitrary-style, Gatys; the CLI, the Python API and
anything built on them) goes through :func:`run`; a feature is a new
:class:`~flowstyle.io.source.FrameSource`, :class:`~flowstyle.stylize.base.Stylizer`,
:class:`~flowstyle.temporal.base.TemporalStep` or :class:`~flowstyle.io.sink.FrameSink`,
not a new loop (docs/architecture.md, "The pipeline").

Threads (docs/architecture.md, "Where speed comes from"): decode runs ahead on a
prefetch thread, frames are stylized (and their motion estimated) on ``workers``
threads, the temporal step runs in order on the calling thread, and encoding on a
thread of its own. libav and torch release the GIL, so these overlap.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from .errors import Cancelled
from .io.frames import Frame
from .io.sink import FrameSink
from .io.source import FrameRange, FrameSource
from .progress import Progress, ProgressFn
from .scenes import CutDetector, CutOptions, KnownCuts
from .stylize.base import Stylizer
from .temporal.base import TemporalStep, settle
from .temporal.stabilizer import Motion
from .tensors import to_uint8
from .threads import BackgroundWorker, Prefetcher, intra_op_threads, ordered_map

log = logging.getLogger(__name__)

QUEUE_DEPTH = 4  # frames decoded ahead and waiting to be encoded: bounded, so memory does not grow with length


class CancelEvent(Protocol):
    """What ``cancel`` must offer: ``threading.Event`` does."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class RunResult:
    """What a run did: frames written, frames the source lost (damaged input)."""

    frames: int
    lost_frames: int


def io_threads(requested: int, device: torch.device) -> int:
    """Threads libav may use inside the decoder, swscale and x264.

    When the network runs on the CPU, every core is already busy with a frame of
    its own, and libav's internal threads only add synchronisation: one thread each
    cuts the I/O's CPU time per 640x360 frame from 11 to 8.5 ms (decode 2.7 -> 2.3,
    AREA scaling 3.3 -> 2.0, RGB->YUV 1.1 -> 0.5, x264 3.9 -> 3.7). With a GPU the
    cores are free and decode becomes the bottleneck, so libav picks (0).
    """
    if requested > 0:
        return requested
    return 1 if device.type == "cpu" else 0


def stylize_workers(requested: int, device: torch.device) -> int:
    """How many frames to stylize at once.

    On CPU, one single-threaded network per core beats one network on all cores
    once decode and encode share those cores: an I/O thread that takes a core
    from a parallel region stalls the whole region, whereas independent frames
    just share time (measured on bigbuckbunny at 640 px, 2 cores: 25.5 -> 30 frames/s).
    A GPU runs one frame at a time.
    """
    if requested > 0:
        return requested
    return 1 if device.type != "cpu" else max(1, torch.get_num_threads())


def with_predecessors(frames: Iterator[Frame], detector: CutDetector | KnownCuts | None
                      ) -> Iterator[tuple[Frame, np.ndarray | None]]:
    """Pair each frame with the previous input frame, or None at the start of a shot (scene cut)."""
    prev: np.ndarray | None = None
    for frame in frames:
        rgb = to_uint8(frame.rgb)  # cut detection and flow work on 8 bits; a no-op on the 8-bit path
        if detector is not None and detector.is_cut(rgb, frame.index):
            log.info("scene cut at frame %d (%.3f s): temporal state reset", frame.index, frame.time)
            prev = None
        yield frame, prev
        prev = rgb


def prepared(pairs: Iterator[tuple[Frame, np.ndarray | None]], prepare: Callable[..., None],
             motion: Callable[[np.ndarray, np.ndarray], Motion] | None = None
             ) -> Iterator[tuple[Frame, np.ndarray | None, Motion | None]]:
    """Call the stylizer's optional ``prepare(frame, shot_start)`` hook on each frame in order, on the decode
    thread, before the frame goes to the (parallel) stylize workers: per-frame state that depends only on the
    input frames but carries over from frame to frame, such as the region masks
    (docs/architecture.md, "Seams"; docs/regions.md).

    ``motion``: the temporal step's motion estimate; when given, each frame's motion is
    made here, handed to ``prepare(frame, shot_start, motion)`` and passed on, so the
    region masks follow the same flow as the texture and the workers do not compute it
    again (one DIS flow a frame instead of two).
    """
    for frame, prev in pairs:
        if motion is None:
            prepare(frame, prev is None)
            yield frame, prev, None
            continue
        m = motion(prev, to_uint8(frame.rgb)) if prev is not None else None
        prepare(frame, prev is None, m)
        yield frame, prev, m


def run(source: FrameSource, stylizer: Stylizer, temporal: TemporalStep, sink: FrameSink,
        cancel: CancelEvent | None = None, on_frame: ProgressFn | None = None, *,
        frames: FrameRange | None = None, cuts: CutOptions | tuple[int, ...] | None = CutOptions(),
        workers: int = 1, preroll: int = 0) -> RunResult:
    """Stylize ``source``'s frames (``frames``, default all) into ``sink``; close the sink on success.

    Args:
        cancel: polled between frames; once set, the run stops, the sink is
            aborted and :class:`~flowstyle.errors.Cancelled` is raised.
        on_frame: called with a :class:`~flowstyle.progress.Progress` after each frame written.
        cuts: scene-cut detection, which resets the temporal state (None: off), or the
            frames known to start shots (a tuple: a distributed render's tasks). Only run when
            something has temporal state.
        workers: frames stylized at once when the stylizer is not sequential.
        preroll: up to this many frames before ``frames.start`` are decoded, stylized and
            run through the temporal step but not written, so the first written frame is as
            steady as one mid-shot. Only used when something has temporal state.

    Raises:
        Cancelled: ``cancel`` was set. Any exception of the source, stylizer or sink
        propagates once; in every failure the sink is aborted (nothing is left behind).
    """
    stateful = temporal.active or stylizer.sequential
    detector = None
    if cuts is not None and stateful:
        detector = KnownCuts(cuts) if isinstance(cuts, tuple) else CutDetector(cuts)
    parallel = 1 if stylizer.sequential else max(1, workers)
    total = frames.length if frames is not None else None
    expected = total or source.frame_count or None
    stopped = threading.Event() if cancel is None else cancel
    first = frames.start if frames is not None else 0
    warm = min(preroll, first) if stateful else 0
    decode = dataclasses.replace(frames, start=first - warm) if warm else frames

    def check() -> None:
        if stopped.is_set():
            raise Cancelled(f"{getattr(sink, 'path', 'render')}: cancelled; nothing was written")

    def stylize(item: tuple[Frame, np.ndarray | None, Motion | None]) -> tuple[Frame, np.ndarray, Motion | None]:
        frame, prev, motion = item  # motion: made on the decode thread already, or None
        check()
        rgb = stylizer.stylize(frame, prev is None)  # on a worker thread when parallel
        if motion is None and prev is not None and temporal.active:
            motion = temporal.motion(prev, to_uint8(frame.rgb))
        return frame, rgb, motion

    def write(item: tuple[np.ndarray, int, np.ndarray | None]) -> None:
        sink.write(*item)  # alpha: the source's, passed through unstylized

    if warm:
        log.info("warming the temporal state on %d frames before frame %d (not written)", warm, first)
    pairs = with_predecessors(source.frames(decode), detector)
    prepare = getattr(stylizer, "prepare", None)
    if prepare is not None:
        shared = temporal.motion if temporal.active and getattr(stylizer, "prepare_motion", False) else None
        items = prepared(pairs, prepare, shared)
    else:
        items = ((frame, prev, None) for frame, prev in pairs)
    # The thread counts are set before the decode and encode threads start: a thread takes
    # torch's count when it first runs an op, and the decode thread's ops (the region
    # segmenter) then run single-threaded like the stylize workers. Started
    # earlier, it took 2 and the segmenter's switch to 1 and back cost 4 ms a frame under load.
    with intra_op_threads(1 if parallel > 1 else None):
        decoded = Prefetcher(items, depth=QUEUE_DEPTH, name="decode")
        encoder: BackgroundWorker[tuple[np.ndarray, int, np.ndarray | None]] = BackgroundWorker(
            write, depth=QUEUE_DEPTH, name="encode")
        done = 0
        try:
            for frame, stylized, motion in ordered_map(stylize, iter(decoded), parallel):
                check()
                out = settle(temporal, stylized, motion)
                if frame.index < first:
                    continue  # pre-roll: the temporal state is warmed, nothing written
                encoder.submit((out, frame.pts, frame.alpha))
                done += 1
                if on_frame is not None:
                    fraction = done / total if total else source.fraction(frame)
                    on_frame(Progress(done, expected, fraction))
            encoder.finish()
            sink.close()
        except BaseException:
            decoded.close()
            encoder.cancel()
            sink.abort()
            raise
    # A range that stops early must not read as a truncated file (the source counts to its declared end).
    return RunResult(done, source.lost_frames if frames is None or frames.stop is None else 0)
