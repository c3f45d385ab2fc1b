"""Backward warping of NumPy images with OpenCV (the CPU path of the temporal step and metrics).

Same convention as :func:`flowstyle.flow.warp.warp`: ``out[y, x] = image[y + flow[y, x, 1],
x + flow[y, x, 0]]``, pixel centres at integers, edges replicated; flows in OpenCV's
(H, W, 2) layout. ``cv2.remap`` is 3x faster than ``grid_sample`` here (cubic, 640x360).
"""

from __future__ import annotations

import cv2
import numpy as np

_IDENTITY: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def identity_grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinate grids (x, y), float32 (H, W); cached per size and read-only."""
    key = (h, w)
    if key not in _IDENTITY:
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        xs.flags.writeable = False
        ys.flags.writeable = False
        _IDENTITY[key] = (xs, ys)
    return _IDENTITY[key]


def remap_flow(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Sample ``image`` (H, W, C) at ``x + flow(x)``; ``flow`` is (H, W, 2) in pixels."""
    xs, ys = identity_grid(*flow.shape[:2])
    return cv2.remap(image, xs + flow[..., 0], ys + flow[..., 1], interpolation, borderMode=cv2.BORDER_REPLICATE)


def planes(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Contiguous x and y planes of an (H, W, 2) flow.

    Two strided NumPy copies: 0.13 ms at 640x360, where ``cv2.split`` measured 1.6 ms
    on DIS flows in the temporal step (OpenCV 5.0).
    """
    return np.ascontiguousarray(flow[..., 0]), np.ascontiguousarray(flow[..., 1])
