"""Outputs that appear whole or not at all.

The render writes to a hidden temporary file beside the target (same folder, so
the final ``os.replace`` is an atomic rename on one filesystem) and renames it
only after the container is closed cleanly. Any exception, Ctrl-C included,
removes the temporary file. The input is never the output.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import InputError, OutputError


def check_paths(input_path: Path, output_path: Path, overwrite: bool) -> None:
    """Refuse outputs that would overwrite the input, clobber a file, or cannot be written."""
    if not input_path.exists():
        raise InputError(input_path, "no such file")
    if input_path.is_dir():
        raise InputError(input_path, "is a directory, not a media file")
    if output_path.exists() and os.path.samefile(input_path, output_path) or output_path.resolve() == input_path.resolve():
        raise OutputError(output_path, "output path is the input file; choose another output name")
    if output_path.is_dir():
        raise OutputError(output_path, "is a directory; give a file name such as out.mp4")
    if output_path.exists() and not overwrite:
        raise OutputError(output_path, "already exists; pass --overwrite to replace it")
    if not output_path.suffix:
        raise OutputError(output_path, "has no file extension; use e.g. .mp4, .mov or .mkv")
    parent = output_path.parent
    if not parent.is_dir():
        raise OutputError(output_path, f"output directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(output_path, f"output directory {parent} is not writable")


def make_folder(folder: Path) -> Path:
    """Create ``folder`` and its parents for outputs that are a set of files (``conform -o``, ``batch``).

    Like PySceneDetect's ``-o``: a folder of many renders is the command's own, so a
    missing one is made. A single ``render -o`` into a missing folder stays refused
    (:func:`check_paths`), as ffmpeg refuses it: there a missing folder is more likely
    a typo than an intent. A file in the way or a folder that cannot be made or written
    is one line naming the path (docs/architecture.md, "Conventions").
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), folder)
        if blocker == folder:
            raise OutputError(folder, "is a file, not a folder") from None
        raise OutputError(folder, f"cannot create this folder: {blocker} is a file") from None
    except OSError as exc:
        raise OutputError(folder, f"cannot create this folder ({exc.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(folder, "output folder is not writable")
    return folder


def _default_mode() -> int:
    """The permissions ``open()`` would give a new file (0o666 less the umask); mkstemp makes 0o600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class AtomicFile:
    """A temporary file beside ``output_path`` that becomes it on :meth:`commit`, or vanishes on :meth:`discard`.

    The temporary name keeps the target's extension so libav picks the same
    container format for it.
    """

    def __init__(self, output_path: Path) -> None:
        self.path = output_path
        try:
            fd, tmp_name = tempfile.mkstemp(dir=output_path.parent, prefix=f".{output_path.stem}.",
                                            suffix=f".part{output_path.suffix}")
        except OSError as exc:
            raise OutputError(output_path, f"cannot create a file in {output_path.parent} ({exc.strerror})") from None
        os.close(fd)
        self.tmp = Path(tmp_name)

    def commit(self) -> None:
        """Rename the finished temporary file onto the output (atomic on one filesystem)."""
        try:
            os.chmod(self.tmp, _default_mode())
            os.replace(self.tmp, self.path)
        finally:
            self.discard()

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.tmp.unlink()


@contextlib.contextmanager
def atomic_output(output_path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``output_path``; rename it into place on success."""
    file = AtomicFile(output_path)
    try:
        yield file.tmp
        file.commit()
    finally:
        file.discard()


def atomic_save(write: Callable[[str], object], path: Path) -> Path:
    """Call ``write(temporary_path)`` and rename the result onto ``path``: readers never see half a file.

    For checkpoints, learned styles, converted weights (``lambda p: torch.save(obj, p)``)
    and the resume folders' JSON (:func:`atomic_write_json`). The temporary file is an
    :class:`AtomicFile` in the same folder, so the rename is atomic; it is removed on failure.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        write(str(tmp))
    return path


def atomic_write_json(path: Path, data: object) -> Path:
    """``data`` as indented, key-sorted JSON at ``path``, written whole or not at all."""
    return atomic_save(lambda tmp: Path(tmp).write_text(json.dumps(data, indent=1, sort_keys=True)), path)
