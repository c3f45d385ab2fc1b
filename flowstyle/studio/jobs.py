"""Render jobs: queued, run ``concurrency`` at a time (one by default), cancellable, kept on the server.

State lives here, not in the page, so jobs survive a reload. Each job
runs :func:`flowstyle.render.render` (or ``render_gatys``) with the library's own
``progress`` and ``cancel`` hooks, into ``<root>/<job id>/``; deleting a job
cancels it and removes that folder.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Cancelled, FlowstyleError
from ..gatys.stylizer import GatysConfig
from ..keyed.options import PaintedKeyOptions
from ..progress import Progress
from ..render import RenderConfig, render, render_gatys
from .uploads import is_id, new_id

log = logging.getLogger(__name__)

TERMINAL = ("done", "failed", "cancelled")


@dataclass
class Job:
    id: str
    input: Path
    input_name: str
    output: Path
    config: RenderConfig | GatysConfig
    gatys_keys: PaintedKeyOptions = field(default_factory=PaintedKeyOptions)  # keys every N frames of a Gatys render
    state: str = "queued"  # queued, running, done, failed, cancelled
    done: int = 0
    total: int | None = None
    fps: float = 0.0
    eta: float | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    eval: dict[str, Any] | None = None
    cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def folder(self) -> Path:
        return self.output.parent

    def public(self) -> dict[str, Any]:
        """What the page sees: no paths on disk."""
        fraction = 1.0 if self.state == "done" else (self.done / self.total if self.total else 0.0)
        return {"id": self.id, "input": self.input_name, "state": self.state, "done": self.done, "total": self.total,
                "fraction": round(min(1.0, fraction), 4), "fps": round(self.fps, 2),
                "eta": None if self.eta is None else round(self.eta, 1), "error": self.error,
                "created": self.created, "output": self.output.suffix,
                "method": "gatys" if isinstance(self.config, GatysConfig) else "feedforward",
                "config": _without_paths(dataclasses.asdict(self.config)),
                **({"gatys_keys": _without_paths(dataclasses.asdict(self.gatys_keys))} if self.gatys_keys.active else {}),
                "eval": self.eval}


def _without_paths(value: Any) -> Any:
    """``value`` with every absolute path (an uploaded painting's stored file, in a style spec
    such as ``/tmp/.../uploads/ab12.png:0.5,7:0.5``, or a key's ``4s=/tmp/...png`` and
    ``background@4s=/tmp/...png``) cut to its file name: the page never sees
    where the server keeps files."""
    if isinstance(value, dict):
        return {k: _without_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_paths(v) for v in value]
    if isinstance(value, str) and os.sep in value:
        return ",".join(_name_only(part) for part in value.split(","))
    return value


def _name_only(part: str) -> str:
    """One spec part with its absolute path (after a key's ``TIME=``, if any) cut to the file name."""
    head, sep, tail = part.rpartition("=")
    return head + sep + Path(tail).name if Path(tail.strip()).is_absolute() else part


class JobQueue:
    """Jobs by id; ``concurrency`` worker threads take queued jobs in order."""

    def __init__(self, root: Path, concurrency: int = 1) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self._jobs: dict[str, Job] = {}
        self._cond = threading.Condition()
        self._closed = False
        self._workers = [threading.Thread(target=self._work, name=f"studio-job-{i}", daemon=True)
                         for i in range(max(1, concurrency))]
        for w in self._workers:
            w.start()

    def submit(self, input: Path, input_name: str, config: RenderConfig | GatysConfig, suffix: str,
               gatys_keys: PaintedKeyOptions = PaintedKeyOptions()) -> Job:
        jid = new_id()
        folder = self.root / jid
        folder.mkdir()
        stem = Path(input_name).stem or "clip"
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:60]
        job = Job(jid, input, input_name, folder / f"{safe}-stylized{suffix}", config, gatys_keys)
        with self._cond:
            self._jobs[jid] = job
            self._cond.notify()
        return job

    def get(self, jid: str) -> Job | None:
        if not is_id(jid):
            return None
        with self._cond:
            return self._jobs.get(jid)

    def all(self) -> list[Job]:
        with self._cond:
            return sorted(self._jobs.values(), key=lambda j: j.created)

    def cancel(self, jid: str) -> Job | None:
        job = self.get(jid)
        if job is not None:
            job.cancel.set()
            with self._cond:
                if job.state == "queued":
                    job.state = "cancelled"
        return job

    def delete(self, jid: str) -> bool:
        job = self.cancel(jid)
        if job is None:
            return False
        with self._cond:
            self._jobs.pop(jid, None)
            running = job.state == "running"
        if not running:  # a running job's worker removes the folder once the render has stopped
            shutil.rmtree(job.folder, ignore_errors=True)
        return True

    def close(self) -> None:
        """Cancel everything and wait (briefly) for running renders to stop; the folders go with the app's temp dir."""
        with self._cond:
            self._closed = True
            for job in self._jobs.values():
                job.cancel.set()
            self._cond.notify_all()
        for w in self._workers:
            w.join(timeout=10)

    def _next(self) -> Job | None:
        with self._cond:
            while not self._closed:
                job = next((j for j in sorted(self._jobs.values(), key=lambda j: j.created) if j.state == "queued"), None)
                if job is not None:
                    job.state = "running"
                    job.started = time.perf_counter()
                    return job
                self._cond.wait()
        return None

    def _work(self) -> None:
        while (job := self._next()) is not None:
            self._run(job)

    def _run(self, job: Job) -> None:
        def progress(p: Progress) -> None:
            if p.iteration:
                return
            job.done = p.done
            job.total = p.estimated_total()
            elapsed = time.perf_counter() - (job.started or time.perf_counter())
            job.fps = p.done / elapsed if elapsed > 0 else 0.0
            job.eta = (job.total - p.done) / job.fps if job.total and job.fps > 0 else None

        try:
            if isinstance(job.config, GatysConfig):
                report = render_gatys(job.input, job.output, job.config, progress=progress, cancel=job.cancel,
                                      painted=job.gatys_keys)
            else:
                report = render(job.input, job.output, job.config, progress=progress, cancel=job.cancel)
            job.done, job.total, job.fps, job.eta = report.frames, report.frames, report.fps, 0.0
            job.state = "done"
        except Cancelled:
            job.state = "cancelled"
        except FlowstyleError as exc:
            job.state, job.error = "failed", str(exc)
        except Exception as exc:  # a bug: keep the server up, show it on the page, log the traceback
            log.exception("job %s failed", job.id)
            job.state, job.error = "failed", f"internal error: {exc}"
        job.finished = time.time()
        if self.get(job.id) is None:  # deleted while it ran
            shutil.rmtree(job.folder, ignore_errors=True)
