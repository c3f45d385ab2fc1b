"""Live preview: a stream stylized in real time with the temporal step on, served as MJPEG.

Sources (:func:`open_live`): a file paced to real time from its pts, a camera
(``/dev/videoN`` through PyAV's v4l2 input) or a synthetic ``lavfi:`` graph (tests).
One producer thread decodes, stylizes with the shared
:class:`~flowstyle.studio.engine.StylizerCache` and the
:class:`~flowstyle.temporal.Stabilizer`, and publishes the latest JPEG; every
viewer takes the newest frame, so a slow viewer never slows the stream.

Real time first: a frame whose time has already passed is dropped, and when
stylizing takes longer than the frame interval the width steps down (x0.8,
down to ``min_width``) and creeps back up when there is room; :attr:`LiveStats`
says so and the page shows it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import InputError
from ..io.frames import Frame
from ..io.probe import open_container
from ..stylize.options import StyleOptions
from ..temporal import PerFrame, Stabilizer, TemporalOptions
from .engine import StylizerCache, jpeg

log = logging.getLogger(__name__)

LAVFI_PREFIX = "lavfi:"
TEST_SOURCE = "lavfi:testsrc2=size=320x180:rate=25"


@dataclass(frozen=True)
class LiveSettings:
    """What the viewer may change while the stream runs."""

    style: StyleOptions = dataclasses.field(default_factory=StyleOptions)
    temporal: str = "flow"
    width: int = 320  # the width asked for; the stream may run narrower to keep real time
    min_width: int = 96


@dataclass(frozen=True)
class LiveStats:
    source: str
    width: int  # current working width
    requested_width: int
    fps: float  # frames served per second over the last ~2 s
    latency_ms: float  # source time of a frame (paced to the wall clock) to its JPEG, median of the last 50
    served: int
    dropped: int
    running: bool
    error: str | None

    @property
    def reduced(self) -> bool:
        return self.width < self.requested_width


def open_live(source: str) -> tuple[av.container.InputContainer, bool]:
    """Open ``source``: (container, paced), paced False for cameras (they run at their own rate)."""
    try:
        if source.startswith(LAVFI_PREFIX):
            return open_container(source[len(LAVFI_PREFIX):], format="lavfi"), True
        if source.startswith("/dev/video"):
            return open_container(source, format="v4l2"), False
        path = Path(source)
        if not path.is_file():
            raise InputError(source, "no such file (give a video file, /dev/videoN or lavfi:GRAPH)")
        return open_container(path), True
    except av.FFmpegError as exc:
        raise InputError(source, f"cannot open as a live source ({getattr(exc, 'strerror', None) or exc})") from None


def _even(x: float) -> int:
    return max(2, int(x) // 2 * 2)


class LiveStream:
    """Stylizes ``source`` on a thread of its own until :meth:`stop`; loops files and lavfi graphs."""

    def __init__(self, source: str, stylizers: StylizerCache, settings: LiveSettings = LiveSettings(),
                 label: str | None = None) -> None:
        self.source = source
        self.label = label or source  # what the page named it (an upload id, not its path)
        self.stylizers = stylizers
        self._settings = settings
        self._width = settings.width
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._seq = 0
        self._served_times: deque[float] = deque(maxlen=200)
        self._latencies: deque[float] = deque(maxlen=50)
        self._dropped = 0
        self._error: str | None = None
        self._stop = threading.Event()
        container, self._paced = open_live(source)  # fail now, in the caller, with a clear message
        container.close()
        self._thread = threading.Thread(target=self._run, name="studio-live", daemon=True)
        self._thread.start()

    @property
    def settings(self) -> LiveSettings:
        return self._settings

    def update(self, settings: LiveSettings) -> None:
        """Change style, strength, temporal mode or width without restarting the stream."""
        if settings.width != self._settings.width:
            self._width = settings.width
        self._settings = settings

    def latest(self, after: int, timeout: float = 1.0) -> tuple[int, bytes | None]:
        """The newest JPEG once its sequence number passes ``after`` (or the current one on timeout)."""
        with self._cond:
            self._cond.wait_for(lambda: self._seq > after or self._stop.is_set(), timeout=timeout)
            return self._seq, self._jpeg

    def stats(self) -> LiveStats:
        now = time.perf_counter()
        recent = [t for t in self._served_times if now - t <= 2.0]
        span = (recent[-1] - recent[0]) if len(recent) > 1 else 0.0
        fps = (len(recent) - 1) / span if span > 0 else 0.0
        lat = float(np.median(self._latencies)) * 1000 if self._latencies else 0.0
        return LiveStats(self.label, self._width, self._settings.width, round(fps, 2), round(lat, 1), self._seq,
                         self._dropped, self._thread.is_alive() and not self._stop.is_set(), self._error)

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._play_once()
                if not self._paced:
                    break
        except Exception as exc:  # shown on the page; the server stays up
            log.warning("live source %s stopped: %s", self.source, exc)
            self._error = str(exc)
        finally:
            with self._cond:
                self._cond.notify_all()

    def _play_once(self) -> None:
        """One pass over the source, in three overlapping stages (24 f/s at 320 px on
        2 cores needs the cores busy): a decoder thread decodes and scales the next frames; this
        thread stylizes each frame while a helper computes its flow; a finisher thread runs the
        temporal step, the JPEG and the publishing of the previous one. Each stage keeps frame
        order; at most one frame waits between stages, so latency grows by a frame at most."""
        container, _ = open_live(self.source)
        decoded: queue.Queue = queue.Queue(maxsize=2)
        finishing: queue.Queue = queue.Queue(maxsize=1)
        done_decoding = threading.Event()  # this pass is over: the decoder stops at its next frame
        decoder = threading.Thread(target=self._decode, args=(container, decoded, done_decoding), name="studio-live-decode",
                                   daemon=True)
        finisher = threading.Thread(target=self._finish, args=(finishing,), name="studio-live-finish", daemon=True)
        flows = ThreadPoolExecutor(max_workers=1, thread_name_prefix="studio-live-flow")
        decoder.start()
        finisher.start()
        temporal: Stabilizer | PerFrame | None = None
        key = None
        prev: np.ndarray | None = None
        slow = fast = warm = 0
        style = None
        wall0 = t0 = None
        try:
            while not self._stop.is_set():
                item = decoded.get()
                if isinstance(item, BaseException):
                    raise item
                if item is None:
                    return
                index, pts, tb, t, budget, rgb = item
                t0 = t if t0 is None else t0
                wall0 = time.perf_counter() if wall0 is None else wall0
                due = wall0 + (t - t0) if self._paced else time.perf_counter()
                now = time.perf_counter()
                if self._paced and now < due:
                    time.sleep(due - now)
                elif self._paced and now > due + budget:
                    self._dropped += 1  # behind real time: skip this frame rather than fall further back
                    continue
                settings = self._settings
                h, w = rgb.shape[:2]
                if key != (settings.temporal, w, h):  # a new mode or size starts a new shot
                    warm = 0
                    key = (settings.temporal, w, h)
                    temporal = Stabilizer(TemporalOptions(mode=settings.temporal)) if settings.temporal != "none" \
                        else PerFrame()
                    prev = None
                if style != settings.style:  # a new style builds its network: that frame's cost says nothing
                    style, warm = settings.style, 0
                warm += 1
                start = time.perf_counter()
                motion = flows.submit(temporal.motion, prev, rgb) if prev is not None and temporal.active else None
                stylized = self.stylizers.stylize(settings.style, Frame(index, pts, tb, rgb))
                finishing.put((temporal, stylized, motion.result() if motion is not None else None, due))
                prev = rgb
                # Keep real time: step the width down when a frame costs more than its interval
                # (waiting for the finisher counts: it is the slowest stage then).
                cost = time.perf_counter() - start
                slow = slow + 1 if cost > 0.9 * budget and warm > 3 else 0
                fast = fast + 1 if cost < 0.5 * budget else 0
                if slow >= 3 and self._width > settings.min_width:
                    self._width = max(settings.min_width, _even(self._width * 0.8))
                    slow = 0
                    log.info("live: %s behind real time, width lowered to %d px", self.source, self._width)
                elif fast >= 50 and self._width < settings.width:
                    self._width = min(settings.width, _even(self._width * 1.1))
                    fast = 0
        finally:
            done_decoding.set()
            while decoder.is_alive():  # unblock a decoder waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    decoded.get(timeout=0.05)
            finishing.put(None)
            finisher.join()
            flows.shutdown()
            container.close()

    def _decode(self, container: av.container.InputContainer, out: queue.Queue, done: threading.Event) -> None:
        """Decode and scale frames to the current width into ``out``; None at the end, or the error."""
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            tb = stream.time_base or Fraction(1, 25)
            budget = 1.0 / float(stream.average_rate or stream.guessed_rate or 25)
            for index, vf in enumerate(container.decode(stream)):
                if self._stop.is_set() or done.is_set():
                    break
                w = min(self._width, _even(vf.width))
                h = _even(vf.height * w / vf.width)
                rgb = vf.to_ndarray(width=w, height=h, format="rgb24")
                out.put((index, vf.pts or 0, tb, float((vf.pts or 0) * tb), budget, rgb))
            out.put(None)
        except Exception as exc:  # raised again by the stylizing thread
            out.put(exc)

    def _finish(self, items: queue.Queue) -> None:
        """The temporal step, the JPEG and the publishing, in frame order."""
        while (item := items.get()) is not None:
            if self._error is not None:
                continue  # keep taking items so the stylizing thread never blocks; it stops on the error
            try:
                temporal, stylized, motion, due = item
                data = jpeg(temporal(stylized, motion), 80)
            except Exception as exc:  # shown on the page, as the other stages' errors are
                log.warning("live source %s stopped: %s", self.source, exc)
                self._error = str(exc)
                self._stop.set()
                continue
            done = time.perf_counter()
            self._publish(data, done, done - due)

    def _publish(self, data: bytes, when: float, latency: float) -> None:
        with self._cond:
            self._jpeg = data
            self._seq += 1
            self._served_times.append(when)
            self._latencies.append(max(0.0, latency))
            self._cond.notify_all()
