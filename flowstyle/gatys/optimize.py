"""Optimise an image against a :class:`FrameObjective`: L-BFGS or Adam, early stop, coarse-to-fine.

L-BFGS runs without a line search at step size 1, as neural-style and Ruder's
artistic-videos code do: one loss evaluation per iteration, so the iteration
budget is also the budget of network passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .objective import FrameObjective
from .options import GatysOptions

IterationFn = Callable[[int, float], None]  # (iterations so far, loss)
StopFn = Callable[[int, Tensor], bool]  # (iterations so far, the image it evaluated in [0, 1]) -> stop now

# The optimiser works on the image in 0-255 units, as neural-style and Ruder's code
# do (Caffe scale), while the losses see [0, 1]. L-BFGS is not invariant to that
# scale: its first step is 1/|g|_1 and it drops curvature pairs with y.s < 1e-10,
# and on [0, 1] pixels it stalled at the content image (measured on bikes at 128 px:
# loss 3.64e5 unchanged after 60 iterations, against 595 in 0-255 units).
PIXEL_SCALE = 255.0


@dataclass(frozen=True)
class OptimizeResult:
    image: Tensor
    iterations: int
    losses: tuple[float, ...]

    @property
    def loss(self) -> float:
        return self.losses[-1]


def plateaued(losses: list[float], window: int, tolerance: float) -> bool:
    """True when the loss fell by less than ``tolerance`` (relative) over the last ``window`` iterations."""
    if tolerance <= 0 or len(losses) <= window:
        return False
    before, now = losses[-window - 1], losses[-1]
    return (before - now) <= tolerance * abs(before)


def optimize(objective: Callable[[Tensor], Tensor], init: Tensor, iterations: int, options: GatysOptions,
             on_iteration: IterationFn | None = None, until: StopFn | None = None) -> OptimizeResult:
    """Minimise ``objective`` over the image, starting from ``init`` (not modified).

    ``until(n, image)``, asked after each iteration with the image it evaluated, ends the run early
    when it returns True (besides the plateau rule); the result is then that image (clamped), the one
    ``until`` judged, not the image after the step that followed its evaluation.
    """
    x = (init.detach() * PIXEL_SCALE).contiguous().requires_grad_(True)
    losses: list[float] = []
    seen: list[Tensor] = []  # the image of the latest evaluation, when ``until`` may pick it
    met: list[bool] = []

    def closure() -> Tensor:
        opt.zero_grad(set_to_none=True)
        if until is not None:
            seen[:] = [x.detach().clone()]
        loss = objective(x / PIXEL_SCALE)
        loss.backward()
        losses.append(float(loss.detach()))
        if on_iteration is not None:
            on_iteration(len(losses), losses[-1])
        return loss

    def run(opt: torch.optim.Optimizer, budget: int) -> None:
        while len(losses) < budget:
            opt.step(closure)
            if not torch.isfinite(x).all():
                raise FloatingPointError("gatys: the image diverged (NaN/inf); lower the loss weights or use --optimizer adam")
            if until is not None and until(len(losses), seen[0] / PIXEL_SCALE):
                met.append(True)
                return
            if plateaued(losses, options.stop_window, options.stop_tolerance):
                return

    if options.optimizer == "lbfgs":
        warmup = min(options.warmup, iterations)
        opt: torch.optim.Optimizer = torch.optim.Adam([x], lr=2 * options.adam_lr)
        run(opt, warmup)
        # max_iter=1 per step(): exactly one evaluation per call, and the curvature
        # history lives in the optimiser's state across calls, so the early-stop
        # test can run between iterations.
        opt = torch.optim.LBFGS([x], lr=1.0, max_iter=1, history_size=50, tolerance_grad=-1.0, tolerance_change=-1.0)
        if len(losses) == warmup and not met:
            run(opt, iterations)
    else:
        opt = torch.optim.Adam([x], lr=options.adam_lr)
        run(opt, iterations)
    image = seen[0] if met else x.detach()
    return OptimizeResult((image / PIXEL_SCALE).clamp_(0.0, 1.0), len(losses), tuple(losses))


def pyramid_sizes(h: int, w: int, levels: int) -> list[tuple[int, int]]:
    """(H, W) of each level, coarsest first, halving per level (at least 32 px a side,
    never more than the frame's own); the finest level is the frame's size.

    The floor once applied to the finest level too, so a 64x28 frame was optimised at
    64x32 and its output did not fit the flow (``--max-width 64``).
    """
    sizes = [(min(h, max(32, round(h / 2**k))), min(w, max(32, round(w / 2**k)))) for k in range(levels - 1, -1, -1)]
    return [s for i, s in enumerate(sizes) if i == len(sizes) - 1 or s != sizes[i + 1]]


def resize(image: Tensor, size: tuple[int, int]) -> Tensor:
    if tuple(image.shape[-2:]) == size:
        return image
    down = size[0] < image.shape[-2]
    return F.interpolate(image, size=size, mode="bilinear", align_corners=False, antialias=down)


def optimize_coarse_to_fine(make_objective: Callable[[tuple[int, int]], FrameObjective], init: Tensor,
                            iterations: int, options: GatysOptions,
                            on_iteration: IterationFn | None = None) -> OptimizeResult:
    """Optimise at the coarsest size first, then upsample the result as the next level's start.

    Coarse levels settle the large-scale layout of the style cheaply (a quarter of
    the cost per level down); the finest level then only refines. Each level has
    ``iterations`` as its budget and stops early on a plateau.
    """
    sizes = pyramid_sizes(init.shape[-2], init.shape[-1], options.pyramid)
    x, done, losses = init, 0, []
    for size in sizes:
        report = None if on_iteration is None else (lambda i, loss, base=done: on_iteration(base + i, loss))
        result = optimize(make_objective(size), resize(x, size), iterations, options, report)
        x, done = result.image, done + result.iterations
        losses.extend(result.losses)
    return OptimizeResult(x, done, tuple(losses))
