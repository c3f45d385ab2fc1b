"""OpenCV dense optical flow behind one interface.

All backends take two uint8 RGB frames (H, W, 3) and return the flow from the
first to the second as float32 (H, W, 2) in pixels, OpenCV's convention:
``first[y, x] ~ second[y + flow[y, x, 1], x + flow[y, x, 0]]``.

Costs at 640x360 on this 2-core CPU (scripts/bench_flow.py): DIS presets a few ms
to tens of ms, Farneback ~30 ms, DeepFlow and TV-L1 ~1 s: DIS is the default.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from ..errors import FlowstyleError


class FlowBackend:
    """A named OpenCV flow algorithm, optionally run at reduced resolution."""

    def __init__(self, name: str, make: Callable[[], object], scale: float = 1.0) -> None:
        self.name = name
        self._make = make
        self._algo = make()
        self.scale = scale

    def __call__(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Flow from ``first`` to ``second`` (uint8 RGB or gray), full size, in full-size pixels."""
        a, b = _gray(first), _gray(second)
        return self.grow(self.calc_small(self.shrink(a), self.shrink(b)), a.shape)

    def working_size(self, width: int, height: int) -> tuple[int, int]:
        """(w, h) of a ``width`` x ``height`` frame at the working scale."""
        if self.scale == 1.0:
            return width, height
        return max(8, round(width * self.scale)), max(8, round(height * self.scale))

    def shrink(self, gray: np.ndarray) -> np.ndarray:
        """``gray`` at the working scale (area-averaged); unchanged at scale 1."""
        if self.scale == 1.0:
            return gray
        return cv2.resize(gray, self.working_size(gray.shape[1], gray.shape[0]), interpolation=cv2.INTER_AREA)

    def calc_small(self, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Flow between two gray frames already at the working scale, in their pixels."""
        return self._algo.calc(first, second, None).astype(np.float32, copy=False)

    @staticmethod
    def grow(flow: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        """A working-scale flow as a full-size (``shape[:2]``) flow in full-size pixels."""
        h, w = shape[:2]
        if flow.shape[:2] == (h, w):
            return flow
        # Rescale the vectors on the small field (one pass over fewer pixels), then upsample.
        # cv2.multiply with a per-channel scalar: 0.1 ms against 0.45 ms for NumPy's
        # broadcast over the (H, W, 2) field at 416x234.
        flow = cv2.multiply(flow, (w / flow.shape[1], h / flow.shape[0], 0.0, 0.0))
        return cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)


def _gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb


def _dis(preset: int, **params: int) -> Callable[[], object]:
    def make() -> object:
        algo = cv2.DISOpticalFlow_create(preset)
        for name, value in params.items():
            getattr(algo, f"set{name}")(value)
        return algo

    return make


FLOW_METHODS: dict[str, Callable[[], object]] = {
    "dis-ultrafast": _dis(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST),
    "dis-fast": _dis(cv2.DISOPTICAL_FLOW_PRESET_FAST),
    "dis-medium": _dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM),
    # The medium preset's finest patch scale (what matters for temporal consistency,
    # measured) with fewer descent iterations and a sparser patch grid: 0.7x its time.
    "dis-balanced": _dis(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, GradientDescentIterations=12, PatchStride=4),
    "farneback": lambda: cv2.optflow.createOptFlow_Farneback(),
    "deepflow": lambda: cv2.optflow.createOptFlow_DeepFlow(),
    "tvl1": lambda: cv2.optflow.DualTVL1OpticalFlow_create(),
}
DEFAULT_FLOW = "dis-medium"


def flow_settings_problem(name: str, scale: float) -> tuple[str, str] | None:
    """(setting, what is wrong) with a flow method and working scale, or None when they are valid.

    One check for both callers: :func:`make_flow_backend` and the pure-data
    ``TemporalOptions``, which checks without making the (per-thread) OpenCV object.
    """
    if name not in FLOW_METHODS:
        return "flow", f"unknown flow method '{name}'; use one of {', '.join(FLOW_METHODS)}"
    if not 0.05 <= scale <= 1.0:
        return "flow_scale", f"flow scale must be in [0.05, 1], got {scale}"
    return None


def make_flow_backend(name: str = DEFAULT_FLOW, scale: float = 1.0) -> FlowBackend:
    """The flow backend called ``name`` (see FLOW_METHODS), computing at ``scale`` of full size."""
    problem = flow_settings_problem(name, scale)
    if problem is not None:
        raise FlowstyleError(problem[1])
    return FlowBackend(name, FLOW_METHODS[name], scale)
