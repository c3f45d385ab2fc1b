"""Backward warping with ``torch.nn.functional.grid_sample``.

Convention:
    ``warp(image, flow)[b, :, y, x] = image[b, :, y + flow[b, 1, y, x], x + flow[b, 0, y, x]]``
    with pixel centres at integer coordinates (0 .. W-1, 0 .. H-1), i.e.
    ``align_corners=True`` in grid_sample's normalised coordinates. Samples that
    fall outside the frame take the border value (``padding_mode="border"``); the
    reliability mask marks them, so callers never trust them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def source_coordinates(flow: Tensor) -> tuple[Tensor, Tensor]:
    """Pixel coordinates ``x + flow(x)``, ``y + flow(y)``, each (B, H, W), for a flow (B, 2, H, W)."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")
    return xs + flow[:, 0], ys + flow[:, 1]


def sampling_grid(flow: Tensor) -> Tensor:
    """Normalised grid (B, H, W, 2) in [-1, 1] for grid_sample from a pixel flow (B, 2, H, W)."""
    h, w = flow.shape[-2:]
    x, y = source_coordinates(flow)
    return torch.stack((x * (2.0 / max(w - 1, 1)) - 1.0, y * (2.0 / max(h - 1, 1)) - 1.0), dim=-1)


def warp(image: Tensor, flow: Tensor, mode: str = "bilinear") -> Tensor:
    """Sample ``image`` (B, C, H, W) at ``x + flow(x)``; ``flow`` is (B, 2, H, W) in pixels.

    Args:
        image: the picture to move, (B, C, H, W).
        flow: displacement from each output pixel to its source, (B, 2, H, W).
        mode: ``bilinear``, ``bicubic`` (sharper: less blur when warps are chained) or ``nearest``.

    Returns:
        (B, C, H, W), same dtype as ``image``.
    """
    if flow.shape[0] != image.shape[0] or flow.shape[-2:] != image.shape[-2:] or flow.shape[1] != 2:
        raise ValueError(f"flow {tuple(flow.shape)} does not fit image {tuple(image.shape)}; expected (B, 2, H, W)")
    grid = sampling_grid(flow.to(image.dtype))
    return F.grid_sample(image, grid, mode=mode, padding_mode="border", align_corners=True)


def inside_frame(flow: Tensor) -> Tensor:
    """(B, 1, H, W) float: 1 where ``x + flow(x)`` lies inside the frame, else 0."""
    h, w = flow.shape[-2:]
    x, y = source_coordinates(flow)
    ok = (x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)
    return ok.unsqueeze(1).to(flow.dtype)
