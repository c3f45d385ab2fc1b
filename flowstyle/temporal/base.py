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
