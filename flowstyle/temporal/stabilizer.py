"""Temporal consistency for any per-frame stylizer: flow between the original
frames, reliability, scene cuts, and the chosen temporal step.

Work splits by dependency so frames can still be processed in parallel:
:func:`estimate_motion` needs only two neighbouring *input* frames (it runs on
the stylize workers beside the network), while :class:`Stabilizer` carries
state from one output to the next and runs in order.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..errors import ConfigError
from ..flow import make_flow_backend
from ..flow.backends import FlowBackend, flow_settings_problem
from ..flow.reliability import photometric_mask, reliability_mask, static_weight
from ..scenes import CutOptions
from .anchors import TextureAnchors
from .blind import BlindStabilizer
from .multiband import MultiBandPropagation

TEMPORAL_MODES = ("flow", "anchors", "blind", "none")
OCCLUSION_CHECKS = ("photometric", "forward-backward")
# The flow defaults trade E_warp of the flow mode against cost (targets:
# <= 0.35x per-frame E_warp, <= 0.30x the stylizer's time). bigbuckbunny at 640 px,
# rendered and measured by eval/ (the tightest clip), DIS-medium at scale 0.75 /
# 0.7 / 0.65 / 0.6: E_warp 0.321 / 0.326 / 0.337 / 0.345 of per-frame; one DIS-medium
# flow at 640x360 costs 10.5 / 9.2 / 7.7 / 6.5 ms alone (scripts/bench_flow.py).
# Full-size DIS-balanced with the forward-backward check (two flows) was the
# previous default: E_warp 0.336 for ~23 ms of flow.
DEFAULT_TEMPORAL_FLOW = "dis-balanced"
DEFAULT_TEMPORAL_FLOW_SCALE = 0.65


@dataclass(frozen=True)
class TemporalOptions:
    """How outputs are kept consistent over time.

    Attributes:
        mode: ``flow`` (multi-band propagation, the default: measured best,
            docs/temporal.md), ``anchors`` (texture anchors, the previous default: lowest E_warp on
            some clips but tears thin structures and two motion layers), ``blind``
            (gradient-domain, Bonneel et al. 2015) or ``none`` (per-frame).
        flow: optical flow method (see ``flowstyle.flow.FLOW_METHODS``).
        flow_scale: compute flow at this fraction of the frame size.
        occlusion: ``photometric`` (one flow a frame, the default) or
            ``forward-backward`` (Ruder et al.'s check; two flows a frame).
        photometric_threshold: see :func:`flowstyle.flow.reliability.photometric_mask`.
        photometric_softness: soft trust around that threshold (``flow`` mode).
        alpha_detail: ``flow``: weight of the warped past in each detail band, finest
            first (see :class:`~flowstyle.temporal.multiband.MultiBandPropagation`).
        alpha_low: ``flow``: the same for the coarse band (colour and lighting).
        alpha_static: ``flow``: the least weight of the past in every band where the
            picture stands still (static-pixel flicker, docs/temporal.md).
        static_motion: ``flow``: motion (px at full size) below which a pixel counts
            as (partly) still; 0 disables the static weighting.
        max_anchors: anchors kept by the ``anchors`` mode (bigbuckbunny E_warp 0.339 of
            per-frame with 8, 0.338 with 6, 0.351 with 4).
        track_sigma: scale (px) above which ``anchors`` follows the current stylization
            (bigbuckbunny E_warp 0.339 of per-frame at 32 px, 0.335 at 48, 0.343 at
            64 with a 0.6 flow scale; 16 px let visibly more flicker through). 48 px
            at 640 wide keeps lighting changes while passing little flicker.
        blind_lambda: screening weight of ``blind``.
        cuts: scene-cut detection (None disables it).
        cut_frames: frames already known to start a shot (a distributed plan's scan):
            when given, the state resets exactly there and ``cuts`` is not run,
            so a task that renders several shots resets where the whole render would.
    """

    mode: str = "flow"
    flow: str = DEFAULT_TEMPORAL_FLOW
    flow_scale: float = DEFAULT_TEMPORAL_FLOW_SCALE
    occlusion: str = "photometric"
    photometric_threshold: float = 0.1
    photometric_softness: float = 0.5
    # Measured trade-off of E_warp against Gram style loss: MultiBandPropagation's docstring.
    alpha_detail: tuple[float, ...] = (0.5, 0.9)
    alpha_low: float = 0.8
    alpha_static: float = 0.95
    static_motion: float = 0.3
    max_anchors: int = 8
    track_sigma: float = 48.0
    blind_lambda: float = 0.15
    cuts: CutOptions | None = field(default_factory=CutOptions)
    cut_frames: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in TEMPORAL_MODES:
            raise ConfigError("mode", f"unknown temporal mode '{self.mode}'; use one of {', '.join(TEMPORAL_MODES)}")
        if self.occlusion not in OCCLUSION_CHECKS:
            raise ConfigError("occlusion", f"unknown occlusion check '{self.occlusion}'; use one of {', '.join(OCCLUSION_CHECKS)}")
        if not self.alpha_detail or not all(0.0 <= a < 1.0 for a in (*self.alpha_detail, self.alpha_low,
                                                                    self.alpha_static)):
            raise ConfigError("alpha_detail", f"temporal weights must be in [0, 1), got {self.alpha_detail}, "
                              f"{self.alpha_low} and {self.alpha_static}")
        if self.static_motion < 0:
            raise ConfigError("static_motion", f"must be >= 0 px, got {self.static_motion}")
        # Pure checks (the flow object itself is made per worker thread by the Stabilizer).
        problem = flow_settings_problem(self.flow, self.flow_scale)
        if problem is not None:
            raise ConfigError(*problem)


@dataclass(frozen=True)
class Motion:
    """Flow from a frame back to its predecessor, and where it can be trusted (OpenCV layout)."""

    flow_bwd: np.ndarray  # (H, W, 2) float32
    mask: np.ndarray  # (H, W) float32 in [0, 1], > 0.5 reliable (fractional where upsampled)
    static: np.ndarray | None = None  # (H, W) float32 in [0, 1], 1 where the picture stands still


def estimate_motion(prev_rgb: np.ndarray, rgb: np.ndarray, backend: FlowBackend,
                    occlusion: str = "forward-backward", threshold: float = 0.1, softness: float = 0.0,
                    static_motion: float = 0.0) -> Motion:
    """Flow from ``rgb`` back to ``prev_rgb`` (uint8 frames) and where it can be trusted.

    ``occlusion`` picks the check: ``forward-backward`` (Ruder et al.; computes the
    forward flow too; what E_warp uses, after Lai et al.) or ``photometric``. The
    photometric check runs at the flow's working scale (``backend.scale``), where the
    flow was estimated, and its mask is upsampled with the flow: at 0.6 scale that is
    a third of the pixels (1.8 -> 0.7 ms at 640x360). ``softness`` > 0 makes that
    check's mask a soft trust (see :func:`~flowstyle.flow.reliability.photometric_mask`).
    ``static_motion`` > 0 snaps near-zero vectors to zero and adds the map of still
    pixels (:func:`~flowstyle.flow.reliability.static_weight`), at the flow's scale too.
    """
    prev_gray, gray = cv2.cvtColor(prev_rgb, cv2.COLOR_RGB2GRAY), cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if occlusion == "photometric":
        small_prev, small = backend.shrink(prev_gray), backend.shrink(gray)
        bwd = backend.calc_small(small, small_prev)
        pixel_size = gray.shape[1] / small.shape[1]
        static = static_weight(bwd, static_motion, pixel_size) if static_motion > 0 else None
        mask = photometric_mask(bwd, small_prev, small, threshold, pixel_size=pixel_size, softness=softness)
        h, w = gray.shape
        if mask.shape != (h, w):
            mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)
            if static is not None:
                static = cv2.resize(static, (w, h), interpolation=cv2.INTER_LINEAR)
        return Motion(flow_bwd=backend.grow(bwd, gray.shape), mask=mask, static=static)
    bwd = backend(gray, prev_gray)
    static = static_weight(bwd, static_motion) if static_motion > 0 else None
    return Motion(flow_bwd=bwd, mask=reliability_mask(bwd, backend(prev_gray, gray)), static=static)


class Stabilizer:
    """Apply the temporal mode to per-frame results, in order; a cut (or ``motion=None``) restarts it.

    Frames in and out are uint8 RGB (H, W, 3), as decoded and as encoded. A
    :class:`~flowstyle.temporal.base.TemporalStep`: :meth:`motion` runs on the
    stylize workers, :meth:`__call__` in order.
    """

    def __init__(self, options: TemporalOptions) -> None:
        self.options = options
        self.active = options.mode != "none"
        self._flows = threading.local()  # OpenCV flow objects keep state: one per worker thread
        if options.mode == "flow":
            self._step = MultiBandPropagation(options.alpha_detail, options.alpha_low,
                                              alpha_static=options.alpha_static)
        elif options.mode == "anchors":
            self._step = TextureAnchors(options.max_anchors, options.track_sigma)
        elif options.mode == "blind":
            self._step = BlindStabilizer(options.blind_lambda)
        else:
            self._step = None

    def motion(self, prev_rgb: np.ndarray, rgb: np.ndarray, backend: FlowBackend | None = None) -> Motion:
        """:func:`estimate_motion` with this mode's occlusion check (thread-safe: the flow
        backend is ``backend``, or this thread's own)."""
        o = self.options
        if backend is None:
            if not hasattr(self._flows, "backend"):
                self._flows.backend = make_flow_backend(o.flow, o.flow_scale)
            backend = self._flows.backend
        flow_mode = o.mode == "flow"
        return estimate_motion(prev_rgb, rgb, backend, o.occlusion, o.photometric_threshold,
                               o.photometric_softness if flow_mode else 0.0, o.static_motion if flow_mode else 0.0)

    def __call__(self, stylized: np.ndarray, motion: Motion | None) -> np.ndarray:
        """``stylized``: uint8 (H, W, 3) per-frame result of this frame; returns the output frame."""
        if self._step is None:
            return stylized
        if motion is None:
            return self._step.step(stylized, None, None)
        return self._step.step(stylized, motion.flow_bwd, motion.mask, motion.static)
