"""Synthetic deep (> 8-bit) pictures and helpers shared by the issue #13 I/O tests."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from synth import picture


def deep_picture(i: int, width: int, height: int) -> np.ndarray:
    """float32 RGB (height, width, 3) in [0, 1]: smooth ramps finer than 8 bits, shifting with ``i``.

    The ramps span a small range, so an 8-bit path would band them (few distinct
    levels) where a 10-bit path keeps four times as many.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = 0.30 + 0.20 * x / max(1, width - 1) + 0.01 * i
    g = 0.40 + 0.15 * y / max(1, height - 1)
    b = 0.50 + 0.10 * (x + y) / max(1, width + height - 2)
    return np.clip(np.stack([r, g, b], -1), 0, 1).astype(np.float32)


def alpha_picture(width: int, height: int) -> np.ndarray:
    """float32 alpha (height, width) in [0, 1]: a horizontal ramp, opaque on the right."""
    x = np.arange(width, dtype=np.float32) / max(1, width - 1)
    return np.ascontiguousarray(np.broadcast_to(x, (height, width)))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of float images in [0, 1]."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def decoded(path: Path) -> tuple[dict[str, object], list[av.VideoFrame]]:
    """(codec, profile, pix_fmt, time_base, start of the first video stream; its frames), by plain PyAV."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        facts = {"codec": v.codec_context.name, "profile": v.codec_context.profile, "pix_fmt": v.codec_context.pix_fmt,
                 "time_base": v.time_base, "start": v.start_time}
    return facts, frames


def write_tagged_clip(path: Path, frames: int, rate: Fraction, *, size: tuple[int, int] = (32, 24),
                      codec: str = "ffv1", pix_fmt: str = "yuv444p", timecode: str | None = None,
                      container_metadata: dict[str, str] | None = None) -> Path:
    """A constant-rate clip with a timecode on its video stream (mov: a tmcd track) or in its format metadata."""
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=rate)
        v.width, v.height, v.pix_fmt = size[0], size[1], pix_fmt
        v.time_base = v.codec_context.time_base = 1 / rate
        if timecode:
            v.metadata["timecode"] = timecode
        for k, val in (container_metadata or {}).items():
            out.metadata[k] = val
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(picture(i, *size), format="rgb24").reformat(format=pix_fmt)
            f.pts = i
            out.mux(v.encode(f))
        out.mux(v.encode(None))
    return path
