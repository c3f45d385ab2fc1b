"""``render --method gatys``: artistic style transfer for videos (Ruder, Dosovitskiy & Brox 2016/2018).

Frames are optimised one after another (each depends on the last): frame t starts
from the previous output warped by the flow and is pulled toward the outputs 1, 2
and 4 frames back where the flow is reliable. Every finished frame is checkpointed
in a work folder beside the output (:mod:`.workdir`); running the same command
again after a crash or Ctrl-C re-encodes the finished frames and continues.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..device import loss_network_dtype, resolve_device
from ..errors import FlowstyleError, StyleError
from ..flow import FlowBackend, make_flow_backend
from ..io.atomic import atomic_output, check_paths
from ..io.reader import SizePolicy, VideoReader
from ..io.writer import EncodeOptions, VideoWriter
from ..models.vgg import VGG16Features, load_vgg16
from ..render import RenderReport, io_threads, rgb_to_tensor, tensor_to_rgb
from ..scenes import CutDetector, CutOptions
from ..stylize.paintings import is_painting_spec, parse_paintings
from .objective import FrameObjective, LossParts, StyleTarget
from .optimize import OptimizeResult, optimize, optimize_coarse_to_fine, resize
from .options import GatysOptions
from .priors import Priors, ShotHistory, build_priors
from .workdir import WorkFolder, file_sha256, work_path

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16")  # no fp16: its gradients underflow at these loss scales


@dataclass(frozen=True)
class GatysConfig:
    """Everything that decides a Gatys render's output (besides the input file)."""

    gatys: GatysOptions
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    size: SizePolicy = field(default_factory=SizePolicy)
    device: str = "auto"
    precision: str = "auto"  # loss network: auto (bf16 where native, else fp32), fp32, bf16
    copy_audio: bool = True
    cuts: CutOptions | None = field(default_factory=CutOptions)
    keep_work: bool = False  # keep the checkpoint folder after a successful render

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise FlowstyleError(f"--precision: gatys runs {', '.join(PRECISIONS)}, not '{self.precision}' "
                                 "(fp16 gradients underflow at style-transfer loss scales)")


@dataclass(frozen=True)
class GatysProgress:
    """Frames finished so far, and the iteration and loss of the frame being optimised."""

    frames: int
    expected: int | None
    frame: int
    iteration: int
    loss: float  # total, temporal terms included
    perceptual: float  # weighted content + style loss: comparable with a per-frame render
    resumed: int  # frames taken from the work folder in this run


GatysProgressFn = Callable[[GatysProgress], None]


class FrameStylizer:
    """Optimise one frame given its temporal priors: the functional core of the render, no I/O."""

    def __init__(self, options: GatysOptions, target: StyleTarget, vgg: VGG16Features, device: torch.device,
                 autocast: torch.dtype | None = None) -> None:
        self.options = options
        self.target = target
        self.vgg = vgg
        self.device = device
        self.autocast = autocast

    def _noise(self, like: torch.Tensor, index: int) -> torch.Tensor:
        # Seeded per frame, so a resumed render draws the same noise as an uninterrupted one.
        g = torch.Generator().manual_seed(self.options.seed * 1_000_003 + index)
        return torch.rand(like.shape, generator=g).to(like.device)

    def __call__(self, rgb: np.ndarray, priors: Priors, index: int,
                 on_iteration: Callable[[int, float, LossParts], None] | None = None) -> tuple[np.ndarray, OptimizeResult]:
        """Frame ``index`` (uint8 RGB) optimised; ``on_iteration(i, loss, parts)`` after each evaluation."""
        o = self.options
        frame = rgb_to_tensor(rgb, self.device)
        full = tuple(frame.shape[-2:])
        current: list[FrameObjective] = []

        def objective(size: tuple[int, int]) -> FrameObjective:
            grams = self.target.grams(size[1], self.device)
            current[:] = [FrameObjective.build(self.vgg, o, resize(frame, size), grams,
                                               priors.priors if size == full else (), self.autocast)]
            return current[0]

        def report(i: int, loss: float) -> None:
            if on_iteration is not None and current[0].last is not None:
                on_iteration(i, loss, current[0].last)

        if priors.init is None:  # first frame of a shot: no past, coarse-to-fine
            init = self._noise(frame, index) if o.init == "noise" else frame
            result = optimize_coarse_to_fine(objective, init, o.first_iterations, o, report)
        else:
            init = {"warped": priors.init, "content": frame}.get(o.init)
            init = self._noise(frame, index) if init is None else init
            later = dataclasses.replace(o, warmup=o.warmup_warped if o.init == "warped" else o.warmup)
            result = optimize(objective(full), init, o.iterations, later, report)
        # Rounded to 8 bits here, not at encode time: the next frame starts from this
        # exact image whether it comes from memory or from the checkpoint on disk.
        return tensor_to_rgb(result.image), result


def render_key(src: Path, options: GatysOptions, config: GatysConfig, size: tuple[int, int],
               device: torch.device) -> dict:
    """What the checkpointed frames depend on: the input's bytes, the paintings' bytes, every setting."""
    settings = options.settings()
    settings["style"] = [{"sha256": file_sha256(p), "weight": w} for p, w in parse_paintings(options.style)]
    return {"input": {"sha256": file_sha256(src), "bytes": src.stat().st_size}, "size": list(size),
            "cuts": dataclasses.asdict(config.cuts) if config.cuts else None, "gatys": settings,
            "precision": str(loss_network_dtype(config.precision, device)), "device": device.type,
            "torch": torch.__version__}


def render_gatys(input_path: str | Path, output_path: str | Path, config: GatysConfig, overwrite: bool = False,
                 restart: bool = False, progress: GatysProgressFn | None = None) -> RenderReport:
    """Stylize ``input_path`` into ``output_path`` by optimisation, resumable (see the module docstring).

    Raises:
        FlowstyleError: bad input, unwritable output, a missing painting or weights,
            or a work folder that holds frames rendered with other settings
            (``restart=True`` discards them). No output file exists then.
    """
    src, dst = Path(input_path), Path(output_path)
    check_paths(src, dst, overwrite)
    o = config.gatys
    if not is_painting_spec(o.style):
        raise StyleError(f"gatys optimises toward a painting: give --style PAINTING.jpg ('{o.style}' is a built-in "
                         "feed-forward style)")
    paintings = parse_paintings(o.style)
    device = resolve_device(config.device)
    vgg = load_vgg16(device)  # float32 weights; the passes may autocast
    for p in vgg.parameters():
        p.requires_grad_(False)
    autocast = loss_network_dtype(config.precision, device)
    stylizer = FrameStylizer(o, StyleTarget(paintings, o.style_scale, vgg), vgg, device, autocast)
    backend = make_flow_backend(o.flow)
    with deterministic(device):
        return _render(src, dst, config, device, stylizer, backend, restart, progress, autocast)


@contextlib.contextmanager
def deterministic(device: torch.device) -> Iterator[None]:
    """cuDNN's deterministic kernels for the render (restored after).

    A resumed render must equal an uninterrupted one, and cuDNN's default
    convolution backward algorithms accumulate in a run-dependent order; on the
    CPU the kernels are deterministic for a fixed thread count already.
    """
    if device.type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved


def _render(src: Path, dst: Path, config: GatysConfig, device: torch.device, stylizer: FrameStylizer,
            backend: FlowBackend, restart: bool, progress: GatysProgressFn | None,
            autocast: torch.dtype | None) -> RenderReport:
    o = config.gatys
    start = time.perf_counter()
    threads = io_threads(0, device)
    encode = config.encode if config.encode.threads else dataclasses.replace(config.encode, threads=threads)
    with VideoReader(src, config.size, threads=threads) as reader, atomic_output(dst) as tmp:
        work = WorkFolder(work_path(dst), render_key(src, o, config, reader.size, device), restart)
        if work.finished:
            log.info("%s: resuming after %d finished frames", work.path, work.finished)
        writer = VideoWriter(tmp, reader.size, reader.time_base, reader.rate, reader.colour, encode,
                             audio_source=src if config.copy_audio else None,
                             metadata=dict(reader.container.metadata), display_path=dst)
        log.info("%s: %dx%d -> %s, gatys (%s) on %s", src, *reader.size, dst, o.optimizer, device)
        detector = CutDetector(config.cuts) if config.cuts is not None else None
        history = ShotHistory(max(o.temporal_offsets))
        done = resumed = 0
        expected = reader.stats.expected or None
        try:
            for frame in reader:
                if detector is not None and detector.is_cut(frame.rgb) and len(history):
                    log.info("scene cut at frame %d (%.3f s): temporal state reset", done, frame.time)
                    history.clear()
                if done < work.finished:
                    out = work.load(done)
                    resumed += 1
                else:
                    def on_iteration(i: int, loss: float, parts: LossParts, n: int = done) -> None:
                        if progress is not None:
                            progress(GatysProgress(n, expected, n, i, loss, parts.perceptual, resumed))

                    priors = build_priors(frame.rgb, history, o.temporal_offsets, backend, device)
                    out, result = stylizer(frame.rgb, priors, done, on_iteration)
                    log.info("frame %d: %d iterations, loss %.4g", done, result.iterations, result.loss)
                    work.save(done, out)
                history.push(frame.rgb, out)
                writer.write(out, frame.pts)
                done += 1
                if progress is not None:
                    progress(GatysProgress(done, expected, done, 0, 0.0, 0.0, resumed))
            writer.close()
        except BaseException:
            writer.abort()
            if work.finished == 0:
                work.remove()  # nothing to resume: leave no empty folder behind
            raise
        stats = reader.stats
    if not config.keep_work:
        work.remove()
    seconds = time.perf_counter() - start
    return RenderReport(input=src, output=dst, frames=done, lost_frames=stats.lost, seconds=seconds,
                        size=reader.size, device=str(device), dtype=str(autocast or torch.float32).removeprefix("torch."))
