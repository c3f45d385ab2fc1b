"""A stylizer with a temporal step of its own, for a region drawn over pictures that are steady already.

A render of painted keys writes the pictures carried from the keys with no temporal step: they are
steady by construction, and a step over them would pull at their strokes (docs/keyframes.md). A
region with a network style of its own over them (``--region person=7``, ``--matte-style 16``) is
painted per frame, though, and repaints its texture on every frame. :class:`Settled` gives that
region's stylizer the render's temporal step on its own full-frame output, before the region is
composited: the region then looks as it does in a plain render of that style in that mode.
"""

from __future__ import annotations

import numpy as np

from ..io.frames import Frame
from ..stylize.base import Stylizer
from ..tensors import to_uint8
from .base import settle
from .stabilizer import Stabilizer, TemporalOptions


class Settled:
    """``inner``'s pictures through a :class:`Stabilizer` of ``options``, in frame order (a sequential stylizer).

    The step's motion is the flow between consecutive input frames. A frame that does not follow the
    last one seen (a shot start, or frames the composite skipped because the region was empty there)
    starts the step afresh.
    """

    sequential = True

    def __init__(self, inner: Stylizer, options: TemporalOptions) -> None:
        self.inner = inner
        self.step = Stabilizer(options)
        self._last: tuple[int, np.ndarray] | None = None  # (index, uint8 frame) of the last frame seen
        hook = getattr(inner, "prepare", None)
        if hook is not None:  # the inner stylizer's ordered hook (a painting's content vector) still runs
            self.prepare = hook

    def stylize(self, frame: Frame, shot_start: bool) -> np.ndarray:
        picture = self.inner.stylize(frame, shot_start)
        now = to_uint8(frame.rgb)
        follows = not shot_start and self._last is not None and self._last[0] == frame.index - 1
        motion = self.step.motion(self._last[1], now) if follows else None
        self._last = (frame.index, now)
        return settle(self.step, picture, motion)
