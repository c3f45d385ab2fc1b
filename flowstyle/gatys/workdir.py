"""The resume folder of a long render: finished frames, checkpointed losslessly, keyed by input and settings.

Layout of ``OUTPUT.flowstyle-work/``::

    key.json          what the frames were rendered from (input file hash, settings)
    000000.png ...    finished frames, 8-bit RGB, written atomically (temp + rename)

A frame file exists only once it is complete, so after a crash or Ctrl-C the
folder holds frames 0..k-1 whole and the render continues from frame k. Frames
are checkpointed as the exact 8-bit images the render carries forward (the next
frame is initialised from and pulled toward the rounded output), which is what
makes a resumed render identical to an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from ..errors import FlowstyleError, OutputError
from ..io.atomic import atomic_save, atomic_write_json

log = logging.getLogger(__name__)

FORMAT = 1


def file_sha256(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def work_path(output: Path) -> Path:
    return output.with_name(output.name + ".flowstyle-work")


def changed_settings(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Names of the settings that differ between two keys (nested with dots)."""
    names = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            names += changed_settings(a, b, f"{prefix}{k}.")
        elif a != b:
            names.append(prefix + k)
    return names


def claim(path: Path, key: dict, holds: Callable[[], str]) -> None:
    """Write ``key`` into ``path``/key.json, or check it is the one already there (``holds``: what the folder
    holds, for the error). Shared with the distributed render's segment folder."""
    key_file = path / "key.json"
    if key_file.exists():
        try:
            old = json.loads(key_file.read_text())
        except (OSError, ValueError):
            old = {}
        if old != key:
            changed = ", ".join(changed_settings(old, key)) or "unreadable key.json"
            raise FlowstyleError(
                f"{path}: holds {holds()} rendered with other settings (changed: {changed}); "
                "run the same command with --restart to discard them, or use another output name")
    else:
        atomic_write_json(key_file, key)


class WorkFolder:
    """Finished frames of one render; refuses to mix frames rendered with other settings."""

    def __init__(self, path: Path, key: dict, restart: bool = False) -> None:
        self.path = path
        key = {"format": FORMAT, **json.loads(json.dumps(key))}  # JSON-normalised (tuples -> lists)
        try:
            if restart and path.exists():
                log.info("%s: --restart: discarding %d finished frames", path, self._count_files())
                shutil.rmtree(path)
            path.mkdir(exist_ok=True)
            claim(path, key, lambda: f"{self._count_files()} frames")
        except OSError as exc:
            raise OutputError(path, f"cannot use the resume folder ({exc.strerror})") from None
        self.finished = self._count_finished()

    def _frame(self, index: int) -> Path:
        return self.path / f"{index:06d}.png"

    def _count_files(self) -> int:
        return len(list(self.path.glob("[0-9]" * 6 + ".png"))) if self.path.is_dir() else 0

    def _count_finished(self) -> int:
        n = 0
        while self._frame(n).exists():
            n += 1
        return n

    def load(self, index: int) -> np.ndarray:
        bgr = cv2.imread(str(self._frame(index)), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FlowstyleError(f"{self._frame(index)}: checkpoint frame cannot be read; run again with --restart")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def save(self, index: int, rgb: np.ndarray) -> None:
        final = self._frame(index)

        def write(tmp: str) -> None:  # the temporary name keeps .png, which imwrite reads the format from
            if not cv2.imwrite(tmp, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 1]):
                raise OutputError(final, "cannot write the checkpoint frame (disk full?)")

        atomic_save(write, final)  # whole or absent: a crash never leaves half a frame
        if index == self.finished:
            self.finished = self._count_finished()

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
