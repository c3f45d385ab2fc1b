"""User mattes: a greyscale (luma) or alpha video that says, frame by frame, where ``--matte-style`` goes (docs/regions.md).

Read with PyAV in decode order, one matte frame per input frame. A matte with an
alpha channel (ProRes 4444, PNG sequences with alpha, yuva formats) gives its
alpha; any other gives its luma, and must be grey: a colour picture given by
mistake is refused rather than turned into a mask. Size and length must match the
input, or ``--matte-fit`` scales the matte to the frame.
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from ..errors import InputError
from ..io.probe import open_container

# Mean spread between the R, G and B of a pixel above which a matte "has colour":
# an H.264 greyscale matte keeps its chroma within a level or two of neutral.
GREY_TOLERANCE = 6.0


def matte_plane(frame: av.VideoFrame) -> tuple[np.ndarray, bool]:
    """(H, W) uint8: the frame's alpha when it has one, else its luma; and whether it was alpha."""
    if len(frame.format.components) in (2, 4):  # ya8, rgba, yuva...: grey or colour plus alpha
        return np.ascontiguousarray(frame.to_ndarray(format="rgba")[..., 3]), True
    return frame.to_ndarray(format="gray"), False


def colour_spread(frame: av.VideoFrame) -> float:
    """Mean over pixels of max(R, G, B) - min(R, G, B), in levels: ~0 for a grey picture."""
    rgb = frame.to_ndarray(format="rgb24").astype(np.int16)
    return float((rgb.max(-1) - rgb.min(-1)).mean())


class MatteReader:
    """Matte frames as float32 (H, W) in [0, 1], one per call, in order.

    Args:
        path: matte video or image sequence pattern (``matte_%04d.png``).
        size: (width, height) of the input frames.
        frames: the input's frame count when known, to refuse a matte of another length up front.
        fit: scale a matte of another size to ``size`` instead of refusing it.
    """

    def __init__(self, path: str | Path, size: tuple[int, int], frames: int | None = None, fit: bool = False) -> None:
        self.path = str(path)
        self.size = size
        self.fit = fit
        try:
            self._container = open_container(self.path)
        except (av.error.FFmpegError, OSError) as exc:
            raise InputError(self.path, f"cannot open the matte ({exc})") from None
        if not self._container.streams.video:
            self._container.close()
            raise InputError(self.path, "the matte has no video stream")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        w, h = stream.codec_context.width, stream.codec_context.height
        if (w, h) != tuple(size) and not fit:
            self._container.close()
            raise InputError(self.path, f"the matte is {w}x{h} but the input is {size[0]}x{size[1]}; "
                                        f"use --matte-fit to scale it")
        if frames and stream.frames and stream.frames != frames:
            self._container.close()
            raise InputError(self.path, f"the matte has {stream.frames} frames but the input has {frames}")
        self._frames = self._container.decode(stream)
        self.count = 0
        self._checked = False

    def __call__(self, index: int | None = None) -> np.ndarray:
        """The matte frame for input frame ``index`` (default: the next one), (H, W) float32 in [0, 1] at the
        input size. Frames come in order; a later ``index`` skips matte frames (a render of a range)."""
        try:
            while index is not None and self.count < index:
                next(self._frames)
                self.count += 1
            frame = next(self._frames)
        except StopIteration:
            raise InputError(self.path, f"the matte ends after {self.count} frames, before the input does") from None
        plane, alpha = matte_plane(frame)
        if not self._checked:
            if not alpha and colour_spread(frame) > GREY_TOLERANCE:
                raise InputError(self.path, "the matte is not greyscale and has no alpha channel")
            self._checked = True
        if plane.shape[::-1] != tuple(self.size):
            shrink = plane.shape[1] > self.size[0]
            plane = cv2.resize(plane, self.size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        self.count += 1
        return plane.astype(np.float32) * np.float32(1.0 / 255.0)

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> "MatteReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
