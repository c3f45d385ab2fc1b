"""Stable versions of the shipped feed-forward networks: ``flowstyle train-stable`` (docs/stable.md).

The per-frame networks repaint their finest texture on every frame, so any temporal
step after them must choose between steadiness and style (docs/temporal.md, "Open").
This fine-tunes the network itself so that the same content gives the same strokes:

- **Student and teacher** (DESIGN.md section 8, distillation): the student starts from
  the shipped weights (every parameter trains); the same network, frozen, is the
  teacher. The 26 built-in styles have no paintings here, so their look is kept by
  matching the teacher's output on the same crop: relative Gram differences at relu1_1,
  relu1_2, relu2_2 and relu3_3 (the finest layers: the look was lost there), relu3_3
  content, 8x8 block means (colour), and the Laplacian energy of the luma (sharpness:
  a probe of this approach kept stability partly by blurring, 0.78x sharpness).
- **Compound regularization** (Wang et al., "Consistent Video Style Transfer via
  Relaxation and Regularization", TIP 2020, ReReVST): a crop ``x`` is moved by a random
  smooth warp ``W`` (a small affine motion plus a smooth random flow) and Gaussian noise
  is added; the output of the moved crop must equal the moved output,
  ``|| f(W(x) + n) - W(f(x)) ||^2`` over the pixels ``W`` keeps inside the crop. No
  flow and no video, so a CPU can afford it.
- **Conditioning**: the multi-style network draws a random built-in style per crop
  (sometimes a blend of two, Dumoulin et al. 2017), so all 26 rows train; the
  arbitrary network gets the style vector that the shared predictor (Ghiasi et al.
  2017) computes from a random crop of a random painting (by default the training
  pictures themselves: the predictor accepts any image, and their vectors cover its
  style space).

The run is resumable as ``learn-style`` is (:class:`~flowstyle.train.learn.Checkpoint`:
parameters, Adam state, the data streams' and the random generator's state, keyed by
every setting, the training data and the teacher's sha256): running the same command
again continues, and a run that continues is identical to one that never stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..device import loss_network_dtype, resolve_device
from ..errors import FlowstyleError
from ..flow.warp import inside_frame, warp
from ..io.atomic import atomic_save, atomic_write_json
from ..losses import gram, load_vgg16
from ..models.arbitrary import STYLE_SIZE, ArbitraryTransformer
from ..models.multistyle import NUM_STYLES, MultiStyleNet
from ..progress import ProgressFn
from ..registry import load_state_dict, sha256_file, spec
from ..stylize.arbitrary import load_transformer, shared_predictor
from ..stylize.feedforward import load_multistyle
from .data import CropStream, find_sources
from .learn import Checkpoint, StepLoop, autocast_to, ensure_writable, luminance, training_dir
from .options import StableOptions
from .pictures import registry_pictures, stable_label
from .students import to_tensor

log = logging.getLogger(__name__)

GRAM_LAYERS = ("relu1_1", "relu1_2", "relu2_2", "relu3_3")
CONTENT_LAYER = "relu3_3"
# The shipped weights each network starts from and is distilled from (weights/manifest.toml).
TEACHER_WEIGHTS = {"multistyle": "multistyle26", "arbitrary": "arbitrary_transform"}
# Bicubic, not bilinear, for the warp of the compound loss: bilinear resampling at a
# fractional offset is a low-pass filter (at half a pixel it averages two neighbours and
# cancels the finest texture), so a bilinear W(f(x)) target is blurrier than any output the
# network makes for W(x), and the loss rewards blur. PyTorch's bicubic (a = -0.75) keeps
# most of the top octave. The crop is moved with the same kernel, so input and target agree.
WARP_MODE = "bicubic"
COARSE_FLOW = 4  # the smooth random flow: a 4x4 random field, upsampled bicubically
BLOCK = 8  # colour term: 8x8 block means
LAPLACIAN = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))
EPS = 1e-8
LOSSES = ("gram", "content", "colour", "sharpness", "stability")


@dataclass(frozen=True)
class StableReport:
    checkpoint: Path
    steps: int
    resumed_from: int
    seconds: float  # wall-clock seconds of training, all sessions
    cpu_seconds: float  # process CPU seconds of training, all sessions
    steps_per_minute: float  # this session's
    losses: dict[str, float]
    export: Path | None = None
    sha256: str | None = None


# -- losses -------------------------------------------------------------------

def laplacian_energy(image: Tensor) -> Tensor:
    """Mean squared Laplacian (3x3, 4-neighbour) of the BT.601 luma of (B, 3, H, W), per item (B,)."""
    kernel = image.new_tensor(LAPLACIAN).view(1, 1, 3, 3)
    return F.conv2d(luminance(image), kernel).pow(2).mean(dim=(1, 2, 3))


def relative_gram(features: Tensor, target: Tensor) -> Tensor:
    """|G(f) - G(t)|^2 / |G(t)|^2 per item (B,): independent of each layer's scale."""
    g, t = gram(features.float()), gram(target.float())
    return (g - t).pow(2).sum(dim=(1, 2)) / t.pow(2).sum(dim=(1, 2)).clamp_min(EPS)


def relative_content(features: Tensor, target: Tensor) -> Tensor:
    f, t = features.float(), target.float()
    return (f - t).pow(2).mean(dim=(1, 2, 3)) / t.pow(2).mean(dim=(1, 2, 3)).clamp_min(EPS)


def colour_loss(out: Tensor, target: Tensor) -> Tensor:
    """Squared difference of the 8x8 block means per item (B,): the colours, not the strokes."""
    return (F.avg_pool2d(out, BLOCK) - F.avg_pool2d(target, BLOCK)).pow(2).mean(dim=(1, 2, 3))


def sharpness_loss(out: Tensor, target: Tensor) -> Tensor:
    """Squared log ratio of the Laplacian energies per item (B,): blur and added noise alike cost."""
    return (torch.log(laplacian_energy(out) + EPS) - torch.log(laplacian_energy(target) + EPS)).pow(2)


def random_warp(batch: int, height: int, width: int, generator: torch.Generator, shift: float = 4.0,
                degrees: float = 1.0, scale: float = 0.02, flow: float = 2.0) -> Tensor:
    """A random smooth motion per item as a backward flow (B, 2, H, W) in pixels (DESIGN.md section 2).

    Each item: a rotation by up to ``degrees`` and a scaling by up to ``scale`` about the
    centre, a shift of up to ``shift`` px, and a smooth flow of up to ``flow`` px (a
    4x4 random field upsampled bicubically), all uniform. The synthetic motion of ReReVST.
    """
    u = lambda *shape: torch.rand(*shape, generator=generator) * 2.0 - 1.0  # noqa: E731
    angle = u(batch) * math.radians(degrees)
    s = 1.0 + u(batch) * scale
    t = u(batch, 2) * shift
    coarse = u(batch, 2, COARSE_FLOW, COARSE_FLOW) * flow
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                            indexing="ij")
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    dx, dy = xs - cx, ys - cy
    cos, sin = (torch.cos(angle) * s).view(-1, 1, 1), (torch.sin(angle) * s).view(-1, 1, 1)
    sx = cos * dx - sin * dy + cx + t[:, 0].view(-1, 1, 1)
    sy = sin * dx + cos * dy + cy + t[:, 1].view(-1, 1, 1)
    smooth = F.interpolate(coarse, size=(height, width), mode="bicubic", align_corners=True)
    return torch.stack((sx - xs, sy - ys), dim=1) + smooth


def moved_input(x: Tensor, flow: Tensor, noise: Tensor | None = None) -> Tensor:
    """``W(x) + n``, kept in [0, 1] (the networks' input range)."""
    moved = warp(x, flow, WARP_MODE)
    return (moved if noise is None else moved + noise).clamp(0.0, 1.0)


def compound_loss(out: Tensor, out_moved: Tensor, flow: Tensor) -> Tensor:
    """ReReVST's compound regularization per item (B,): masked MSE of ``f(W(x) + n)`` against
    ``W(f(x))``, over the pixels whose source ``W`` keeps inside the crop."""
    mask = inside_frame(flow)
    diff = (out_moved - warp(out, flow, WARP_MODE)).pow(2) * mask
    return diff.sum(dim=(1, 2, 3)) / (3.0 * mask.sum(dim=(1, 2, 3))).clamp_min(1.0)


def stability_loss(net, x: Tensor, flow: Tensor, noise: Tensor | None = None) -> Tensor:
    """The compound loss of ``net`` (any callable (B, 3, H, W) -> (B, 3, H, W)) on ``x`` moved by ``flow``."""
    return compound_loss(net(x), net(moved_input(x, flow, noise)), flow)


# -- networks -------------------------------------------------------------------

class Conditioned(nn.Module):
    """Either network called one way, ``net(x, condition)``: the multi-style network's style
    weights (B, 26), or the arbitrary network's style vectors (B, 100)."""

    def __init__(self, net: MultiStyleNet | ArbitraryTransformer) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        if isinstance(self.net, ArbitraryTransformer):
            return self.net(x, self.net.norm_params(condition))
        return self.net(x, condition)


def fresh_network(network: str, antialias: bool = False) -> MultiStyleNet | ArbitraryTransformer:
    """An untrained ``network`` of the student's shape (the multi-style one anti-aliased or not)."""
    return MultiStyleNet(antialias=antialias) if network == "multistyle" else ArbitraryTransformer(antialias)


def student_network(network: str, device: torch.device, antialias: bool = False) -> MultiStyleNet | ArbitraryTransformer:
    """A trainable copy of the shipped network (float32, contiguous: training keeps the plain layout);
    ``antialias``: in the anti-aliased form, the shipped 3x3 weights with the blurs added."""
    net = fresh_network(network, antialias)
    net.load_state_dict(with_marker(load_state_dict(TEACHER_WEIGHTS[network]), net))
    return net.to(device).train().requires_grad_(True)


def with_marker(state: dict[str, Tensor], net: nn.Module) -> dict[str, Tensor]:
    """``state`` for ``net``: the anti-aliasing marker added where ``net`` has it and ``state`` has not
    (an anti-aliased stage may start from plain weights: the convolutions are the same shapes)."""
    marker = net.state_dict().get("antialias")
    return {**state, "antialias": marker} if marker is not None and "antialias" not in state else dict(state)


def teacher_network(network: str, device: torch.device) -> MultiStyleNet | ArbitraryTransformer:
    if network == "multistyle":
        return load_multistyle(device, torch.float32)
    return load_transformer(device, torch.float32)


class Conditions:
    """Random conditioning per crop, from the run's seeded generator (and, for the arbitrary
    network, a seeded stream of painting crops): both are saved in the checkpoint."""

    def __init__(self, options: StableOptions, paintings: CropStream | None) -> None:
        self.o = options
        self.paintings = paintings

    def __call__(self, n: int, generator: torch.Generator, device: torch.device) -> Tensor:
        if self.paintings is not None:
            crops = to_tensor(self.paintings.next_batch(n).frames, torch.device("cpu"))
            with torch.no_grad():  # not inference_mode: the vectors enter the student's autograd graph
                return shared_predictor()(crops).to(device)
        weights = torch.zeros(n, NUM_STYLES)
        first = torch.randint(NUM_STYLES, (n,), generator=generator)
        second = (first + torch.randint(1, NUM_STYLES, (n,), generator=generator)) % NUM_STYLES
        blend = torch.rand(n, generator=generator) < self.o.blend_chance
        share = torch.where(blend, torch.rand(n, generator=generator), torch.ones(n))
        rows = torch.arange(n)
        weights[rows, first] = share
        weights[rows, second] += 1.0 - share
        return weights.to(device)


class StableObjective:
    """Distillation against the teacher plus compound regularization, on one batch."""

    def __init__(self, teacher: nn.Module, vgg: nn.Module, options: StableOptions, autocast: torch.dtype | None) -> None:
        self.teacher = teacher
        self.vgg = vgg
        self.o = options
        self.autocast = autocast

    def __call__(self, student: Conditioned, x: Tensor, condition: Tensor, flow: Tensor, noise: Tensor
                 ) -> tuple[Tensor, dict[str, float]]:
        o = self.o
        device = x.device
        layers = (*GRAM_LAYERS, CONTENT_LAYER)
        with torch.no_grad(), autocast_to(device, self.autocast):
            target = self.teacher(x, condition)
            target_feats = self.vgg(target, layers)
        with autocast_to(device, self.autocast):
            out = student(x, condition)
            out_moved = student(moved_input(x, flow, noise), condition)
            feats = self.vgg(out, layers)
        terms = {
            "gram": o.gram_weight * sum(relative_gram(feats[k], target_feats[k]) for k in GRAM_LAYERS).mean(),
            "content": o.content_weight * relative_content(feats[CONTENT_LAYER], target_feats[CONTENT_LAYER]).mean(),
            "colour": o.colour_weight * colour_loss(out, target.float()).mean(),
            "sharpness": o.sharpness_weight * sharpness_loss(out, target.float()).mean(),
            "stability": o.stability_weight * compound_loss(out, out_moved, flow).mean(),
        }
        total = sum(terms.values())
        parts = dict(zip(terms, torch.stack(list(terms.values())).detach().tolist()))
        return total, parts


# -- the run --------------------------------------------------------------------

def start_weights(path: Path, network: str, antialias: bool = False) -> tuple[dict[str, Tensor], dict]:
    """The network state to start a stage from: a train-stable checkpoint's network or an
    exported state dict, of ``network``'s shape; and where it came from (for the recipe).

    Raises:
        FlowstyleError: missing, unreadable, or weights of another network (one line).
    """
    if not path.is_file():
        raise FlowstyleError(f"{path}: --start-from: no such file")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise FlowstyleError(f"{path}: --start-from: unreadable ({type(exc).__name__})") from None
    checkpoint = isinstance(loaded, dict) and isinstance(loaded.get("net"), dict)
    state = loaded["net"] if checkpoint else loaded
    fresh = fresh_network(network, antialias)
    shapes = {k: tuple(v.shape) for k, v in fresh.state_dict().items()}
    if not isinstance(state, dict) or "antialias" in state and not antialias:
        raise FlowstyleError(f"{path}: --start-from: not weights of the {network} network"
                             + (" (these are anti-aliased: add --antialias)" if isinstance(state, dict) else ""))
    state = with_marker(state, fresh)
    if {k: tuple(getattr(v, "shape", ())) for k, v in state.items()} != shapes:
        raise FlowstyleError(f"{path}: --start-from: not weights of the {network} network")
    origin = {"file": path.name, "sha256": sha256_file(path),
              "step": int(loaded.get("step", 0)) if checkpoint else None,
              "settings": (loaded.get("key") or {}).get("settings") if checkpoint else None}
    return state, origin


def checkpoint_path(options: StableOptions) -> Path:
    return Path(options.checkpoint) if options.checkpoint else training_dir(f"stable-{options.network}") / "checkpoint.pt"


def recipe_path(export: Path) -> Path:
    """The JSON recipe beside an exported network: ``PATH`` with ``.json`` for its suffix."""
    return export.with_suffix(".json")


def export_student(student: nn.Module, path: Path, recipe: dict) -> str:
    """Write the student's state dict alone (the shipped file's keys) and its recipe, atomically; its sha256."""
    state = {k: v.detach().cpu().float().clone() for k, v in student.state_dict().items()}
    atomic_save(lambda tmp: torch.save(state, tmp), path)
    digest = sha256_file(path)
    atomic_write_json(recipe_path(path), {**recipe, "sha256": digest, "file": path.name})
    return digest


def train_stable(options: StableOptions, restart: bool = False, progress: ProgressFn | None = None) -> StableReport:
    """Fine-tune a stable ``options.network``; resumable (see the module docstring).

    Raises:
        FlowstyleError: bad data or paintings, a changed setting on resume (one line naming
            it; ``restart`` starts over), an unreadable checkpoint, a diverged loss.
    """
    o = options
    device = resolve_device(o.device)
    autocast = loss_network_dtype(o.precision, device)
    paths = [*(registry_pictures() if o.registry_pictures else []), *o.data]
    sources = find_sources(paths)
    style_sources = (find_sources(o.paintings) if o.paintings else sources) if o.network == "arbitrary" else []
    teacher_name = TEACHER_WEIGHTS[o.network]
    key = {"settings": o.key_settings(), "sources": [stable_label(s.path) for s in sources],
           "paintings": ([stable_label(s.path) for s in style_sources] if o.paintings else "the training pictures")
           if o.network == "arbitrary" else None,
           "teacher_sha256": spec(teacher_name).sha256, "precision": str(autocast), "device": device.type}
    checkpoint = Checkpoint(f"stable-{o.network}", key, checkpoint_path(o), supersede=False)
    state = checkpoint.load(restart)
    start_state, start = None, state.get("start") if state is not None else None
    if state is None and o.start_from:  # read before the networks load: a bad file fails at once
        start_state, start = start_weights(Path(o.start_from), o.network, o.antialias)
    export = Path(o.export) if o.export else None
    for folder in (checkpoint.path.parent, *((export.parent,) if export else ())):  # before the training, not after
        ensure_writable(folder)

    student = Conditioned(student_network(o.network, device, o.antialias))
    teacher = Conditioned(teacher_network(o.network, device))
    vgg = load_vgg16(device)
    crops = CropStream(sources, o.crop, o.seed)
    painting_crops = CropStream(style_sources, STYLE_SIZE, o.seed + 1) if style_sources else None
    conditions = Conditions(o, painting_crops)
    generator = torch.Generator().manual_seed(o.seed)
    opt = torch.optim.Adam(student.parameters(), lr=o.learning_rate)
    loop = StepLoop(opt, o.steps, o.minutes, o.checkpoint_seconds, "train-stable", state)
    if start_state is not None:
        student.net.load_state_dict(start_state)
        log.info("starting the stable %s network from %s (sha256 %s)", o.network, o.start_from, start["sha256"][:12])
    if state is not None:
        student.net.load_state_dict(state["net"])
        opt.load_state_dict(state["optimizer"])
        crops.load_state_dict(state["streams"][0])
        if painting_crops is not None:
            painting_crops.load_state_dict(state["streams"][1])
        generator.set_state(state["generator"])
        log.info("continuing the stable %s network from step %d (%s)", o.network, loop.step, checkpoint.path)
    objective = StableObjective(teacher, vgg, o, autocast)

    def snapshot(finished: bool = False) -> None:
        streams = [crops.state_dict()] + ([painting_crops.state_dict()] if painting_crops is not None else [])
        checkpoint.save({"net": student.net.state_dict(), "optimizer": opt.state_dict(), "streams": streams, "start": start,
                         "generator": generator.get_state(), **loop.state_dict(), "finished": finished})

    def compute(step: int) -> tuple[Tensor, dict[str, float]]:
        x = to_tensor(crops.next_batch(o.batch).frames, device)
        condition = conditions(o.batch, generator, device)
        flow = random_warp(o.batch, o.crop, o.crop, generator, o.warp_shift, o.warp_degrees, o.warp_scale,
                           o.warp_flow).to(device)
        noise = (torch.randn(x.shape, generator=generator) * o.noise).to(device)
        return objective(student, x, condition, flow, noise)

    session_start = time.perf_counter()
    parts = loop.run(compute, snapshot, progress)
    step, elapsed, cpu = loop.step, loop.elapsed, loop.cpu
    session = time.perf_counter() - session_start
    done = step - loop.resumed_from
    rate = done / (session / 60.0) if session > 0 and done > 0 else 0.0
    log.info("train-stable: %s network at step %d: %d steps this run in %.1f min, %.1f steps/min "
             "(%.1f CPU-minutes in all)", o.network, step, done, session / 60.0, rate, cpu / 60.0)
    digest = None
    if export is not None:
        recipe = {"network": o.network, "teacher": teacher_name, "teacher_sha256": key["teacher_sha256"],
                  "settings": {**dataclasses.asdict(o), "lr": o.learning_rate}, "sources": key["sources"], "paintings": key["paintings"],
                  "started_from": start or TEACHER_WEIGHTS[o.network], "precision": key["precision"], "steps": step, "minutes": round(elapsed / 60.0, 2),
                  "cpu_minutes": round(cpu / 60.0, 2), "steps_per_minute": round(rate, 2), "losses": parts,
                  "torch": torch.__version__, "created": time.strftime("%Y-%m-%d %H:%M:%S")}
        digest = export_student(student.net, export, recipe)
        log.info("exported %s (sha256 %s), recipe %s", export, digest, recipe_path(export))
    return StableReport(checkpoint.path, step, loop.resumed_from, elapsed, cpu, rate, parts, export, digest)


__all__ = ["StableOptions", "StableReport", "compound_loss", "random_warp", "stability_loss", "train_stable"]
