"""Many renders at once: ``batch`` (inputs and an output template) and ``conform`` (a timeline).

Both run one :func:`flowstyle.render.render` per job and keep going when a job
fails: each job ends as a :class:`Job` with its status, and the CLI prints them as
a summary table. ``conform`` reads an OpenTimelineIO timeline (``.otio``, or a
CMX3600 ``.edl`` through the ``otio-cmx3600-adapter`` plugin), renders the used
range of every clip (plus ``handles`` frames each side, within the clip) for each
event, and writes a new ``.otio`` whose clips point at the renders. Each render
carries the timecode of its first frame (the source's, shifted by the in-point),
so a clip's source range means the same frames in the render as in the source.
"""

from __future__ import annotations

import copy
import glob
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import opentimelineio as otio

from .errors import FlowstyleError, InputError, OutputError
from .io.atomic import atomic_save, make_folder
from .io.formats import get_source
from .render import RenderConfig, render

log = logging.getLogger(__name__)

RENDER_FAILURES = (FlowstyleError, OSError)  # plus av.FFmpegError, added where av is imported


@dataclass(frozen=True)
class Job:
    """One render of a batch or a conform, and what happened to it."""

    name: str  # the event or input, as the summary shows it
    input: Path | None
    output: Path | None
    frames: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _failures() -> tuple[type[BaseException], ...]:
    import av

    return RENDER_FAILURES + (av.FFmpegError,)


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files named or matched by globs, in order, each once; a pattern that matches nothing is an InputError."""
    out: list[Path] = []
    for text in inputs:
        matches = sorted(glob.glob(text)) if glob.has_magic(text) else [text]
        if not matches:
            raise InputError(text, "matches no files")
        out += [Path(m) for m in matches if Path(m) not in out]
    return out


def output_for(template: str, src: Path) -> Path:
    """``out/{stem}_styled.mov`` for ``clips/a.mp4`` -> ``out/a_styled.mov`` ({stem}, {name}, {ext}, {parent})."""
    try:
        return Path(template.format(stem=src.stem, name=src.name, ext=src.suffix.lstrip("."), parent=src.parent.name))
    except (KeyError, IndexError, ValueError) as exc:
        raise OutputError(template, f"bad output template ({exc}); use {{stem}}, {{name}}, {{ext}} or {{parent}}") from None


def batch(inputs: list[str], template: str, config: RenderConfig = RenderConfig(), overwrite: bool = False) -> list[Job]:
    """Render every input to ``template``; a failure is recorded and the next input goes on.

    The template's folders are created (parents included) before the first render."""
    jobs = []
    sources = expand_inputs(inputs)
    outputs = [output_for(template, s) for s in sources]
    if len(set(outputs)) < len(outputs):
        raise OutputError(template, "gives two inputs the same output; use {stem} or {name} in it")
    for folder in dict.fromkeys(dst.parent for dst in outputs):  # made before the first render, once each
        make_folder(folder)
    for src, dst in zip(sources, outputs):
        jobs.append(_run(src.name, src, dst, config, overwrite))
    return jobs


def _run(name: str, src: Path, dst: Path, config: RenderConfig, overwrite: bool) -> Job:
    try:
        report = render(src, dst, config, overwrite=overwrite)
    except _failures() as exc:
        log.warning("%s: %s", name, exc)
        return Job(name, src, dst, error=str(exc))
    return Job(name, src, dst, frames=report.frames)


def read_timeline(path: Path, rate: float = 24.0) -> otio.schema.Timeline:
    """An ``.otio`` timeline, or a CMX3600 ``.edl`` (at ``rate``: an EDL does not say its rate)."""
    if not path.is_file():
        raise InputError(path, "no such file")
    try:
        if path.suffix.lower() == ".edl":
            return otio.adapters.read_from_file(str(path), adapter_name="cmx_3600", rate=rate)
        return otio.adapters.read_from_file(str(path))
    except Exception as exc:  # OTIO adapters raise their own exception types for unreadable files
        raise InputError(path, f"cannot read this timeline ({type(exc).__name__}: {exc})") from None


def find_media(clip: otio.schema.Clip, media: Path) -> Path | None:
    """The file in ``media`` that a clip uses: its media reference's file name, else its name (EDL: FROM CLIP NAME)."""
    names = []
    ref = clip.media_reference
    if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
        names.append(Path(ref.target_url.removeprefix("file://")).name)
    if clip.name:
        names.append(clip.name)
    for name in names:
        if (media / name).is_file():
            return media / name
    for name in names:  # the reel or clip name without an extension
        hits = sorted(p for p in media.glob(f"{glob.escape(Path(name).stem)}.*") if p.is_file())
        if hits:
            return hits[0]
    return None


def conform(timeline_path: str | Path, media: str | Path, out_dir: str | Path, handles: int = 0,
            config: RenderConfig = RenderConfig(), overwrite: bool = False, rate: float = 24.0,
            extension: str = ".mov") -> tuple[list[Job], Path]:
    """Render every event's used range (+ ``handles``) and write ``OUTDIR/<timeline>_conformed.otio``.

    ``out_dir`` is created (parents included) if it does not exist.

    Returns the jobs and the path of the new timeline (written even when some jobs
    failed: their clips keep their old media reference, and the summary says so).
    """
    timeline_path, media, out_dir = Path(timeline_path), Path(media), Path(out_dir)
    if handles < 0:
        raise InputError("--handles", f"must be 0 or more frames, got {handles}")
    if not media.is_dir():
        raise InputError(media, "no such folder (--media)")
    timeline = read_timeline(timeline_path, rate)
    make_folder(out_dir)  # after the timeline is read: a bad timeline leaves no folder behind
    conformed = copy.deepcopy(timeline)
    jobs = []
    for number, clip in enumerate(conformed.find_clips(), start=1):
        name = f"{number:03d} {clip.name or '?'}"
        src = find_media(clip, media)
        if src is None:
            jobs.append(Job(name, None, None, error=f"{timeline_path}: event {number}: clip '{clip.name}' is not in {media}"))
            log.warning("%s", jobs[-1].error)
            continue
        dst = out_dir / f"{number:03d}_{src.stem}{extension}"
        try:
            first, last, start_tc = _used_frames(clip, src, handles)
        except _failures() as exc:
            jobs.append(Job(name, src, dst, error=str(exc)))
            continue
        job = _run(name, src, dst, replace(config, span=replace(config.span, in_point=str(first),
                                                                    out_point=str(last))), overwrite)
        jobs.append(job)
        if job.ok:
            r = clip.source_range.start_time.rate
            clip.media_reference = otio.schema.ExternalReference(
                target_url=str(dst.resolve()),
                available_range=otio.opentime.TimeRange(otio.opentime.RationalTime(start_tc + first, r),
                                                        otio.opentime.RationalTime(last - first, r)))
    target = out_dir / f"{timeline_path.stem}_conformed.otio"
    atomic_save(lambda tmp: otio.adapters.write_to_file(conformed, tmp, adapter_name="otio_json"), target)
    return jobs, target


def _used_frames(clip: otio.schema.Clip, src: Path, handles: int) -> tuple[int, int, int]:
    """(first, stop) frame indices of ``src`` that ``clip`` uses, widened by ``handles`` within the clip,
    and the frame number of the source's start timecode (0 when it has none)."""
    with get_source(src) as source:
        tc = source.timecode
        count = source.frame_count
        rate = float(source.frame_rate) if source.frame_rate else None
    sr = clip.source_range
    if sr is None:
        raise InputError(src, f"clip '{clip.name}' has no source range")
    if rate is not None and abs(sr.start_time.rate - rate) > 0.01:
        sr = otio.opentime.TimeRange(sr.start_time.rescaled_to(rate), sr.duration.rescaled_to(rate))
    origin = tc.frame if tc is not None else 0
    start = int(round(sr.start_time.value)) - origin
    stop = start + int(round(sr.duration.value))
    if start < 0 or (count and stop > count):
        raise InputError(src, f"clip '{clip.name}' uses frames {start}-{stop} but the file has frames 0-{count}")
    return max(0, start - handles), min(count, stop + handles) if count else stop + handles, origin
