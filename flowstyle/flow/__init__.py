"""Dense optical flow between neighbouring frames, warping, and flow reliability.

Conventions (docs/architecture.md, "Conventions"): flow is (B, 2, H, W) float32 in pixels,
channel 0 = x (right), channel 1 = y (down). ``flow_bwd`` of frame t maps each
pixel of frame t to where it was in frame t-1, so ``warp(prev, flow_bwd)``
aligns frame t-1 (or its stylization) with frame t.
"""

from .backends import FLOW_METHODS, FlowBackend, make_flow_backend
from .reliability import reliability_mask
from .warp import warp

__all__ = ["FLOW_METHODS", "FlowBackend", "make_flow_backend", "reliability_mask", "warp"]
