"""The Python API of a render: ``render()`` (feed-forward) and ``render_gatys()`` (optimisation).

Both only build the pieces and hand them to the one loop,
:func:`flowstyle.pipeline.run`: the source (:func:`~flowstyle.io.formats.get_source`),
the stylizer, the temporal step and the sink (:func:`~flowstyle.io.formats.get_sink`,
which writes a temporary file and renames it into place only when the render
succeeds). Files and weights named by the configs are resolved here, when the
render is built, not in the configs (docs/architecture.md, "Configs").
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .errors import ConfigError
from .device import loss_network_dtype, precision_name, resolve_device, resolve_precision
from .flow import make_flow_backend
from .gatys.keys import KeyChain
from .gatys.stylizer import FrameStylizer, GatysConfig, GatysStylizer, deterministic, render_key, require_painting
from .gatys.objective import StyleTarget
from .gatys.priors import Priors
from .gatys.workdir import WorkFolder, work_path
from .io.frames import Frame
from .io.media import RangeOptions, RenderIO, open_render, output_depth
from .io.reader import SizePolicy
from .io.source import FrameSource, ReadOptions
from .io.writer import EncodeOptions
from .keyed.options import PaintedKeyOptions
from .keyed.plan import plan_keys
from .keyed.source import Carried, KeyPainter, PaintedSource, Unchanged
from .losses import load_vgg16
from .pipeline import CancelEvent, RunResult, io_threads, run, stylize_workers, with_predecessors
from .progress import Progress, ProgressFn
from .regions.build import make_clip_stylizer
from .regions.composite import RegionOptions
from .scenes import CutOptions
from .stylize.base import Stylizer
from .stylize.keyframes import KeyframeOptions
from .stylize.options import StyleOptions
from .stylize.paintings import parse_paintings
from .temporal import PerFrame, Stabilizer, TemporalOptions
from .tensors import frame_to_tensor, rgb_to_tensor, tensor_to_rgb

__all__ = ["GatysConfig", "Progress", "ProgressFn", "RenderConfig", "RenderReport", "frame_to_tensor", "io_threads",
           "render", "render_gatys", "rgb_to_tensor", "stylize_workers", "tensor_to_rgb", "with_predecessors"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderConfig:
    """Everything that decides a render's output (besides the input file). Plain data: JSON via
    ``dataclasses.asdict`` and :func:`flowstyle.config.from_dict`."""

    style: StyleOptions = field(default_factory=StyleOptions)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    size: SizePolicy = field(default_factory=SizePolicy)
    device: str = "auto"
    precision: str = "auto"
    copy_audio: bool = True
    temporal: TemporalOptions = field(default_factory=TemporalOptions)
    workers: int = 0  # frames stylized in parallel; 0 = auto (one per core on CPU, 1 on CUDA)
    io_threads: int = 0  # threads inside each of decode, scale and encode; 0 = auto (see io_threads())
    read: ReadOptions = field(default_factory=ReadOptions)  # image-sequence fps and gaps
    span: RangeOptions = field(default_factory=RangeOptions)  # --in/--out and the pre-roll
    regions: RegionOptions = field(default_factory=RegionOptions)  # per-region styles and mattes (docs/regions.md)
    keys: KeyframeOptions = field(default_factory=KeyframeOptions)  # style and strength keys (docs/regions.md)
    painted: PaintedKeyOptions = field(default_factory=PaintedKeyOptions)  # painted keys carried (docs/keyframes.md)


@dataclass(frozen=True)
class RenderReport:
    input: Path
    output: Path
    frames: int
    lost_frames: int
    seconds: float
    size: tuple[int, int]
    device: str
    dtype: str

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _warn_lost(src: Path, source: FrameSource, result: RunResult) -> None:
    if result.lost_frames:
        log.warning("%s: %d of %d frames could not be decoded (damaged or truncated file); wrote the %d that did",
                    src, result.lost_frames, source.frame_count, result.frames)


def render(input_path: str | Path, output_path: str | Path, config: RenderConfig = RenderConfig(),
           overwrite: bool = False, progress: ProgressFn | None = None,
           cancel: CancelEvent | None = None) -> RenderReport:
    """Stylize ``input_path`` into ``output_path`` (H.264, audio copied, timing kept).

    Raises:
        FlowstyleError: for bad input, outputs that cannot be written, unknown
            styles, missing weights or devices; no output file exists then.
    """
    src, dst = Path(input_path), Path(output_path)
    device = resolve_device(config.device)
    dtype = resolve_precision(config.precision, device)
    if config.painted.active:
        return _render_painted(src, dst, config, overwrite, progress, cancel, device, dtype)
    timed = config.regions.active or config.keys.active
    topts = config.temporal
    if config.style.strength == 0 and not timed and topts.mode != "none":  # keys may raise the strength later
        # Strength 0 is the input unchanged (a 10-bit source comes back at
        # >= 50 dB); a temporal step would only pull still pixels towards earlier frames.
        log.info("strength 0: frames pass through unstylized, so the temporal step is off")
        topts = dataclasses.replace(topts, mode="none")
    temporal = Stabilizer(topts) if topts.mode != "none" else PerFrame()
    start = time.perf_counter()
    io: RenderIO = open_render(src, dst, config.size, config.encode, config.read, config.span,
                               io_threads(config.io_threads, device), config.copy_audio, overwrite)
    with io.source as source:
        # The input is checked (open_render) before the stylizer is built: a bad path is one
        # line at once, not after loading weights or an int8 calibration.
        # The style is resolved once, here, into one track (keys need the clip's rate, duration and
        # timecode, a matte its size and length): docs/architecture.md, "The style value".
        stylizer = make_clip_stylizer(config.style, config.regions, config.keys, device, dtype, source, str(src))
        # The sink (its temporary file beside the output) only once the stylizer is built: a key
        # outside the clip or a bad matte left an empty hidden .part file behind.
        sink = io.open_sink()
        log.debug("%s: %dx%d -> %s, %s on %s", src, *source.size, dst, precision_name(dtype), device)
        result = run(source, stylizer, temporal, sink, cancel, progress, frames=io.frames,
                     cuts=topts.cut_frames or topts.cuts,
                     workers=stylize_workers(config.workers, device), preroll=config.span.preroll)
    _warn_lost(src, source, result)
    return RenderReport(input=src, output=dst, frames=result.frames, lost_frames=result.lost_frames,
                        seconds=time.perf_counter() - start, size=source.size, device=str(device),
                        dtype=precision_name(dtype))


def check_painted(config: RenderConfig) -> None:
    """Refuse what painted keys do not combine with yet (one line)."""
    if config.keys.active and config.painted.every is None and not config.painted.paint_keyless:
        # Style keys change the style flowstyle paints keys with; given keys are painted already.
        raise ConfigError("keyframes", "--style-at/--strength-at set the style of the keys flowstyle paints: "
                                       "add --keyframes-every N (or --style for shots without a key)")


def _render_painted(src: Path, dst: Path, config: RenderConfig, overwrite: bool, progress: ProgressFn | None,
                    cancel: CancelEvent | None, device: torch.device, dtype: torch.dtype) -> RenderReport:
    """``render()`` with painted keys: the keys are carried along the flow (docs/keyframes.md); the
    render's style paints the keys of shots that have none (``--keyframes-every``, or every shot
    without a given key when a style was asked for)."""
    check_painted(config)

    def painter(source: FrameSource) -> KeyPainter:
        # A key is painted whole; regions are laid over the carried pictures, not into the keys.
        stylizer = make_clip_stylizer(config.style, RegionOptions(), config.keys, device, dtype, source, str(src))
        return lambda frame, guess: stylizer.stylize(frame, True)  # a network has no use for a guess

    def regions_over(source: FrameSource, carried: PaintedSource) -> Stylizer:
        # Regions over the carried pictures: a region with a style of its own (or none: as filmed)
        # shows it, the rest shows what the keys paint; masks see the frames as filmed.
        # A region's own network style gets the render's temporal step on its own pictures (--temporal).
        return make_clip_stylizer(config.style, config.regions, config.keys, device, dtype, source, str(src),
                                  base=Carried(carried), region_step=config.temporal)

    return render_with_keys(src, dst, config.painted, painter, config.size, config.encode, config.read, config.span,
                            config.copy_audio, config.temporal.cut_frames or config.temporal.cuts, overwrite,
                            progress, cancel, device, precision_name(dtype),
                            over=regions_over if config.regions.active else None, paints_frames=True)


def render_with_keys(src: Path, dst: Path, options: PaintedKeyOptions, painter: Callable[[FrameSource], KeyPainter],
                     size: SizePolicy, encode: EncodeOptions, read: ReadOptions, span: RangeOptions, copy_audio: bool,
                     cuts: CutOptions | tuple[int, ...] | None, overwrite: bool, progress: ProgressFn | None,
                     cancel: CancelEvent | None, device: torch.device, dtype: str, deep: bool = True,
                     over: Callable[[FrameSource, PaintedSource], Stylizer] | None = None,
                     paints_frames: bool = False) -> RenderReport:
    """Carry the painted keys of ``options`` over ``src`` into ``dst``; ``painter(source)`` makes the function
    that paints a key flowstyle must paint itself (built only when the plan has one). ``deep`` False reads
    8-bit frames (Gatys paints uint8 pictures). ``over(source, carried)`` makes a stylizer that sees the
    frames as filmed and shows the carried pictures through :class:`~flowstyle.keyed.source.Carried`
    (regions); None writes the carried pictures. ``paints_frames``: the painter paints any frame at a
    frame's cost (a network), so what the flow cannot carry between its keys is painted anew, not copied."""
    start = time.perf_counter()
    io: RenderIO = open_render(src, dst, size, encode, read, span, io_threads(0, device), copy_audio, overwrite,
                               deep=deep)
    with io.source as source:
        # Keys, files and shots are checked before the output opens: a bad key is one line, nothing written.
        plan = plan_keys(options, source, io.frames, cuts, deep=output_depth(dst, encode) > 8)
        paint = painter(source) if plan.painted else None
        painted = PaintedSource(source, plan, paint, options.propagation, keep_frames=over is not None,
                                paints_frames=paints_frames)
        stylizer = over(source, painted) if over is not None else Unchanged()  # a bad matte: one line, nothing written
        sink = io.open_sink()
        result = run(painted, stylizer, PerFrame(), sink, cancel, progress, frames=io.frames, cuts=None)
    _warn_lost(src, source, result)
    return RenderReport(input=src, output=dst, frames=result.frames, lost_frames=result.lost_frames,
                        seconds=time.perf_counter() - start, size=source.size, device=str(device), dtype=dtype)


def render_gatys(input_path: str | Path, output_path: str | Path, config: GatysConfig, overwrite: bool = False,
                 restart: bool = False, progress: ProgressFn | None = None,
                 cancel: CancelEvent | None = None, input_sha256: str | None = None,
                 painted: PaintedKeyOptions = PaintedKeyOptions()) -> RenderReport:
    """Stylize ``input_path`` into ``output_path`` by optimisation, resumable (see :mod:`flowstyle.gatys.stylizer`).

    ``progress`` hears about finished frames (``iteration`` 0) and, while a frame is
    optimised, about each iteration (``item`` is the frame, ``values`` its losses).

    Raises:
        FlowstyleError: bad input, unwritable output, a missing painting or weights,
            or a work folder that holds frames rendered with other settings
            (``restart=True`` discards them). No output file exists then.
    """
    src, dst = Path(input_path), Path(output_path)
    o = config.gatys
    require_painting(o.style)
    paintings = parse_paintings(o.style)
    device = resolve_device(config.device)
    vgg = load_vgg16(device)  # float32 weights; the passes may autocast
    autocast = loss_network_dtype(config.precision, device)
    frames = FrameStylizer(o, StyleTarget(paintings, o.style_scale, vgg), vgg, device, autocast)
    if painted.keyframes:
        # Given keys are carried along the flow; Gatys paints the keys of the shots that have none
        # (with --style) or every --keyframes-every frames, and those are carried too.
        # A key after a shot's first starts from the previous key carried to it, as a temporal Gatys
        # frame starts from the previous output warped (its warm-start budget, not the first frame's).
        # That start is 12 frames of motion old, not one: L-BFGS from it without Adam's warm-up steps
        # diverged on bigbuckbunny.mp4 (160 px, keys every 12), so a key gets the warm-up a cold start has.
        keys = FrameStylizer(dataclasses.replace(o, warmup_warped=o.warmup), frames.target, vgg, device, autocast)

        def painter(source: FrameSource) -> KeyPainter:
            def paint(frame: Frame, guess: np.ndarray | None) -> np.ndarray:
                init = rgb_to_tensor(guess, device) if guess is not None else None
                return keys(frame.rgb, Priors([], init), frame.index)[0]
            return paint

        with deterministic(device):
            return render_with_keys(src, dst, painted, painter, config.size, config.encode, config.read, config.span,
                                    config.copy_audio, config.cuts, overwrite, progress, cancel, device,
                                    str(autocast or torch.float32).removeprefix("torch."), deep=False)
    # --keyframes-every alone: every Nth frame of a shot is a key and sets the style loss the frames
    # up to the next key stop at (flowstyle.gatys.keys): the Gatys look at a fraction of its cost.
    if painted.every is not None and o.temporal_weight == 0 and o.init != "warped":
        raise ConfigError("every", "Gatys keys need the temporal render: per-frame Gatys (--temporal none) "
                                   "optimises every frame from its own content, with none to spare between keys")
    chain = KeyChain(painted.every, o.key_tolerance) if painted.every is not None else None
    start = time.perf_counter()
    # Gatys optimises 8-bit frames: its output is written at the container's depth, read 8-bit.
    io = open_render(src, dst, config.size, config.encode, config.read, config.span, io_threads(0, device),
                     config.copy_audio, overwrite, deep=False)
    with io.source as source, deterministic(device):
        work = WorkFolder(work_path(dst), render_key(src, o, config, source.size, device, input_sha256,
                                                    painted.every), restart)
        if work.finished:
            log.info("%s: resuming after %d finished frames", work.path, work.finished)
        stylizer = GatysStylizer(frames, make_flow_backend(o.flow), work, progress, source.frame_count or None,
                                 chain)

        def on_frame(p: Progress) -> None:
            if progress is not None:
                progress(dataclasses.replace(p, resumed=stylizer.resumed))

        try:
            sink = io.open_sink()
            log.debug("%s: %dx%d -> %s, gatys (%s) on %s", src, *source.size, dst, o.optimizer, device)
            result = run(source, stylizer, PerFrame(), sink, cancel, on_frame, frames=io.frames, cuts=config.cuts,
                         preroll=config.span.preroll)
        except BaseException:
            if work.finished == 0:
                work.remove()  # nothing to resume: leave no empty folder behind
            raise
    if not config.keep_work:
        work.remove()
    _warn_lost(src, source, result)
    return RenderReport(input=src, output=dst, frames=result.frames, lost_frames=result.lost_frames,
                        seconds=time.perf_counter() - start, size=source.size, device=str(device),
                        dtype=str(autocast or torch.float32).removeprefix("torch."))
