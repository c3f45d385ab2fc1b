"""The studio's HTTP API and its one static page (FastAPI).

Routes take ids, never paths: uploads, jobs and folder clips are looked up by
32-hex-digit ids in dicts, so no request path is ever joined to the filesystem.
When a token is set, every request must carry it (``?token=`` or the
``X-Flowstyle-Token`` header); the page passes on the one it was opened with.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..errors import FlowstyleError
from ..io.frames import Frame
from ..models.multistyle import NUM_STYLES
from ..stylize.builtin import BUILTIN_NAMES
from ..stylize.learned import learned_names
from ..stylize.options import StyleOptions
from .engine import StylizerCache, jpeg, png, read_frame
from .jobs import TERMINAL, JobQueue
from .live import LiveSettings, LiveStream
from .settings import (check_clip, choices, gatys_keys, job_config, key_settings, output_suffix, region_settings,
                       style_options)
from .uploads import DEFAULT_UPLOAD_LIMIT, Upload, UploadStore, UploadTooLarge

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
PREVIEW_WIDTH = 640
THUMB_WIDTH = 128
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".ts")


@dataclass(frozen=True)
class StudioOptions:
    """How the studio runs. ``token`` None: no token (loopback only, see :func:`check_bind`)."""

    host: str = "127.0.0.1"
    token: str | None = None
    folder: str | None = None  # clips offered on the page besides uploads
    upload_limit: int = DEFAULT_UPLOAD_LIMIT
    concurrency: int = 1  # renders at once
    device: str = "auto"
    live_source: str | None = None  # started with the app (``flowstyle preview``)
    live: LiveSettings = field(default_factory=LiveSettings)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve beyond this machine without a token: anyone on the network could upload and render."""
    if host not in LOOPBACK and not token:
        raise FlowstyleError(f"--host {host}: serving beyond this machine needs --token (every request must carry it)")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _upload_json(u: Upload) -> dict[str, Any]:
    v = u.info.video[0]
    w, h = v.display_size
    rate = float(v.average_rate) if v.average_rate else None
    return {"id": u.id, "name": u.name, "kind": u.kind, "width": w, "height": h, "fps": rate,
            "frames": v.frames or (round(u.info.duration * rate) if u.info.duration and rate else 0),
            "duration": u.info.duration, "format": u.info.format, "codec": v.codec,
            "audio": [f"{a.codec} {a.sample_rate} Hz {a.layout}" for a in u.info.audio],
            "timecode": u.info.timecode if hasattr(u.info, "timecode") else None}


def create_app(options: StudioOptions = StudioOptions()) -> FastAPI:
    """The studio app; its temporary folder is removed when the app stops."""
    check_bind(options.host, options.token)
    tmp = Path(tempfile.mkdtemp(prefix="flowstyle-studio-"))
    uploads = UploadStore(tmp / "uploads", options.upload_limit)
    jobs = JobQueue(tmp / "jobs", options.concurrency)
    stylizers = StylizerCache(options.device)
    state: dict[str, Any] = {"live": None, "thumbs": {}}

    def stored(kind: str) -> Callable[[str], str | None]:
        """The stored path of an upload of ``kind`` by id, or None: an "image" is a painting, a "video" a clip
        or a matte."""
        def path(uid: str) -> str | None:
            u = uploads.get(uid)
            return str(u.path) if u is not None and u.kind == kind else None
        return path

    painting, video = stored("image"), stored("video")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if options.folder:
            for p in sorted(Path(options.folder).iterdir()):
                if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file():
                    try:
                        uploads.add_file(p)
                    except FlowstyleError as exc:
                        log.warning("%s", exc)
        if options.live_source:
            state["live"] = LiveStream(options.live_source, stylizers, options.live)
        try:
            yield
        finally:
            if state["live"] is not None:
                state["live"].stop()
            jobs.close()
            uploads.close()
            shutil.rmtree(tmp, ignore_errors=True)

    app = FastAPI(title="flowstyle studio", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.tmp = tmp

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if options.token:
            given = request.query_params.get("token") or request.headers.get("x-flowstyle-token") or ""
            if not hmac.compare_digest(given.encode(), options.token.encode()):
                return _error(401, "missing or wrong token: open the address the studio printed")
        return await call_next(request)

    @app.exception_handler(FlowstyleError)
    async def flowstyle_error(request: Request, exc: FlowstyleError) -> JSONResponse:
        return _error(400, str(exc))

    @app.get("/")
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/info")
    async def info() -> dict[str, Any]:
        return {"choices": choices(), "upload_limit": options.upload_limit, "live_source": options.live_source,
                "styles": [{"index": i, "name": n} for i, n in enumerate(BUILTIN_NAMES)],
                "learned": learned_names()}

    # --- uploads and clips -------------------------------------------------------------
    @app.post("/api/uploads")
    async def upload(request: Request, name: str = "upload") -> JSONResponse:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > options.upload_limit:
            return _error(413, f"{name}: larger than the upload limit of {options.upload_limit} bytes")
        try:
            u = await uploads.receive(request.stream(), name[:200])
        except UploadTooLarge as exc:
            return _error(413, str(exc))
        return JSONResponse(_upload_json(u))

    @app.get("/api/uploads")
    async def list_uploads() -> list[dict[str, Any]]:
        return [_upload_json(u) for u in uploads.all()]

    @app.delete("/api/uploads/{uid}")
    async def delete_upload(uid: str) -> JSONResponse:
        return JSONResponse({"deleted": uid}) if uploads.remove(uid) else _error(404, "no such upload")

    @app.get("/api/uploads/{uid}/frame.jpg")
    async def frame(uid: str, index: int = 0, width: int = PREVIEW_WIDTH) -> Response:
        u = uploads.get(uid)
        if u is None:
            return _error(404, "no such upload")
        f = await run_in_threadpool(read_frame, u.path, index, min(width, 1920))
        return Response(jpeg(f.rgb), media_type="image/jpeg")

    @app.get("/api/uploads/{uid}/frame.png")
    async def frame_to_paint(uid: str, index: int = 0, width: int = 0) -> Response:
        """Frame ``index`` as a lossless PNG at the render's size (``width``: the page's Width; 0: the clip's),
        to paint and upload back as a key (what ``flowstyle frames`` writes)."""
        u = uploads.get(uid)
        if u is None or u.kind != "video":
            return _error(404, "no such clip")
        f = await run_in_threadpool(read_frame, u.path, index, width or None)
        name = f"{Path(u.name).stem}_{index:04d}.png"
        return Response(png(f.rgb), media_type="image/png",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.post("/api/uploads/{uid}/preview.jpg")
    async def preview(uid: str, request: Request, index: int = 0, width: int = PREVIEW_WIDTH) -> Response:
        """The frame at ``index`` stylized with the form's style, strength and colours (~0.3 s at 640 px), and with
        its regions, matte and keys as the render would."""
        u = uploads.get(uid)
        if u is None:
            return _error(404, "no such upload")
        form = await request.json()
        style = style_options(form, painting)
        regions, keys = region_settings(form, painting, video), key_settings(form, painting)

        def work() -> bytes:
            if regions.active or keys.active:
                return jpeg(stylizers.stylize_clip_frame(style, regions, keys, u.path, index, min(width, 1920)))
            f = read_frame(u.path, index, min(width, 1920))
            return jpeg(stylizers.stylize(style, f))

        return Response(await run_in_threadpool(work), media_type="image/jpeg")

    # --- styles -------------------------------------------------------------------------
    @app.get("/api/styles/{index}/thumb.jpg")
    async def thumb(index: int, clip: str = "") -> Response:
        """One tile of the gallery: built-in style ``index`` on the clip's first frame (or a test card)."""
        if not 0 <= index < NUM_STYLES:
            return _error(404, "no such style")
        u = uploads.get(clip)
        key = (index, u.id if u else "")
        if key not in state["thumbs"]:
            def work() -> bytes:
                f = read_frame(u.path, 0, THUMB_WIDTH) if u else _test_card()
                return jpeg(stylizers.stylize(StyleOptions(style=str(index)), f), 80)
            state["thumbs"][key] = await run_in_threadpool(work)
        return Response(state["thumbs"][key], media_type="image/jpeg")

    # --- jobs ---------------------------------------------------------------------------
    @app.post("/api/jobs")
    async def submit(request: Request) -> JSONResponse:
        form = await request.json()
        u = uploads.get(str(form.get("input", "")))
        if u is None or u.kind != "video":
            return _error(404, "no such clip: upload one or pick one from the folder")
        config = job_config(form, painting, video)
        check_clip(config, u.info)  # bad keys are one line now, not a failed job
        job = jobs.submit(u.path, u.name, config, output_suffix(form), gatys_keys(form, painting))
        return JSONResponse(job.public())

    @app.get("/api/jobs")
    async def list_jobs() -> list[dict[str, Any]]:
        return [j.public() for j in jobs.all()]

    @app.get("/api/jobs/{jid}")
    async def get_job(jid: str) -> JSONResponse:
        job = jobs.get(jid)
        return JSONResponse(job.public()) if job else _error(404, "no such job")

    @app.post("/api/jobs/{jid}/cancel")
    async def cancel_job(jid: str) -> JSONResponse:
        job = jobs.cancel(jid)
        return JSONResponse(job.public()) if job else _error(404, "no such job")

    @app.delete("/api/jobs/{jid}")
    async def delete_job(jid: str) -> JSONResponse:
        return JSONResponse({"deleted": jid}) if jobs.delete(jid) else _error(404, "no such job")

    @app.get("/api/jobs/{jid}/events")
    async def events(jid: str) -> Response:
        """Server-sent progress: one ``data:`` line of the job's JSON a change, until it ends."""
        job = jobs.get(jid)
        if job is None:
            return _error(404, "no such job")

        async def stream() -> AsyncIterator[str]:
            last = None
            while True:
                now = json.dumps(job.public())
                if now != last:
                    yield f"data: {now}\n\n"
                    last = now
                if job.state in TERMINAL:
                    return
                await asyncio.sleep(0.2)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/api/jobs/{jid}/download")
    async def download(jid: str) -> Response:
        job = jobs.get(jid)
        if job is None:
            return _error(404, "no such job")
        if job.state != "done" or not job.output.is_file():
            return _error(409, f"job is {job.state}: nothing to download yet")
        return FileResponse(job.output, filename=job.output.name)

    @app.post("/api/jobs/{jid}/eval")
    async def evaluate_job(jid: str) -> JSONResponse:
        """``flowstyle eval``'s E_warp for a finished render (VGG losses off, for speed) and its plot."""
        job = jobs.get(jid)
        if job is None:
            return _error(404, "no such job")
        if job.state != "done":
            return _error(409, f"job is {job.state}: evaluate a finished render")

        def work() -> dict[str, Any]:
            from ..metrics import evaluate, plot_ewarp

            report = evaluate(job.input, job.output, loss_every=0)
            series = {k: v for k, v in report.per_frame.items() if k in ("ewarp", "ewarp_original")}
            plot_ewarp(series, job.folder / "ewarp.png", title=job.input_name)
            return {"frames": report.frames, "ewarp": report.ewarp, "ewarp_original": report.ewarp_original,
                    "flicker": report.flicker, "per_frame": series}

        job.eval = await run_in_threadpool(work)
        return JSONResponse(job.eval)

    @app.get("/api/jobs/{jid}/ewarp.png")
    async def ewarp_plot(jid: str) -> Response:
        job = jobs.get(jid)
        if job is None or not (job.folder / "ewarp.png").is_file():
            return _error(404, "no plot: evaluate the job first")
        return FileResponse(job.folder / "ewarp.png", media_type="image/png")

    # --- live ---------------------------------------------------------------------------
    @app.post("/api/live")
    async def live_start(request: Request) -> JSONResponse:
        """Start (or retarget) the live stream: ``{"source": "lavfi:..."|"camera"|"upload:ID", style...}``."""
        form = await request.json()
        settings = LiveSettings(style=style_options(form, painting), temporal=str(form.get("temporal", "flow")),
                                width=int(form.get("width", 320)))
        source = form.get("source")
        live: LiveStream | None = state["live"]
        if source and (live is None or source != live.label):
            path = _live_source(str(source), uploads)
            if live is not None:
                await run_in_threadpool(live.stop)
            state["live"] = live = await run_in_threadpool(LiveStream, path, stylizers, settings, str(source))
        elif live is not None:
            live.update(settings)
        else:
            return _error(400, "no live source: give one")
        return JSONResponse(dataclasses.asdict(live.stats()) | {"reduced": live.stats().reduced})

    @app.get("/api/live")
    async def live_stats() -> JSONResponse:
        live: LiveStream | None = state["live"]
        if live is None:
            return JSONResponse({"running": False})
        s = live.stats()
        return JSONResponse(dataclasses.asdict(s) | {"reduced": s.reduced})

    @app.delete("/api/live")
    async def live_stop() -> JSONResponse:
        live: LiveStream | None = state.pop("live", None)
        state["live"] = None
        if live is not None:
            await run_in_threadpool(live.stop)
        return JSONResponse({"running": False})

    @app.get("/live.mjpg")
    async def mjpeg() -> Response:
        live: LiveStream | None = state["live"]
        if live is None:
            return _error(404, "no live stream: start one first")

        async def parts() -> AsyncIterator[bytes]:
            seq = 0
            while state["live"] is live:
                new, data = await run_in_threadpool(live.latest, seq, 1.0)
                if data is None or new == seq:
                    if not live.stats().running:
                        return
                    continue
                seq = new
                yield (b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: " + str(len(data)).encode()
                       + b"\r\n\r\n" + data + b"\r\n")

        return StreamingResponse(parts(), media_type="multipart/x-mixed-replace; boundary=frame",
                                 headers={"Cache-Control": "no-cache"})

    return app


def _live_source(source: str, uploads: UploadStore) -> str:
    """A source the page may name: a lavfi graph, the camera, or an uploaded clip by id (never a path)."""
    if source.startswith("lavfi:"):
        return source
    if source == "camera":
        return "/dev/video0"
    if source.startswith("upload:"):
        u = uploads.get(source[len("upload:"):])
        if u is not None and u.kind == "video":
            return str(u.path)
    raise FlowstyleError(f"live source '{source}': use lavfi:GRAPH, camera or an uploaded clip")


def _test_card() -> Frame:
    """A 128x72 gradient with a square: the gallery's picture before a clip is chosen."""
    y, x = np.mgrid[0:72, 0:128]
    rgb = np.stack([x * 2, y * 3, np.full_like(x, 120)], -1).astype(np.uint8)
    rgb[20:52, 40:88] = (240, 220, 40)
    return Frame(0, 0, Fraction(1, 25), rgb)
