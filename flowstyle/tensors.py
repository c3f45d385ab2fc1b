"""Conversions at the I/O edge: uint8 (H, W, 3) RGB <-> float (1, 3, H, W) in [0, 1].

Conventions (docs/architecture.md, "Conventions"): images in tensors are RGB
float32 in [0, 1], shape (B, 3, H, W); uint8 H x W x 3 RGB only at the I/O edge.
Low in the layers so that every stylizer, the Gatys optimiser and the pipeline
share one rounding rule.
"""

from __future__ import annotations

import numpy as np
import torch

from .io.frames import Frame


def rgb_to_tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (1, 3, H, W) in [0, 1] on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).to(device, non_blocking=True)
    return t.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def frame_to_tensor(frame: Frame, device: torch.device) -> torch.Tensor:
    """A decoded frame as float (1, 3, H, W) in [0, 1] on ``device`` (a deep frame is float already)."""
    if frame.rgb.dtype == np.float32:
        return torch.from_numpy(np.ascontiguousarray(frame.rgb)).to(device).permute(2, 0, 1).unsqueeze(0)
    return rgb_to_tensor(frame.rgb, device)


def tensor_to_float(t: torch.Tensor) -> np.ndarray:
    """float (1, 3, H, W) -> float32 (H, W, 3) in [0, 1]: the deep output path, no rounding to 8 bits."""
    return t[0].float().clamp(0, 1).permute(1, 2, 0).contiguous().cpu().numpy()


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """uint8 as it is; float32 in [0, 1] rounded to uint8 (flow, cut detection and the temporal step take 8 bits)."""
    if rgb.dtype == np.uint8:
        return rgb
    return (np.clip(rgb, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def tensor_to_rgb(t: torch.Tensor) -> np.ndarray:
    """float (1, 3, H, W) in [0, 1] -> uint8 (H, W, 3), rounded."""
    return t[0].mul(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()
