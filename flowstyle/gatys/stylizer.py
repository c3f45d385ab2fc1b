"""``render --method gatys``: artistic style transfer for videos (Ruder, Dosovitskiy & Brox 2016/2018).

Frames are optimised one after another (each depends on the last): frame t starts
from the previous output warped by the flow and is pulled toward the outputs 1, 2
and 4 frames back where the flow is reliable. Every finished frame is checkpointed
in a work folder beside the output (:mod:`.workdir`); running the same command
again after a crash or Ctrl-C re-encodes the finished frames and continues.

:class:`GatysStylizer` is this method as a sequential
:class:`~flowstyle.stylize.base.Stylizer`: :func:`flowstyle.pipeline.run` drives it
like any other (``flowstyle.render.render_gatys`` builds it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..device import loss_network_dtype
from ..errors import ConfigError, StyleError
from ..flow import FlowBackend
from ..io.frames import Frame
from ..io.media import RangeOptions
from ..io.reader import SizePolicy
from ..io.source import ReadOptions
from ..io.writer import EncodeOptions
from ..losses import STYLE_LAYERS
from ..models.vgg import VGG16Features
from ..progress import Progress, ProgressFn
from ..scenes import CutOptions
from ..stylize.paintings import is_painting_spec, parse_paintings
from ..tensors import rgb_to_tensor, tensor_to_rgb
from .keys import MIN_ITERATIONS, KeyChain
from .objective import RANGE_WEIGHT, FrameObjective, LossParts, StyleTarget, loss_autocast, weighted_style_loss
from .optimize import OptimizeResult, StopFn, optimize, optimize_coarse_to_fine, resize
from .options import GatysOptions
from .priors import Priors, ShotHistory, build_priors
from .workdir import WorkFolder, file_sha256

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
    read: ReadOptions = field(default_factory=ReadOptions)  # image-sequence fps and gaps
    span: RangeOptions = field(default_factory=RangeOptions)  # --in/--out and the pre-roll

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError("precision", f"gatys runs {', '.join(PRECISIONS)}, not '{self.precision}' "
                              "(fp16 gradients underflow at style-transfer loss scales)")


def require_painting(style: str) -> None:
    """Gatys optimises toward paintings: a built-in feed-forward style is refused in one line."""
    if not is_painting_spec(style):
        raise StyleError(f"gatys optimises toward a painting: give --style PAINTING.jpg ('{style}' is a built-in "
                         "feed-forward style)")


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
                 on_iteration: Callable[[int, float, LossParts], None] | None = None, iterations: int | None = None,
                 stop_style: float | None = None) -> tuple[np.ndarray, OptimizeResult]:
        """Frame ``index`` (uint8 RGB) optimised; ``on_iteration(i, loss, parts)`` after each evaluation.

        A frame with a past (``priors.init``) gets ``iterations`` (default ``options.iterations``), and
        stops once its style loss is at most ``stop_style``, after :data:`~.keys.MIN_ITERATIONS` at least.
        """
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
            until: StopFn | None = None
            if stop_style is not None:
                def until(n: int, image: torch.Tensor) -> bool:
                    # Judged on the picture as it would be written (clamped, 8 bits), as the key's bar
                    # was (objective.RANGE_WEIGHT: what lies outside [0, 1] never reaches the output).
                    # The optimiser's own figure, on the unclamped image, is the lower one: it spares
                    # that extra pass while it is above the bar.
                    last = current[0].last
                    if n < MIN_ITERATIONS or last is None or last.style > stop_style:
                        return False
                    return self._style_loss(as_written(image)) <= stop_style
            result = optimize(objective(full), init, iterations or o.iterations, later, report, until)
        # Rounded to 8 bits here, not at encode time: the next frame starts from this
        # exact image whether it comes from memory or from the checkpoint on disk.
        return tensor_to_rgb(result.image), result

    def style_loss(self, rgb: np.ndarray) -> float:
        """The style term of the objective for the picture ``rgb`` (uint8), as the optimiser weighs it."""
        return self._style_loss(rgb_to_tensor(rgb, self.device))

    def _style_loss(self, x: torch.Tensor) -> float:
        with torch.no_grad(), loss_autocast(x, self.autocast):
            feats = self.vgg(x, STYLE_LAYERS)
        return float(weighted_style_loss(feats, self.target.grams(x.shape[-1], self.device), self.options))


def as_written(image: torch.Tensor) -> torch.Tensor:
    """``image`` (float, [0, 1]) as :func:`~flowstyle.tensors.tensor_to_rgb` writes it and
    :func:`~flowstyle.tensors.rgb_to_tensor` reads it back: clamped and rounded to 8 bits, on its device."""
    return image.mul(255.0).add_(0.5).clamp_(0, 255).floor_().div_(255.0)


def render_key(src: Path, options: GatysOptions, config: GatysConfig, size: tuple[int, int],
               device: torch.device, input_sha256: str | None = None, every: int | None = None) -> dict:
    """What the checkpointed frames depend on: the input's bytes, the paintings' bytes, every setting.

    ``input_sha256``: the input's hash when the caller has it already (a distributed
    shot task: hashing a feature-length input once per shot would cost minutes).
    ``every``: keys every this many frames of a shot (:mod:`.keys`), None for the temporal render.
    """
    settings = options.settings()
    if every is None:  # the keys' settings do not touch a temporal render's frames
        for name in ("key_iterations", "key_tolerance"):
            settings.pop(name)
    else:
        settings["keyframes_every"] = every
    # Not a setting, but the frames depend on it: frames optimised under another weight are not resumed.
    settings["range_weight"] = RANGE_WEIGHT
    settings["style"] = [{"sha256": file_sha256(p), "weight": w} for p, w in parse_paintings(options.style)]
    return {"input": {"sha256": input_sha256 or file_sha256(src), "bytes": src.stat().st_size}, "size": list(size),
            "cuts": dataclasses.asdict(config.cuts) if config.cuts else None, "gatys": settings,
            "precision": str(loss_network_dtype(config.precision, device)), "device": device.type,
            "torch": torch.__version__}


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


class GatysStylizer:
    """Gatys with temporal losses as a sequential :class:`~flowstyle.stylize.base.Stylizer`.

    Keeps the shot's last few outputs (the temporal priors), takes finished frames
    from the work folder instead of optimising them again, and checkpoints each new
    one. ``on_progress`` hears about every iteration (``Progress.iteration`` > 0).
    """

    sequential = True

    def __init__(self, frames: FrameStylizer, backend: FlowBackend, work: WorkFolder,
                 on_progress: ProgressFn | None = None, expected: int | None = None,
                 keys: KeyChain | None = None) -> None:
        o = frames.options
        self.frames = frames
        self.keys = keys
        self.backend = backend
        self.work = work
        self.on_progress = on_progress
        self.expected = expected
        self.history = ShotHistory(max(o.temporal_offsets))
        self.resumed = 0
        self.done = 0

    def stylize(self, frame: Frame, shot_start: bool) -> np.ndarray:
        index = frame.index
        if shot_start:
            self.history.clear()
            if self.keys is not None:
                self.keys.start_shot(index)
        key = self.keys is None or self.keys.is_key(index)
        if index < self.work.finished:
            out = self.work.load(index)
            self.resumed += 1
        else:
            def on_iteration(i: int, loss: float, parts: LossParts) -> None:
                if self.on_progress is not None:
                    self.on_progress(Progress(self.done, self.expected, None, item=index, iteration=i,
                                              values={"loss": loss, "perceptual": parts.perceptual},
                                              resumed=self.resumed))

            o = self.frames.options
            if o.temporal_weight == 0 and o.init != "warped":
                # Per-frame Gatys (``--temporal none``): nothing from the past, so every
                # frame is optimised as a shot's first would be.
                priors = Priors([], None)
            else:
                priors = build_priors(frame.rgb, self.history, o.temporal_offsets, self.backend, self.frames.device)
            if self.keys is None:
                out, result = self.frames(frame.rgb, priors, index, on_iteration)
            else:  # a key gets its own budget; the frames between stop at their key's style loss
                budget = self.frames.options.key_iterations if key else None
                out, result = self.frames(frame.rgb, priors, index, on_iteration, budget, self.keys.bar(index))
            log.debug("frame %d: %d iterations, loss %.4g", index, result.iterations, result.loss)
            self.work.save(index, out)
        if self.keys is not None and key:
            # Measured on the saved 8-bit picture, so a resumed render sets the same bar.
            self.keys.reference = self.frames.style_loss(out)
        self.history.push(frame.rgb, out)
        self.done += 1
        return out
