"""Where a flow can be trusted: forward-backward check, motion boundaries, frame edges.

Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos" (GCPR 2016),
section 4 and their consistencyChecker: with ``w`` the backward flow of frame t
(t -> t-1) and ``w^`` the forward flow of frame t-1 (t-1 -> t) sampled where
``w`` points, a pixel is
  * disoccluded where ``|w + w^|^2 > 0.01 (|w|^2 + |w^|^2) + 0.5``,
  * on a motion boundary where ``|grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002``,
and additionally unreliable here where ``x + w(x)`` leaves the frame.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .warp import inside_frame, warp


def flow_gradient_sq(flow: Tensor) -> Tensor:
    """|grad u|^2 + |grad v|^2 with central differences, (B, 1, H, W)."""
    padded = F.pad(flow, (1, 1, 1, 1), mode="replicate")
    dx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    dy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    return (dx.pow(2) + dy.pow(2)).sum(dim=1, keepdim=True)


def reliability_mask(flow_bwd: Tensor, flow_fwd_prev: Tensor, motion_boundaries: bool = True) -> Tensor:
    """Reliability (B, 1, H, W) in {0, 1} of ``flow_bwd`` (frame t -> t-1).

    Args:
        flow_bwd: flow of frame t to frame t-1, (B, 2, H, W).
        flow_fwd_prev: flow of frame t-1 to frame t, (B, 2, H, W).
        motion_boundaries: also reject pixels on motion boundaries.

    Returns:
        1 where the flow passes every check, 0 elsewhere.
    """
    back = warp(flow_fwd_prev, flow_bwd)  # w^ at the point w leads to
    sum_sq = (flow_bwd + back).pow(2).sum(1, keepdim=True)
    mag_sq = flow_bwd.pow(2).sum(1, keepdim=True) + back.pow(2).sum(1, keepdim=True)
    ok = sum_sq <= 0.01 * mag_sq + 0.5
    if motion_boundaries:
        ok &= flow_gradient_sq(flow_bwd) <= 0.01 * flow_bwd.pow(2).sum(1, keepdim=True) + 0.002
    return ok.to(flow_bwd.dtype) * inside_frame(flow_bwd)
