"""Flow and reliability masks of neighbouring training frames, computed once and cached.

Temporal training (Ruder et al. 2018; Huang et al. 2017; ReCoNet, Gao et al. 2018)
compares the network's output on frame t with its output on frame t-1 warped by
the flow of the ORIGINAL frames. The flow (t -> t-1, DIS) and Ruder's
forward-backward + motion-boundary mask depend only on the clip, so they are
computed the first time a pair is drawn, kept in memory, and stored under
``$FLOWSTYLE_HOME/cache/flow`` (flow float16, mask uint8), keyed by the source,
its size and modification time, the frame index, the frame size and the flow method.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from ..flow import make_flow_backend
from ..stylize.learned import user_dir
from ..temporal import estimate_motion

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    return user_dir() / "cache" / "flow"


class FlowCache:
    """``get(source, index, prev, rgb)`` -> (flow_bwd (H, W, 2) float16, mask (H, W) uint8 in {0, 1})."""

    def __init__(self, flow: str = "dis-medium", folder: Path | None = None, memory: bool = True) -> None:
        self.flow = flow
        self.folder = folder or cache_dir()
        self._backend = make_flow_backend(flow)
        self._memory: dict[str, tuple[np.ndarray, np.ndarray]] | None = {} if memory else None
        self.computed = 0
        self.loaded = 0

    def key(self, source: str, index: int, shape: tuple[int, ...]) -> str:
        path = Path(source)
        try:
            st = path.stat()
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "?"
        raw = f"{path.resolve()}|{stamp}|{index}|{shape[0]}x{shape[1]}|{self.flow}|v1"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def get(self, source: str, index: int, prev: np.ndarray, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Flow from frame ``index`` (``rgb``) back to ``index - 1`` (``prev``) of ``source``, and its mask."""
        key = self.key(source, index, rgb.shape)
        if self._memory is not None and key in self._memory:
            return self._memory[key]
        file = self.folder / f"{key}.npz"
        value = self._load(file)
        if value is None:
            motion = estimate_motion(prev, rgb, self._backend, occlusion="forward-backward")
            value = (motion.flow_bwd.astype(np.float16), (motion.mask > 0.5).astype(np.uint8))
            self._store(file, value)
            self.computed += 1
        else:
            self.loaded += 1
        if self._memory is not None:
            self._memory[key] = value
        return value

    @staticmethod
    def _load(file: Path) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            with np.load(file) as data:
                return data["flow"], data["mask"]
        except (OSError, KeyError, ValueError):  # absent or half-written by a killed run: compute again
            return None

    def _store(self, file: Path, value: tuple[np.ndarray, np.ndarray]) -> None:
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.stem}.", suffix=".npz")
            with os.fdopen(fd, "wb") as f:
                np.savez(f, flow=value[0], mask=value[1])
            os.replace(tmp, file)
        except OSError as exc:  # a read-only or full cache only costs recomputation
            log.debug("flow cache not written (%s)", exc)
