"""Live preview: a stream stylized in real time with the temporal step on, served as MJPEG (issue #15).

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

import dataclasses
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ..errors import InputError
from ..io.frames import Frame
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
            return av.open(source[len(LAVFI_PREFIX):], format="lavfi"), True
        if source.startswith("/dev/video"):
            return av.open(source, format="v4l2"), False
        path = Path(source)
        if not path.is_file():
            raise InputError(source, "no such file (give a video file, /dev/videoN or lavfi:GRAPH)")
        return av.open(str(path)), True
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
        container, _ = open_live(self.source)
        temporal: Stabilizer | PerFrame | None = None
        key = None
        prev: np.ndarray | None = None
        slow = fast = warm = 0
        style = None
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            tb = stream.time_base or Fraction(1, 25)
            rate = float(stream.average_rate or stream.guessed_rate or 25)
            budget = 1.0 / rate
            t0 = None
            wall0 = time.perf_counter()
            for index, vf in enumerate(container.decode(stream)):
                if self._stop.is_set():
                    return
                t = float((vf.pts or 0) * tb)
                t0 = t if t0 is None else t0
                due = wall0 + (t - t0) if self._paced else time.perf_counter()
                now = time.perf_counter()
                if self._paced and now < due:
                    time.sleep(due - now)
                elif self._paced and now > due + budget:
                    self._dropped += 1  # behind real time: skip this frame rather than fall further back
                    continue
                settings = self._settings
                w = min(self._width, _even(vf.width))
                h = _even(vf.height * w / vf.width)
                rgb = vf.to_ndarray(width=w, height=h, format="rgb24")
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
                stylized = self.stylizers.stylize(settings.style, Frame(index, vf.pts or 0, tb, rgb))
                motion = temporal.motion(prev, rgb) if prev is not None and temporal.active else None
                out = temporal(stylized, motion)
                data = jpeg(out, 80)
                done = time.perf_counter()
                prev = rgb
                self._publish(data, done, done - due)
                # Keep real time: step the width down when a frame costs more than its interval.
                cost = done - start
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
            container.close()

    def _publish(self, data: bytes, when: float, latency: float) -> None:
        with self._cond:
            self._jpeg = data
            self._seq += 1
            self._served_times.append(when)
            self._latencies.append(max(0.0, latency))
            self._cond.notify_all()
