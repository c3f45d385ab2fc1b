"""Pixels above 8 bits, and alpha, at the I/O edge: bit depth and alpha are kept.

The network works in float RGB; only the I/O edge was 8-bit. These helpers let
10/12/16-bit and float sources stay deep: decode to float32 RGB in [0, 1] (by
way of 16-bit rgb48le, or gbrpf32le for float sources such as EXR, so nothing
is rounded to 8 bits) with an optional alpha plane, and encode float32 RGB
(+ alpha) straight to 10-bit pixel formats by way of 16-bit RGB. 8-bit sources
keep the uint8 ``rgb24`` path (:func:`needs_float` is False for them), so the
usual render is as fast as before.

Convention: ``rgb`` is (H, W, 3) RGB, uint8 or float32 in [0, 1]; ``alpha`` is
(H, W), same dtype rule, 1 (or 255) = opaque. swscale converts with the colour
matrix and range of :class:`~flowstyle.io.colour.ColourTags`; RGB pixel formats
(``gbr*``) need no matrix.
"""

from __future__ import annotations

import av
import numpy as np
from av.video.reformatter import Interpolation

from .colour import ColourTags

_U16 = 65535.0


def pix_format(fmt: av.VideoFormat | str) -> av.VideoFormat:
    return fmt if isinstance(fmt, av.VideoFormat) else av.VideoFormat(fmt)


def bit_depth(fmt: av.VideoFormat | str) -> int:
    """Bits per component (32 for float formats)."""
    return max(c.bits for c in pix_format(fmt).components)


def has_alpha(fmt: av.VideoFormat | str) -> bool:
    f = pix_format(fmt)
    return len(f.components) == 4 and not f.name.startswith(("rgb0", "bgr0", "0rgb", "0bgr"))


def is_float(fmt: av.VideoFormat | str) -> bool:
    name = pix_format(fmt).name
    return "f32" in name or "f16" in name


def needs_float(source: av.VideoFormat | str, output: av.VideoFormat | str) -> bool:
    """True when frames should travel as float: the source has more than 8 bits and the output can keep them."""
    return bit_depth(source) > 8 and bit_depth(output) > 8


def decode_float(frame: av.VideoFrame, colour: ColourTags, size: tuple[int, int] | None = None,
                 interpolation: Interpolation | None = None, threads: int = 0,
                 alpha: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """A decoded frame as float32 RGB (H, W, 3) in [0, 1], and its alpha (H, W) if it has one.

    Args:
        frame: any pixel format PyAV decodes (yuv*10le, prores 12-bit, rgb48, gbrpf32le, ...).
        colour: the source's matrix and range (ignored for RGB formats).
        size: (width, height) to scale to in the same swscale call; None keeps the frame's.
        alpha: False drops the alpha plane even if there is one.

    Float sources (EXR) are read as gbrpf32le and clipped to [0, 1]: the network
    takes display-referred values, not scene-linear highlights above 1.
    """
    w, h = size or (frame.width, frame.height)
    want_alpha = alpha and has_alpha(frame.format)
    if is_float(frame.format):
        fmt, scale = ("gbrapf32le" if want_alpha else "gbrpf32le"), 1.0
    else:
        fmt, scale = ("rgba64le" if want_alpha else "rgb48le"), 1.0 / _U16
    kw = {"interpolation": interpolation} if interpolation is not None else {}
    arr = frame.to_ndarray(width=w, height=h, format=fmt, src_colorspace=colour.matrix,
                           src_color_range=colour.swscale_range, threads=threads, **kw)
    arr = arr.astype(np.float32)
    if scale != 1.0:
        arr *= scale
    else:
        np.clip(arr, 0.0, 1.0, out=arr)
    if want_alpha:
        return np.ascontiguousarray(arr[..., :3]), np.ascontiguousarray(arr[..., 3])
    return arr, None


def _to_u16(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, 0.0, 1.0) * _U16 + 0.5).astype(np.uint16)


def encode_frame(rgb: np.ndarray, pix_fmt: str, colour: ColourTags, alpha: np.ndarray | None = None,
                 threads: int = 0) -> av.VideoFrame:
    """An ``av.VideoFrame`` in ``pix_fmt`` from RGB (+ alpha), ready for ``stream.encode``.

    uint8 RGB goes by rgb24 (the 8-bit path, unchanged); float32 RGB goes by
    16-bit rgb48le, so a 10- or 12-bit output gets every bit the float holds;
    float pixel formats (gbrpf32le) take the floats directly.
    ``alpha`` is used only if ``pix_fmt`` has an alpha plane; an alpha output given
    no alpha is written opaque.
    """
    keep_alpha = has_alpha(pix_fmt)
    if is_float(pix_fmt):
        # Float output (EXR): hand the floats over as they are; swscale's 16-bit -> float
        # conversion is off by up to 5e-4.
        f = rgb.astype(np.float32) / 255 if rgb.dtype == np.uint8 else rgb.astype(np.float32, copy=False)
        if keep_alpha:
            a = np.ones(rgb.shape[:2], np.float32) if alpha is None else (
                alpha.astype(np.float32) / 255 if alpha.dtype == np.uint8 else alpha.astype(np.float32, copy=False))
            f = np.dstack([f, a])
        return av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format=pix_fmt)
    if rgb.dtype == np.uint8:
        if keep_alpha:
            a = np.full(rgb.shape[:2], 255, np.uint8) if alpha is None else (
                alpha if alpha.dtype == np.uint8 else (np.clip(alpha, 0, 1) * 255 + 0.5).astype(np.uint8))
            src = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.dstack([rgb, a])), format="rgba")
        else:
            src = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    else:
        if keep_alpha:
            a = np.ones(rgb.shape[:2], np.float32) if alpha is None else (
                alpha.astype(np.float32) / 255 if alpha.dtype == np.uint8 else alpha)
            src = av.VideoFrame.from_ndarray(_to_u16(np.dstack([rgb, a])), format="rgba64le")
        else:
            src = av.VideoFrame.from_ndarray(_to_u16(rgb), format="rgb48le")
    if pix_fmt.startswith("gbr"):
        return src.reformat(format=pix_fmt, threads=threads)
    return src.reformat(format=pix_fmt, dst_colorspace=colour.matrix, dst_color_range=colour.swscale_range,
                        threads=threads)
