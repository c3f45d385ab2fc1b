"""The :class:`TemporalStep` seam: keep per-frame results consistent over time (docs/architecture.md, "Seams").

Split by dependency, so frames can still be stylized in parallel: ``motion``
needs only two neighbouring *input* frames and runs on the stylize workers beside
the network; ``__call__`` carries state from one output to the next and runs in
order. :class:`~flowstyle.temporal.stabilizer.Stabilizer` is the implementation
(flow, anchors, blind); :class:`PerFrame` does nothing (per-frame renders, and
stylizers that are temporal themselves, such as Gatys with its temporal loss).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..tensors import to_uint8
from .stabilizer import Motion


@runtime_checkable
class TemporalStep(Protocol):
    #: False: the step never looks at motion (the pipeline then computes no flow).
    active: bool

    def motion(self, prev_rgb: np.ndarray, rgb: np.ndarray) -> Motion:
        """Motion from ``rgb`` back to ``prev_rgb`` (uint8 input frames); thread-safe."""

    def __call__(self, stylized: np.ndarray, motion: Motion | None) -> np.ndarray:
        """The output frame for per-frame result ``stylized``; ``motion`` None at the start of a shot."""


class PerFrame:
    """The identity step: outputs are the per-frame results."""

    active = False

    def motion(self, prev_rgb: np.ndarray, rgb: np.ndarray) -> Motion:
        raise NotImplementedError("PerFrame needs no motion")

    def __call__(self, stylized: np.ndarray, motion: Motion | None) -> np.ndarray:
        return stylized


def settle(temporal: TemporalStep, stylized: np.ndarray, motion: Motion | None) -> np.ndarray:
    """``temporal(stylized, motion)``, keeping a deep (float) picture deep.

    The temporal steps work on 8-bit pictures. For a float picture S the step runs on
    its 8-bit rounding s and its correction (out - s) is added to S: where the step
    changes nothing the float picture comes through untouched, so a 10-bit source keeps
    its bits (8 bits cap PSNR near 53 dB, the float path reaches 68 dB).
    """
    if stylized.dtype == np.uint8:
        return temporal(stylized, motion)
    low = to_uint8(stylized)
    out = temporal(low, motion)
    if out is low:
        return stylized
    correction = (out.astype(np.float32) - low.astype(np.float32)) * np.float32(1 / 255)
    return np.clip(stylized + correction, 0.0, 1.0)
