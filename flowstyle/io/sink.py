"""Where frames go: the :class:`FrameSink` seam (docs/architecture.md, "Seams").

A sink takes finished uint8 RGB pictures with the pts of their source frames.
``close()`` finishes the output and makes it appear; ``abort()`` leaves nothing
behind. :class:`AtomicSink` gives any file-writing sink that guarantee by writing
a temporary file beside the target and renaming it on close.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .atomic import AtomicFile


@runtime_checkable
class FrameSink(Protocol):
    """Receives output pictures in presentation order."""

    def write(self, rgb: np.ndarray, pts: int, alpha: np.ndarray | None = None) -> None:
        """Add ``rgb`` (uint8 (H, W, 3), or float32 in [0, 1] when deep) shown at ``pts`` (in the
        source's time base), with the source's ``alpha`` plane where it has one."""

    def close(self) -> None:
        """Flush and finish the output; only now does it appear at its path."""

    def abort(self) -> None:
        """Stop without finishing: no partial output is left behind."""


class AtomicSink:
    """A file sink that writes to a temporary file and renames it onto ``path`` only when closed cleanly."""

    def __init__(self, path: Path, open_sink: Callable[[Path], FrameSink]) -> None:
        self.path = path
        self._file = AtomicFile(path)
        try:
            self.sink = open_sink(self._file.tmp)
        except BaseException:
            self._file.discard()
            raise

    def write(self, rgb: np.ndarray, pts: int, alpha: np.ndarray | None = None) -> None:
        self.sink.write(rgb, pts, alpha)

    def close(self) -> None:
        try:
            self.sink.close()
        except BaseException:
            self._file.discard()
            raise
        self._file.commit()

    def abort(self) -> None:
        try:
            self.sink.abort()
        finally:
            self._file.discard()
