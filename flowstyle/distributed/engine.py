"""Run a render's segments on Dask ``distributed`` and join them (issue #14).

* ``workers=N`` starts a :class:`distributed.LocalCluster` of N worker processes,
  one thread each, bound to 127.0.0.1, no dashboard. Worker processes are
  spawned, so the program that calls this must be ``if __name__ == "__main__"``
  safe (``flowstyle``'s entry points are).
* ``scheduler="tcp://HOST:8786"`` uses an existing cluster; its workers need
  flowstyle, the weights, and the input and output paths on shared storage
  (checked on every worker first, see :func:`preflight`).
* A task whose worker dies is rescheduled by Dask on another worker (its
  ``allowed-failures``); a task that raises is retried (``retries``).

Dask rather than Ray, measured for issue #14: a LocalCluster binds loopback and
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, FlowstyleError, OutputError
from ..gatys.workdir import file_sha256
from ..io.atomic import check_paths
from ..io.formats import get_source
from ..progress import Progress, ProgressFn
from ..render import RenderConfig, RenderReport
from .finish import join
from .plan import PREROLL_FRAMES, Plan, make_plan
from .tasks import SegmentResult, render_segment
from .workdir import SegmentFolder

log = logging.getLogger(__name__)

RETRIES = 2  # a task that raised (a worker's disk hiccup) runs again up to this many times
CONNECT_TIMEOUT = "10s"


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


def render_key(src: Path, config: RenderConfig, options: DistributedOptions) -> dict:
    """What the segments depend on: the input's bytes and every setting that changes a frame or a boundary."""
    return {"input_sha256": file_sha256(src), "config": dataclasses.asdict(config),
            "segment_seconds": options.segment_seconds, "preroll": options.preroll}


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
    with LocalCluster(n_workers=options.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def _worker_check(input_path: str, output_dir: str) -> str | None:
    """Run on each worker: the problem that stops it rendering, or None."""
    from ..registry import load_state_dict

    if not os.access(input_path, os.R_OK):
        return f"cannot read the input {input_path}"
    if not os.access(output_dir, os.W_OK):
        return f"cannot write to {output_dir}"
    try:
        load_state_dict("multistyle26")
    except FlowstyleError as exc:
        return str(exc)
    return None


def preflight(client, src: Path, folder: Path) -> None:
    """One line naming each worker that lacks the weights or cannot reach the input or the work folder."""
    problems = {w: p for w, p in client.run(_worker_check, str(src.resolve()), str(folder.resolve())).items() if p}
    if problems:
        raise FlowstyleError("; ".join(f"worker {w}: {p}" for w, p in sorted(problems.items())))


def render_distributed(input_path: str | Path, output_path: str | Path, config: RenderConfig,
                       options: DistributedOptions, overwrite: bool = False, restart: bool = False,
                       progress: ProgressFn | None = None,
                       on_segment: Callable[[SegmentResult], None] | None = None) -> RenderReport:
    """Render ``input_path`` as segment tasks on a cluster, resumably, and join them into ``output_path``.

    Segments already in the work folder (from an interrupted run with the same
    input and settings) are not rendered again. ``progress`` counts frames of
    finished segments; ``on_segment`` hears of each one as it lands.
    """
    src, dst = Path(input_path).resolve(), Path(output_path).resolve()
    check_paths(src, dst, overwrite)
    start = time.perf_counter()
    work = SegmentFolder(dst, render_key(src, config, options), restart)
    plan = work.load_plan()
    if plan is None:
        plan = make_plan(src, config.size, config.temporal.cuts if config.temporal.mode != "none" else None,
                         options.segment_seconds, options.preroll if config.temporal.mode != "none" else 0)
        work.save_plan(plan)
    done = work.finished()
    todo = [s for s in plan.segments if s.index not in done]
    resumed = sum(s.frames for s in plan.segments if s.index in done)
    log.info("%s: %d frames, %d shots, %d segments; %d already rendered, %d to render",
             src.name, plan.frames, plan.shots, len(plan.segments), len(done), len(todo))
    if todo:
        _run_tasks(src, work, plan, todo, config, options, resumed, progress, on_segment)
    join([work.file(s) for s in plan.segments], dst, src if config.copy_audio else None)
    if not options.keep_work:
        work.remove()
    size = (0, 0)
    with contextlib.suppress(FlowstyleError, OSError), get_source(src, config.size) as source:
        size = source.size  # for the report only
    return RenderReport(input=src, output=dst, frames=plan.frames, lost_frames=0,
                        seconds=time.perf_counter() - start, size=size, device=config.device, dtype=config.precision)


def _run_tasks(src: Path, work: SegmentFolder, plan: Plan, todo: list, config: RenderConfig,
               options: DistributedOptions, resumed: int, progress: ProgressFn | None,
               on_segment: Callable[[SegmentResult], None] | None) -> None:
    from distributed import as_completed

    token = hashlib.sha256(json.dumps(work.key(), sort_keys=True).encode()).hexdigest()[:12]
    frames_done = resumed
    with connect(options) as client:
        preflight(client, src, work.path)
        futures = [client.submit(render_segment, str(src), str(work.file(s)), s, config, 1,
                                 key=f"flowstyle-segment-{token}-{s.name}", retries=RETRIES, pure=False)
                   for s in todo]
        try:
            for future in as_completed(futures):
                result: SegmentResult = future.result()
                frames_done += result.frames
                log.info("segment %d (frames %d-%d) done on %s in %.1f s", result.index,
                         plan.segments[result.index].start, plan.segments[result.index].stop - 1,
                         result.worker, result.seconds)
                if on_segment is not None:
                    on_segment(result)
                if progress is not None:
                    progress(Progress(frames_done, plan.frames, frames_done / plan.frames if plan.frames else None,
                                      resumed=resumed))
        except FlowstyleError:
            raise
        except OSError as exc:
            raise OutputError(work.path, f"a worker could not write its segment ({exc})") from None
        finally:
            client.cancel(futures)


def status_lines(output_path: str | Path) -> list[str]:
    """``flowstyle status OUTPUT``: what a distributed render of OUTPUT has done."""
    dst = Path(output_path).resolve()
    work = SegmentFolder(dst, None)
    if not work.exists:
        return [f"{dst}: complete" if dst.exists() else f"{dst}: no render in progress (no {work.path.name})"]
    plan = work.load_plan()
    if plan is None:
        return [f"{dst}: started, not yet planned ({work.path})"]
    done = work.finished()
    frames = sum(s.frames for s in plan.segments if s.index in done)
    missing = [s.name for s in plan.segments if s.index not in done]
    lines = [f"{dst}: {len(done)} of {len(plan.segments)} segments rendered ({frames} of {plan.frames} frames, "
             f"{plan.shots} shots); run the same command again to finish"]
    if missing:
        lines.append("missing: " + ", ".join(missing))
    return lines
