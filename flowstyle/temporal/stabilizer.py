"""Temporal consistency for any per-frame stylizer: flow between the original
frames, reliability, scene cuts, and the chosen temporal step.

Work splits by dependency so frames can still be processed in parallel:
:func:`estimate_motion` needs only two neighbouring *input* frames (it runs on
the stylize workers beside the network), while :class:`Stabilizer` carries
state from one output to the next and runs in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import FlowstyleError
from ..flow import make_flow_backend, reliability_mask
from ..flow.backends import FlowBackend
from ..scenes import CutOptions
from .anchors import TextureAnchors
from .blind import BlindStabilizer

TEMPORAL_MODES = ("flow", "blind", "none")
# Measured on bikes (shot 2) and bigbuckbunny at 640 px, E_warp against DIS-medium
# flow, relative to per-frame: dis-fast 0.43/0.33 at 2.6-3.3 ms a flow, dis-balanced
# 0.29/0.24 at 9.5-11.7 ms, dis-medium 0.10/0.17 at 14-19 ms (one core; two flows a frame).
DEFAULT_TEMPORAL_FLOW = "dis-balanced"


@dataclass(frozen=True)
class TemporalOptions:
    """How outputs are kept consistent over time.

    Attributes:
        mode: ``flow`` (texture anchors, the default: measured best), ``blind``
            (gradient-domain, Bonneel et al. 2015) or ``none`` (per-frame).
        flow: optical flow method (see ``flowstyle.flow.FLOW_METHODS``).
        flow_scale: compute flow at this fraction of the frame size.
        max_anchors: anchors kept by the ``flow`` mode.
        track_sigma: scale (px) above which ``flow`` follows the current stylization
            (bikes at 640 px, E_warp vs per-frame: 0.375 at 8, 0.333 at 16, 0.298 at 0 =
            colours frozen; 16 keeps lighting changes while passing little flicker).
        blind_lambda: screening weight of ``blind``.
        cuts: scene-cut detection (None disables it).
    """

    mode: str = "flow"
    flow: str = DEFAULT_TEMPORAL_FLOW
    flow_scale: float = 1.0
    max_anchors: int = 8
    track_sigma: float = 16.0
    blind_lambda: float = 0.15
    cuts: CutOptions | None = field(default_factory=CutOptions)

    def __post_init__(self) -> None:
        if self.mode not in TEMPORAL_MODES:
            raise FlowstyleError(f"unknown temporal mode '{self.mode}'; use one of {', '.join(TEMPORAL_MODES)}")
        make_flow_backend(self.flow, self.flow_scale)  # validates the name and scale


@dataclass(frozen=True)
class Motion:
    """Flow from a frame back to its predecessor, and where it can be trusted (OpenCV layout)."""

    flow_bwd: np.ndarray  # (H, W, 2) float32
    mask: np.ndarray  # (H, W) float32 in {0, 1}


def estimate_motion(prev_rgb: np.ndarray, rgb: np.ndarray, backend: FlowBackend) -> Motion:
    """Backward and forward flow between two input frames, and the reliability of the backward one."""
    bwd = backend(rgb, prev_rgb)
    fwd = backend(prev_rgb, rgb)
    to_t = lambda f: torch.from_numpy(f).permute(2, 0, 1).unsqueeze(0)  # noqa: E731
    mask = reliability_mask(to_t(bwd), to_t(fwd))[0, 0].numpy()
    return Motion(flow_bwd=bwd, mask=mask)


class Stabilizer:
    """Apply the temporal mode to per-frame results, in order; a cut (or ``motion=None``) restarts it."""

    def __init__(self, options: TemporalOptions) -> None:
        self.options = options
        if options.mode == "flow":
            self._step = TextureAnchors(options.max_anchors, options.track_sigma)
        elif options.mode == "blind":
            self._step = BlindStabilizer(options.blind_lambda)
        else:
            self._step = None

    def __call__(self, stylized: np.ndarray, motion: Motion | None) -> np.ndarray:
        """``stylized``: (H, W, 3) float32 in [0, 1] for this frame; returns the output frame."""
        if self._step is None:
            return stylized
        if motion is None:
            return self._step.step(stylized, None, None)
        return self._step.step(stylized, motion.flow_bwd, motion.mask)
