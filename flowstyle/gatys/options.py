"""Settings of a Gatys render, in one frozen dataclass (they key the resume folder)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..errors import ConfigError
from ..flow import FLOW_METHODS

INITS = ("warped", "content", "noise")
OPTIMIZERS = ("lbfgs", "adam")
STYLE_LAYER_WEIGHTS = (1.0, 1.0, 1.0, 1.0, 1.0)


@dataclass(frozen=True)
class GatysOptions:
    """Losses, initialisation and optimiser of the artistic-video method.

    Images are RGB in [0, 1]; the loss network sees them in Caffe scale (x255), so
    content and style weights mean what they mean in neural-style and Ruder's code.
    The temporal and total-variation weights are for [0, 1] images.

    Attributes:
        style: painting file, or a blend ``a.jpg:0.6,b.jpg:0.4`` (Gram targets mixed).
        style_scale: the painting is scaled to ``style_scale`` x the frame's width
            before its Gram matrices are taken: > 1 paints larger strokes.
        content_weight, style_weight, tv_weight: Gatys et al. 2016 losses
            (content relu4_2, style Grams relu1_1..relu5_1 weighted by ``style_layer_weights``).
            TV is the mean squared neighbour difference of the [0, 1] image; 1e3 damps
            the pixel-level noise optimisation leaves, which every warp to the next
            frame destroys and the next frame must then re-create (bikes, 128 px: the
            temporal frames reach the per-frame loss in 26 instead of 32 iterations).
        temporal_weight: weight of the temporal terms (Ruder et al. 2016). On bikes at 256 px
            (scripts/bench_gatys.py): 3e3 gives E_warp 0.06 of per-frame and frames that
            reach the per-frame loss in 18% of its iterations; 1e4 gives 0.04 but 29%
            (frames held to the warped past converge more slowly).
        temporal_offsets: earlier frames the temporal loss looks at, nearest first;
            (1,) is the short-term loss, (1, 2, 4) adds long-term terms whose weights
            never count a pixel twice (Ruder et al. 2018, section 3.3).
        init: initialisation of frames after the first of a shot: ``warped`` (the
            previous output warped by the flow, disoccluded pixels filled from the
            current frame), ``content`` or ``noise``. The first frame of each shot
            starts from the content frame.
        optimizer: ``lbfgs`` (default, as Gatys and Ruder) or ``adam`` (``adam_lr``, in 0-255 pixel units).
        warmup: L-BFGS starts after this many Adam iterations (at 2 x ``adam_lr``), counted
            in the budget. L-BFGS's own first step (1/|g|_1) is tiny, and the curvature it
            learns from it overshoots: on bikes at 128 px, loss 3.6e5 -> 1.9e11 at
            iteration 10 and 2.2e3 at 40, against 756 at 40 after 10 Adam steps.
        warmup_warped: the same for frames started from the warped previous output,
            which start near a minimum already; Adam's fixed-size first steps would
            shake that start (0 by default).
        first_iterations, iterations: budgets for the first frame of a shot and the rest.
        pyramid: the first frame is optimised at 1/2^(pyramid-1) size first and
            upsampled level by level (coarse-to-fine); 1 turns it off.
        stop_tolerance, stop_window: early stop when the loss falls by less than
            ``stop_tolerance`` (relative) over ``stop_window`` iterations.
        key_iterations: with ``--keyframes-every N``, the budget of a key after a shot's first: every
            Nth frame of a shot is optimised like a temporal frame (from the previous output warped)
            with this budget, and sets the style loss the frames up to the next key stop at.
        key_tolerance: with ``--keyframes-every``, a frame between keys stops once its style loss is
            within this fraction of its key's (``flowstyle.gatys.keys``).
        flow: optical flow between frames (see ``flowstyle.flow``).
        seed: seeds the noise initialisation; a render is reproducible from it.
    """

    style: str
    style_scale: float = 1.0
    content_weight: float = 5.0
    style_weight: float = 1e3
    style_layer_weights: tuple[float, ...] = STYLE_LAYER_WEIGHTS
    tv_weight: float = 1e3
    temporal_weight: float = 3e3
    temporal_offsets: tuple[int, ...] = (1, 2, 4)
    init: str = "warped"
    optimizer: str = "lbfgs"
    adam_lr: float = 2.0
    warmup: int = 10
    warmup_warped: int = 0
    first_iterations: int = 300
    iterations: int = 150
    pyramid: int = 2
    stop_tolerance: float = 1e-3
    stop_window: int = 20
    key_iterations: int = 30
    key_tolerance: float = 0.10
    flow: str = "dis-medium"
    seed: int = 0

    def __post_init__(self) -> None:
        # Pure checks of values; the painting files are read when the render is built.
        offsets = self.temporal_offsets
        checks = (
            ("init", self.init in INITS, f"'{self.init}' (choose {', '.join(INITS)})"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"'{self.optimizer}' (choose {', '.join(OPTIMIZERS)})"),
            ("flow", self.flow in FLOW_METHODS, f"'{self.flow}' (choose {', '.join(FLOW_METHODS)})"),
            ("style_scale", 0.05 <= self.style_scale <= 8, f"{self.style_scale} (use 0.05-8)"),
            ("content_weight", self.content_weight >= 0, f"{self.content_weight} (must not be negative)"),
            ("style_weight", self.style_weight >= 0, f"{self.style_weight} (must not be negative)"),
            ("tv_weight", self.tv_weight >= 0, f"{self.tv_weight} (must not be negative)"),
            ("temporal_weight", self.temporal_weight >= 0, f"{self.temporal_weight} (must not be negative)"),
            ("style_layer_weights", len(self.style_layer_weights) == len(STYLE_LAYER_WEIGHTS),
             f"{len(self.style_layer_weights)} weights (give 5: relu1_1..relu5_1)"),
            ("temporal_offsets", bool(offsets) and all(o >= 1 for o in offsets) and list(offsets) == sorted(set(offsets)),
             f"{offsets} (increasing, >= 1, e.g. 1,2,4)"),
            ("warmup", self.warmup >= 0, f"{self.warmup} (use 0 or more)"),
            ("first_iterations", self.first_iterations >= 1, f"{self.first_iterations} (use 1 or more)"),
            ("iterations", self.iterations >= 1, f"{self.iterations} (use 1 or more)"),
            ("pyramid", 1 <= self.pyramid <= 4, f"{self.pyramid} (use 1-4 levels)"),
            ("stop_window", self.stop_window >= 2, f"{self.stop_window} (use 2 or more)"),
            ("stop_tolerance", self.stop_tolerance >= 0, f"{self.stop_tolerance} (must not be negative)"),
            ("key_iterations", self.key_iterations >= 1, f"{self.key_iterations} (use 1 or more)"),
            ("key_tolerance", self.key_tolerance >= 0, f"{self.key_tolerance} (must not be negative)"),
        )
        for name, ok, problem in checks:
            if not ok:
                raise ConfigError(name, f"invalid {problem}")

    def settings(self) -> dict:
        """Everything that decides the pixels, as plain JSON-able values."""
        return asdict(self)
