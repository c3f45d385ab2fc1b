"""Synthetic clips made in-process with PyAV, with known timing and content.

Each clip's frame i shows a smooth colour gradient with a bright square that
moves with i, so frames differ and a stylizer has structure to work on.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def picture(i: int, width: int, height: int) -> np.ndarray:
    """uint8 RGB (height, width, 3): gradient background plus a square at a position set by ``i``."""
    y, x = np.mgrid[0:height, 0:width]
    img = np.stack([x * 255 // max(1, width - 1), y * 255 // max(1, height - 1), np.full_like(x, 96)], -1).astype(np.uint8)
    s = max(4, min(width, height) // 4)
    x0 = (i * 3) % max(1, width - s)
    y0 = (i * 2) % max(1, height - s)
    img[y0:y0 + s, x0:x0 + s] = (250, 240, 30)
    return img


def write_clip(path: Path, pts: Sequence[int], time_base: Fraction, *, size: tuple[int, int] = (64, 48),
               rate: Fraction | None = None, codec: str = "libx264", pix_fmt: str = "yuv420p",
               audio_seconds: float | None = None, audio_rate: int = 48000, audio_codec: str = "aac",
               rotation: int = 0, frames: Sequence[np.ndarray] | None = None,
               options: dict[str, str] | None = None, colour: tuple[int, int, int, int] | None = None) -> Path:
    """Encode frames shown at ``pts`` (in ``time_base``) to ``path``; optional sine-wave audio.

    ``colour`` = (colorspace, range, primaries, trc) AVCOL_* values tags the stream.
    ``frames`` (stored orientation) default to :func:`picture`. ``rotation`` sets the
    display matrix (counter-clockwise degrees, as ``VideoFrame.rotation`` reads back).
    """
    width, height = size
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=rate or Fraction(25))
        v.width, v.height, v.pix_fmt = width, height, pix_fmt
        v.time_base = time_base
        v.codec_context.time_base = time_base
        if options:
            v.options = options
        if rotation:
            v.set_display_rotation(rotation)
        if colour:
            cc = v.codec_context
            cc.colorspace, cc.color_range, cc.color_primaries, cc.color_trc = colour
        a = None
        if audio_seconds:
            a = out.add_stream(audio_codec, rate=audio_rate, layout="stereo")
        for i, p in enumerate(pts):
            img = frames[i] if frames is not None else picture(i, width, height)
            f = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=pix_fmt)
            f.pts, f.time_base = p, time_base
            out.mux(v.encode(f))
        out.mux(v.encode(None))
        if a is not None:
            fmt = "fltp" if audio_codec == "aac" else a.codec_context.format.name
            n, block = int(audio_seconds * audio_rate), 1024
            for start in range(0, n, block):
                t = (np.arange(start, min(n, start + block)) / audio_rate).astype(np.float32)
                tone = 0.3 * np.sin(2 * np.pi * 440 * t)
                data = np.stack([tone, tone])
                if fmt.startswith("s16"):
                    data = (data * 32767).astype(np.int16)
                af = av.AudioFrame.from_ndarray(data if fmt.endswith("p") else data.T.reshape(1, -1).copy(),
                                                format=fmt, layout="stereo")
                af.sample_rate, af.pts, af.time_base = audio_rate, start, Fraction(1, audio_rate)
                out.mux(a.encode(af))
            out.mux(a.encode(None))
    return path


def video_pts_seconds(path: Path) -> list[float]:
    """Presentation times (s) of every decoded video frame of ``path``."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return [float(f.pts * f.time_base) for f in c.decode(s)]


def audio_duration(path: Path) -> float:
    """Seconds of decoded audio in the first audio stream (samples / rate)."""
    with av.open(str(path)) as c:
        s = c.streams.audio[0]
        samples = sum(f.samples for f in c.decode(s))
        return samples / s.codec_context.sample_rate
