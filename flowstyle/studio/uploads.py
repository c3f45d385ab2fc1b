"""Uploaded clips and paintings: size-limited, probed with PyAV first, stored under server-chosen names.

Security: a client never names a file on disk. Bytes are streamed into
``<root>/<random id>.part`` with a byte limit, probed by PyAV (libav reads the
content, not the name the client gave), and only then renamed to an extension
chosen from the probed format. Lookups are by id in a dict, never a path join.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..io.probe import MediaInfo, probe

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_LIMIT = 2 * 1024**3  # bytes; ``flowstyle studio --upload-limit`` changes it

# libav demuxer name -> the extension the rest of flowstyle expects (paintings are told by suffix).
_IMAGE_FORMATS = {"png_pipe": ".png", "jpeg_pipe": ".jpg", "webp_pipe": ".webp", "bmp_pipe": ".bmp",
                  "tiff_pipe": ".tiff", "image2": ".png"}
_VIDEO_FORMATS = {"mov,mp4,m4a,3gp,3g2,mj2": ".mp4", "matroska,webm": ".mkv", "avi": ".avi", "mpegts": ".ts"}


class UploadTooLarge(Exception):
    """More bytes than the configured limit."""


@dataclass(frozen=True)
class Upload:
    id: str
    kind: str  # "video" or "image"
    path: Path
    name: str  # the client's name, shown only, never used as a path
    info: MediaInfo


def new_id() -> str:
    return secrets.token_hex(16)


def is_id(value: str) -> bool:
    """Ids are 32 lowercase hex digits: anything else (``../``, ``/etc``) is refused before any lookup."""
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


class UploadStore:
    """Uploads kept in ``root`` until removed or :meth:`close`."""

    def __init__(self, root: Path, limit: int = DEFAULT_UPLOAD_LIMIT) -> None:
        self.root = root
        self.limit = limit
        self.root.mkdir(parents=True, exist_ok=True)
        self._items: dict[str, Upload] = {}
        self._lock = threading.Lock()

    async def receive(self, chunks: AsyncIterator[bytes], name: str) -> Upload:
        """Store the streamed bytes, probe them, and keep them as a clip or a painting.

        Raises:
            UploadTooLarge: over ``limit`` bytes (the partial file is removed).
            InputError: not a media file PyAV can read, or one without a picture.
        """
        uid = new_id()
        part = self.root / f"{uid}.part"
        size = 0
        try:
            with part.open("wb") as f:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.limit:
                        raise UploadTooLarge(f"{name}: larger than the upload limit of {self.limit} bytes")
                    f.write(chunk)
            return self._adopt(uid, part, name)
        except BaseException:
            part.unlink(missing_ok=True)
            raise

    def add_file(self, path: Path) -> Upload:
        """Register a clip from the folder given on the command line (probed, not copied)."""
        return self._adopt(new_id(), path, path.name, copy=False)

    def _adopt(self, uid: str, part: Path, name: str, copy: bool = True) -> Upload:
        try:
            info = probe(part)
        except InputError:
            raise InputError(name, "is not a video or picture that PyAV can read") from None
        if not info.video:
            raise InputError(name, "holds no picture (audio-only or unknown data)")
        image = info.format in _IMAGE_FORMATS and (info.video[0].frames in (0, 1))
        if copy:
            ext = _IMAGE_FORMATS[info.format] if image else _VIDEO_FORMATS.get(info.format, ".mkv")
            path = self.root / f"{uid}{ext}"
            part.rename(path)
        else:
            path = part
        upload = Upload(uid, "image" if image else "video", path, name, info)
        with self._lock:
            self._items[uid] = upload
        log.info("upload %s: %s (%s, %s)", uid, name, upload.kind, info.format)
        return upload

    def get(self, uid: str) -> Upload | None:
        if not is_id(uid):
            return None
        with self._lock:
            return self._items.get(uid)

    def all(self) -> list[Upload]:
        with self._lock:
            return list(self._items.values())

    def remove(self, uid: str) -> bool:
        with self._lock:
            upload = self._items.pop(uid, None)
        if upload is None:
            return False
        if upload.path.parent == self.root:  # never delete the user's own folder clips
            upload.path.unlink(missing_ok=True)
        return True

    def close(self) -> None:
        with self._lock:
            self._items.clear()
        shutil.rmtree(self.root, ignore_errors=True)
