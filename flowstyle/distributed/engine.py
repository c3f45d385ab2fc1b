"""Run a render's segments on Dask ``distributed`` and join them.

* ``workers=N`` starts a :class:`distributed.LocalCluster` of N worker processes,
  one thread each, bound to 127.0.0.1, no dashboard. Worker processes are
  spawned, so the program that calls this must be ``if __name__ == "__main__"``
  safe (``flowstyle``'s entry points are).
* ``scheduler="tcp://HOST:8786"`` uses an existing cluster; its workers need
  flowstyle, the weights, and the input and output paths on shared storage
  (checked on every worker first, see :func:`preflight`).
* A task whose worker dies is rescheduled by Dask on another worker (its
  ``allowed-failures``); a task that raises is retried (``retries``).

Dask rather than Ray, measured: a LocalCluster binds loopback and
starts in about 2 s (Ray 2.60 listened on every interface and took 7 s).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import time
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, FlowstyleError, OutputError
from ..gatys.workdir import file_sha256
from ..io.atomic import check_paths
from ..io.formats import get_source
from ..io.reader import SizePolicy
from ..keyed.options import PaintedKeyOptions
from ..keyed.plan import plan_keys, resolve_keys
from ..gatys.stylizer import GatysConfig, require_painting
from ..progress import Progress, ProgressFn
from ..render import RenderConfig, RenderReport, check_painted
from ..threads import Prefetcher
from .finish import join
from .plan import PREROLL_FRAMES, Plan, Segment, stream_plan
from .tasks import PROGRESS_TOPIC, SegmentResult, render_segment
from .workdir import SegmentFolder

log = logging.getLogger(__name__)

RETRIES = 2  # a task that raised (a worker's disk hiccup) runs again up to this many times
CONNECT_TIMEOUT = "10s"


# The scheduler serves its health and metrics routes over HTTP even with the dashboard off
# (distributed 2026: ``dashboard_address=None`` means port 8787 on ``host``). A second render
# on the same machine then warned "Port 8787 is already in use"; a free loopback port,
# picked by the OS, is silent.
LOOPBACK_SCHEDULER = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}


@dataclass(frozen=True)
class DistributedOptions:
    """How a render is cut into tasks and where they run (neither ``workers`` nor ``scheduler``: in-process)."""

    workers: int = 0  # local worker processes (0: none)
    scheduler: str | None = None  # tcp://HOST:8786 of an existing cluster
    segment_seconds: float = 10.0
    preroll: int = PREROLL_FRAMES
    keep_work: bool = False

    def __post_init__(self) -> None:
        if self.workers < 0:
            raise ConfigError("workers", f"must be 1 or more, got {self.workers}")
        if self.workers and self.scheduler:
            raise ConfigError("workers", "give --workers (a local cluster) or --scheduler (an existing one), not both")
        if self.segment_seconds <= 0:
            raise ConfigError("segment_seconds", f"must be more than 0, got {self.segment_seconds}")
        if self.preroll < 0:
            raise ConfigError("preroll", f"must be 0 or more, got {self.preroll}")

    @property
    def enabled(self) -> bool:
        return bool(self.workers or self.scheduler)


def render_key(input_sha256: str, config: RenderConfig | GatysConfig, options: DistributedOptions,
               gatys_keys: PaintedKeyOptions = PaintedKeyOptions()) -> dict:
    """What the segments depend on: the input's bytes, every setting that changes a frame or a boundary,
    and the bytes of each painted key (a key repainted under the same name renders its shot again)."""
    painted = config.painted if isinstance(config, RenderConfig) else gatys_keys
    keys = [[frame, file_sha256(Path(file))] for frame, file in painted.parsed()]
    return {"input_sha256": input_sha256, "method": "gatys" if isinstance(config, GatysConfig) else "feedforward",
            "config": dataclasses.asdict(config), "segment_seconds": options.segment_seconds,
            "preroll": options.preroll, "painted_keys": keys, "gatys_keys": dataclasses.asdict(gatys_keys)}


@contextlib.contextmanager
def connect(options: DistributedOptions) -> Iterator:
    """A ``distributed.Client`` on a fresh LocalCluster (``workers``) or on ``scheduler``."""
    from distributed import Client, LocalCluster

    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError) as exc:
            raise FlowstyleError(f"--scheduler {options.scheduler}: cannot reach the Dask scheduler ({exc})") from None
        with client:
            yield client
        return
    with _forkserver(), LocalCluster(n_workers=options.workers, threads_per_worker=1, processes=True,
                                     host="127.0.0.1", dashboard_address=None,
                                     scheduler_kwargs=LOOPBACK_SCHEDULER) as cluster, Client(cluster) as client:
        yield client


@contextlib.contextmanager
def _forkserver() -> Iterator[None]:
    """Start local workers from a forkserver that has imported flowstyle once.

    With Dask's default (spawn) every worker process imports torch and flowstyle
    itself, 2.6 s of CPU each, which on a 2-core machine competes with the cut
    scan and the first tasks; forked from one server that did it once, they start
    with it done, and close in 0.03 s instead of 0.7 s.
    """
    import dask
    from distributed.utils import get_mp_context

    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        get_mp_context().set_forkserver_preload(["distributed", "flowstyle.distributed.tasks"])
        yield


def _worker_check(input_path: str, output_dir: str, weights: str) -> str | None:
    """Run on each worker: the problem that stops it rendering, or None."""
    from ..registry import load_state_dict

    if not os.access(input_path, os.R_OK):
        return f"cannot read the input {input_path}"
    if not os.access(output_dir, os.W_OK):
        return f"cannot write to {output_dir}"
    try:
        load_state_dict(weights)
    except FlowstyleError as exc:
        return str(exc)
    return None


def preflight(client, src: Path, folder: Path, weights: str = "multistyle26") -> None:
    """One line naming each worker that lacks the weights or cannot reach the input or the work folder."""
    problems = {w: p for w, p in client.run(_worker_check, str(src.resolve()), str(folder.resolve()),
                                            weights).items() if p}
    if problems:
        raise FlowstyleError("; ".join(f"worker {w}: {p}" for w, p in sorted(problems.items())))


def _plan(src: Path, config: RenderConfig | GatysConfig, options: DistributedOptions) -> Iterator[Segment | Plan]:
    """The plan's segments as the scan finds them, then the plan (see :func:`~.plan.stream_plan`).

    Gatys shots are never split (their frames depend on each other) and have no
    pre-roll, nor are shots with painted keys (a shot is carried from key to key: one task,
    found by the render's own cut detector); a feed-forward render without temporal state
    needs no pre-roll.
    """
    if isinstance(config, GatysConfig):
        return stream_plan(src, config.size, config.cuts, options.segment_seconds, 0, split_shots=False)
    if config.painted.active:
        return stream_plan(src, config.size, config.temporal.cut_frames or config.temporal.cuts,
                           options.segment_seconds, 0, split_shots=False)
    temporal = config.temporal.mode != "none"
    return stream_plan(src, config.size, config.temporal.cuts if temporal else None, options.segment_seconds,
                       options.preroll if temporal else 0, tail_parts=max(1, options.workers))


class _Tally:
    """Frames finished over all tasks, from the workers' progress events and finished segments; thread-safe.

    Events arrive on the client's event-loop thread, results on the caller's, so
    both go through one lock; a retried task reports from zero again, so each
    segment counts its highest report.
    """

    def __init__(self, progress: ProgressFn | None, resumed: int, total: int | None) -> None:
        self.progress = progress
        self.resumed = resumed
        self.total = total
        self.frames: dict[int, int] = {}
        self._lock = threading.Lock()

    def event(self, event: tuple) -> None:
        """A worker's report, ``(timestamp, {"segment": i, "frames": n})``."""
        msg = event[1]
        self.update(int(msg["segment"]), int(msg["frames"]))

    def known(self, total: int) -> None:
        """The scan has ended: the true frame count replaces the container's estimate."""
        with self._lock:
            self.total = total
        self.update(-1, 0)

    def update(self, segment: int, frames: int) -> None:
        with self._lock:
            if segment >= 0:
                self.frames[segment] = max(frames, self.frames.get(segment, 0))
            done = self.resumed + sum(self.frames.values())
            if self.progress is not None:
                self.progress(Progress(done, self.total, done / self.total if self.total else None,
                                       resumed=self.resumed))


def _resolve_painted(src: Path, size: SizePolicy, painted: PaintedKeyOptions, cuts) -> PaintedKeyOptions:
    """``painted`` resolved and checked before any task runs (one line each): key files, frames,
    aspects; and, when nothing may paint a shot's keys, every shot has one (a pass over the clip with
    the render's cut detector ``cuts``, as the in-process render makes)."""
    with get_source(src, size) as source:
        resolved = resolve_keys(painted, source)
        if not (resolved.every is not None or resolved.paint_keyless):
            plan_keys(resolved, source, None, cuts)
    return resolved


def render_distributed(input_path: str | Path, output_path: str | Path, config: RenderConfig | GatysConfig,
                       options: DistributedOptions, overwrite: bool = False, restart: bool = False,
                       progress: ProgressFn | None = None,
                       on_segment: Callable[[SegmentResult], None] | None = None,
                       gatys_keys: PaintedKeyOptions = PaintedKeyOptions()) -> RenderReport:
    """Render ``input_path`` as segment tasks on a cluster, resumably, and join them into ``output_path``.

    ``config`` is a feed-forward :class:`~flowstyle.render.RenderConfig` (shots split
    into segments with pre-roll) or a :class:`~flowstyle.gatys.GatysConfig` (one
    task per shot; ``gatys_keys``: the shot's keys, as ``render_gatys(..., painted=)`` takes them). Feed-forward painted keys are ``config.painted``: a
    shot with its keys is one task either way. Segments already in the work folder (from an interrupted run
    with the same input and settings) are not rendered again. The input is scanned
    for cuts while the cluster starts and the first shots already render.
    ``progress`` counts frames over all tasks as they render; ``on_segment`` hears
    of each segment as it lands.
    """
    src, dst = Path(input_path).resolve(), Path(output_path).resolve()
    check_paths(src, dst, overwrite)
    if config.span.in_point is not None or config.span.out_point is not None:
        raise ConfigError("workers", "--in/--out render in-process for now; distributed renders take whole clips")
    if isinstance(config, RenderConfig) and config.painted.active:
        check_painted(config)
        config = dataclasses.replace(config, painted=_resolve_painted(
            src, config.size, config.painted, config.temporal.cut_frames or config.temporal.cuts))
    if isinstance(config, GatysConfig) and gatys_keys.active:
        gatys_keys = _resolve_painted(src, config.size, gatys_keys, config.cuts)
    if isinstance(config, GatysConfig):
        require_painting(config.gatys.style)
    start = time.perf_counter()
    sha = file_sha256(src)
    work = SegmentFolder(dst, render_key(sha, config, options, gatys_keys), restart)
    saved = work.load_plan()
    done = work.finished()
    planned: Iterator[Segment | Plan] = iter([*saved.segments, saved]) if saved is not None else _plan(src, config,
                                                                                                      options)
    scanner = Prefetcher(planned, depth=1 << 16, name="scan")  # the scan runs ahead on its own thread
    size, estimate = (0, 0), None  # for the report; the container's frame count until the scan has counted
    with contextlib.suppress(FlowstyleError, OSError), get_source(src, config.size) as source:
        size, estimate = source.size, source.frame_count or None
    try:
        plan = _run_tasks(src, sha, work, scanner, done, config, options, estimate, progress, on_segment, gatys_keys)
    finally:
        scanner.close()
    join([work.file(s) for s in plan.segments], dst, src if config.copy_audio else None)
    if not options.keep_work:
        work.remove()
    return RenderReport(input=src, output=dst, frames=plan.frames, lost_frames=0,
                        seconds=time.perf_counter() - start, size=size, device=config.device, dtype=config.precision)


def _run_tasks(src: Path, sha: str, work: SegmentFolder, planned: Iterable[Segment | Plan], done: set[int],
               config: RenderConfig | GatysConfig, options: DistributedOptions, estimate: int | None,
               progress: ProgressFn | None, on_segment: Callable[[SegmentResult], None] | None,
               gatys_keys: PaintedKeyOptions) -> Plan:
    """Submit each planned segment not yet done as it comes; wait for all; return the finished plan."""
    from distributed import as_completed

    token = hashlib.sha256(json.dumps(work.key(), sort_keys=True).encode()).hexdigest()[:12]
    gatys = isinstance(config, GatysConfig)
    threads = 1  # one single-threaded task per worker process, one process per core
    plan: Plan | None = None
    with connect(options) as client:
        preflight(client, src, work.path, "vgg16_hed" if gatys else "multistyle26")
        tally = _Tally(progress, 0, estimate)
        client.subscribe_topic(PROGRESS_TOPIC, tally.event)
        futures = as_completed()
        submitted = []
        try:
            for item in planned:
                if isinstance(item, Plan):
                    plan = item
                    work.save_plan(plan)  # a resume after this point needs no scan
                    break
                if item.index in done:
                    tally.resumed += item.frames
                    continue
                future = client.submit(render_segment, str(src), str(work.file(item)), item, config, threads, sha,
                                       gatys_keys, key=f"flowstyle-segment-{token}-{item.name}", retries=RETRIES,
                                       pure=False)
                futures.add(future)
                submitted.append(future)
            assert plan is not None, "the scan ends with the plan"
            log.info("%s: %d frames, %d shots, %d segments; %d already rendered, %d to render",
                     src.name, plan.frames, plan.shots, len(plan.segments), len(done), len(submitted))
            tally.known(plan.frames)
            for future in futures:
                result: SegmentResult = future.result()
                segment = plan.segments[result.index]
                tally.update(result.index, result.frames)
                log.info("segment %d (frames %d-%d) done on %s in %.1f s", result.index, segment.start,
                         segment.stop - 1, result.worker, result.seconds)
                if on_segment is not None:
                    on_segment(result)
        except FlowstyleError:
            raise
        except OSError as exc:
            raise OutputError(work.path, f"a worker could not write its segment ({exc})") from None
        finally:
            client.unsubscribe_topic(PROGRESS_TOPIC)
            client.cancel(submitted)
    return plan


def status_lines(output_path: str | Path) -> list[str]:
    """``flowstyle status OUTPUT``: what a distributed render of OUTPUT has done."""
    dst = Path(output_path).resolve()
    work = SegmentFolder(dst, None)
    if not work.exists:
        return [f"{dst}: complete" if dst.exists() else f"{dst}: no render in progress (no {work.path.name})"]
    plan = work.load_plan()
    if plan is None:
        return [f"{dst}: {len(work.finished())} segments rendered while the input was still being scanned for cuts; "
                "run the same command again to finish"]
    done = work.finished()
    frames = sum(s.frames for s in plan.segments if s.index in done)
    missing = [s.name for s in plan.segments if s.index not in done]
    lines = [f"{dst}: {len(done)} of {len(plan.segments)} segments rendered ({frames} of {plan.frames} frames, "
             f"{plan.shots} shots); run the same command again to finish"]
    if missing:
        lines.append("missing: " + ", ".join(missing))
    return lines
