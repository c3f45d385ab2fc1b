"""E_warp under motions known exactly: a frame of the clip moved by sub-pixel pans and re-noised, each
network's per-frame output scored with the exact flow (run_stable.py's "E_warp exact motion" column).

Why: on a real clip E_warp is scored with an estimated flow (DIS-medium, Farneback), and whatever that
flow gets wrong (occlusion borders, motion blur, lighting, the flow's own error) is charged to every network alike: a floor that no network can remove, which pulls every ratio
toward 1. Here the motion is exact (the frame is moved with the bicubic kernel the stable training
uses, flowstyle/train/stable.py), so the ratio is the network's own response to motion and noise: a
network that paints the same strokes on the same content scores nearly 0 (the bicubic warp's own
error, about 1% of the shipped network's) whatever the floor of the clip.
Two figures together bound the floor: with R at (1, 1) and a network at (exact m, real r), a straight
line gives the real-clip ratio of a network with m = 0, ``(r - m) / (1 - m)`` (docs/stable.md).
"""

from __future__ import annotations

import numpy as np
import torch

from flowstyle.flow.warp import warp
from flowstyle.io.reader import SizePolicy, VideoReader
from flowstyle.stylize.options import StyleOptions
from flowstyle.stylize.painter import make_stylizer
from flowstyle.tensors import frame_to_tensor

# (pan in px per frame, noise std): a slow and a faster sub-pixel pan (phases the network's
# stride-4 grid does not repeat), and still content under sensor-like noise.
MOTIONS = ((0.37, 0.0), (1.3, 0.0), (0.0, 0.01))
STEPS = 3  # frame pairs per motion
BORDER = 16  # pixels the pan brings in at the edge are not scored


def moved_frames(frame: torch.Tensor, pan: float, noise: float, seed: int = 0) -> tuple[list[torch.Tensor], torch.Tensor]:
    """``frame`` (1, 3, H, W) and STEPS more, each the last moved ``pan`` px right (bicubic) plus fresh
    noise; and the backward flow that maps each frame onto the next."""
    flow = torch.zeros(1, 2, *frame.shape[-2:])
    flow[:, 0] = pan
    g = torch.Generator().manual_seed(seed)
    frames = [frame]
    for _ in range(STEPS):
        frames.append((warp(frames[-1], flow, "bicubic") + torch.randn(frame.shape, generator=g) * noise).clamp(0, 1))
    return frames, flow


def warp_error(outputs: list[torch.Tensor], flow: torch.Tensor) -> float:
    """Mean squared difference of each output and its predecessor moved by the exact flow (inside the border)."""
    b = BORDER
    errors = [(after - warp(before, flow, "bicubic"))[..., b:-b, b:-b].pow(2).mean().item()
              for before, after in zip(outputs, outputs[1:])]
    return float(np.mean(errors))


def exact_motion_errors(src, styles: dict[str, StyleOptions], width: int, index: int = 10) -> dict[str, float]:
    """The warp error of each named style (per-frame, CPU, float32) on frame ``index`` of ``src`` (or its
    last) moved by every motion of MOTIONS, summed over the motions: a caller divides two of them."""
    with VideoReader(src, SizePolicy(max_width=width)) as reader:
        for i, frame in enumerate(reader):
            if i == index:
                break
    x = frame_to_tensor(frame, torch.device("cpu"))
    out: dict[str, float] = {}
    for name, style in styles.items():
        stylizer = make_stylizer(style, torch.device("cpu"), torch.float32)
        total = 0.0
        with torch.no_grad():
            for pan, noise in MOTIONS:
                frames, flow = moved_frames(x, pan, noise)
                total += warp_error([stylizer(f) for f in frames], flow)
        out[name] = total
    return out
