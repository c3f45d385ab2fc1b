"""The unit that flows through the pipeline: one decoded, upright RGB frame with its timestamp."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Frame:
    """A decoded frame.

    Attributes:
        index: 0-based position in decode (presentation) order.
        pts: presentation timestamp in ``time_base`` units, copied from the decoder
            (never recomputed from a frame rate, so VFR and 29.97 fps keep their timing).
        time_base: seconds per ``pts`` unit.
        rgb: uint8 array (H, W, 3), RGB, upright (display rotation applied); float32 in
            [0, 1] instead when a deep (> 8-bit) source is read for a deep output.
        alpha: the source's alpha plane (H, W), same dtype rule as ``rgb``, or None.
    """

    index: int
    pts: int
    time_base: Fraction
    rgb: np.ndarray
    alpha: np.ndarray | None = None

    @property
    def time(self) -> float:
        """Presentation time in seconds."""
        return float(self.pts * self.time_base)
