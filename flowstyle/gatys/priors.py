"""Temporal priors of a frame: earlier outputs warped onto it, with weights (Ruder et al. 2016/2018)."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..flow import FlowBackend
from ..flow.warp import warp
from ..losses import long_term_weights
from ..temporal import estimate_motion
from ..tensors import rgb_to_tensor
from .objective import Prior


@dataclass(frozen=True)
class Past:
    """One finished frame of the current shot: its input and its (8-bit) output, uint8 (H, W, 3)."""

    rgb: np.ndarray
    output: np.ndarray


class ShotHistory:
    """The last few finished frames of the current shot (cleared at a scene cut)."""

    def __init__(self, depth: int) -> None:
        self._frames: deque[Past] = deque(maxlen=depth)

    def clear(self) -> None:
        self._frames.clear()

    def push(self, rgb: np.ndarray, output: np.ndarray) -> None:
        self._frames.append(Past(rgb, output))

    def back(self, offset: int) -> Past | None:
        """The frame ``offset`` frames before the next one, or None (start of shot)."""
        return self._frames[-offset] if offset <= len(self._frames) else None

    def __len__(self) -> int:
        return len(self._frames)


@dataclass
class Priors:
    """What the temporal terms and the warped initialisation of a frame need."""

    priors: list[Prior]
    init: Tensor | None  # previous output warped onto this frame; None at a shot's start


def flow_to_tensor(flow: np.ndarray, device: torch.device) -> Tensor:
    """(H, W, 2) float32 -> (1, 2, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(flow)).to(device).permute(2, 0, 1)[None]


def build_priors(rgb: np.ndarray, history: ShotHistory, offsets: Sequence[int], backend: FlowBackend,
                 device: torch.device) -> Priors:
    """Warp the outputs ``offsets`` frames back onto frame ``rgb``.

    Each flow is estimated from this frame to the earlier one (and back, for the
    forward-backward reliability check with Ruder's motion-boundary test), and the
    earlier *output* is warped along it. The weights of frames further back count
    only pixels no nearer frame covers (:func:`~flowstyle.losses.long_term_weights`).

    Warps are bicubic: a bilinear warp blurs the strokes, and the style loss, whose
    low layers measure fine texture, rises with it (a converged frame of bikes at
    128 px moved by one frame's flow: style loss 70 -> 9155 bilinear, 2766 bicubic).

    The initialisation is the previous output warped everywhere, disocclusions
    included, rather than Ruder's mean pixel or the current input there: flat or
    unstyled patches cost the optimiser far more than misplaced strokes (same
    frame: style loss 2812 warped everywhere, 24087 with the input in the 17% of
    pixels the flow does not carry). The temporal loss leaves those pixels free.
    """
    found: list[tuple[Tensor, Tensor]] = []
    for offset in offsets:
        past = history.back(offset)
        if past is None:
            break
        motion = estimate_motion(past.rgb, rgb, backend, occlusion="forward-backward")
        flow = flow_to_tensor(motion.flow_bwd, device)
        warped = warp(rgb_to_tensor(past.output, device), flow, mode="bicubic").clamp_(0.0, 1.0)
        found.append((warped, torch.from_numpy(motion.mask).to(device)[None, None]))
    if not found:
        return Priors([], None)
    weights = long_term_weights([mask for _, mask in found])
    priors = [Prior(warped, weight) for (warped, _), weight in zip(found, weights)]
    return Priors(priors, found[0][0])
