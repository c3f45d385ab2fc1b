"""Hard-cut detection from frame content, streaming (one frame of state).

PySceneDetect's ContentDetector is the model (mean absolute change of hue,
saturation and value between consecutive frames, on a downscaled copy); it is
re-implemented here because PySceneDetect depends on ``opencv-python``, which
cannot be installed beside ``opencv-contrib-python`` (both provide ``cv2``).
Two guards keep fast motion from looking like a cut: the score must exceed an
absolute threshold AND be several times the recent average (an adaptive test in
the spirit of PySceneDetect's AdaptiveDetector, looking back only, since the
render cannot look ahead), and cuts closer than ``min_gap`` frames are ignored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CutOptions:
    threshold: float = 30.0  # HSV content change, 0-255 scale (PySceneDetect's default is 27)
    ratio: float = 2.0  # and this many times the mean of the last `window` scores
    window: int = 8
    min_gap: int = 8  # frames
    width: int = 160  # analysis width


class CutDetector:
    """``is_cut(rgb)`` -> True when ``rgb`` starts a new shot (the first frame is not a cut)."""

    def __init__(self, options: CutOptions = CutOptions()) -> None:
        self.options = options
        self._prev: np.ndarray | None = None
        self._recent: deque[float] = deque(maxlen=options.window)
        self._since = 0
        self.scores: list[float] = []

    def score(self, rgb: np.ndarray) -> float | None:
        """Content change from the previous frame (None for the first)."""
        h, w = rgb.shape[:2]
        small = cv2.resize(rgb, (self.options.width, max(1, round(h * self.options.width / w))), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
        prev, self._prev = self._prev, hsv
        if prev is None or prev.shape != hsv.shape:
            return None
        return float(np.abs(hsv - prev).mean(axis=(0, 1)).mean())

    def is_cut(self, rgb: np.ndarray, index: int | None = None) -> bool:
        """``index``: the frame's number, unused here (see :class:`KnownCuts`)."""
        s = self.score(rgb)
        self._since += 1
        if s is None:
            return False
        self.scores.append(s)
        o = self.options
        baseline = float(np.mean(self._recent)) if self._recent else 0.0
        cut = s > o.threshold and s > o.ratio * baseline and self._since >= o.min_gap
        if cut:
            self._since = 0
            self._recent.clear()
        else:
            self._recent.append(s)
        return cut


class KnownCuts:
    """Cuts found by an earlier pass (a distributed render's scan): ``is_cut`` is True
    exactly at those frame numbers, so a task resets its state where the whole render did."""

    def __init__(self, frames: Sequence[int]) -> None:
        self.frames = frozenset(frames)

    def is_cut(self, rgb: np.ndarray, index: int | None = None) -> bool:
        return index in self.frames
