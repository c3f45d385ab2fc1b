"""Colour metadata carried from the input to the output.

Colours shift when YUV is decoded with one matrix and re-encoded or displayed
with another. We decode with the input's matrix and range, encode with the same
ones, and tag the output with the input's matrix, range, primaries and transfer.
Untagged input gets what players assume for untagged video (BT.709 from 720
lines up, BT.601 below), and the output is tagged explicitly with that choice
so no player has to guess again.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
from av.video.reformatter import ColorRange, Colorspace

# AVColorSpace values (libavutil/pixfmt.h) -> swscale matrices PyAV exposes.
_MATRIX = {1: Colorspace.ITU709, 4: Colorspace.FCC, 5: Colorspace.ITU601, 6: Colorspace.ITU601,
           7: Colorspace.SMPTE240M, 9: Colorspace.BT2020, 10: Colorspace.BT2020}
UNSPECIFIED = 2
BT709, SMPTE170M = 1, 6
RANGE_MPEG, RANGE_JPEG = 1, 2


@dataclass(frozen=True)
class ColourTags:
    """AVColorSpace / AVColorRange / AVColorPrimaries / AVColorTransferCharacteristic values."""

    colorspace: int
    color_range: int
    color_primaries: int
    color_trc: int

    @property
    def matrix(self) -> Colorspace:
        return _MATRIX.get(self.colorspace, Colorspace.ITU709)

    @property
    def swscale_range(self) -> ColorRange:
        return ColorRange.JPEG if self.color_range == RANGE_JPEG else ColorRange.MPEG


def _int(value: object) -> int:
    return int(getattr(value, "value", value) or 0)


def tags_from_frame(frame: av.VideoFrame, height: int) -> ColourTags:
    """The colour tags to decode ``frame`` with and to write on the output.

    ``height`` is the coded height, used only to pick the matrix players assume
    for untagged video.
    """
    default = BT709 if height >= 720 else SMPTE170M
    fmt = frame.format.name
    is_rgb = fmt.startswith(("rgb", "bgr", "gbr", "argb", "abgr", "0rgb", "0bgr", "pal8"))
    cs = _int(frame.colorspace)
    if is_rgb or cs not in _MATRIX:
        cs = default
    rng = _int(frame.color_range)
    if fmt.startswith("yuvj"):  # deprecated full-range formats carry no range tag
        rng = RANGE_JPEG
    if is_rgb or rng not in (RANGE_MPEG, RANGE_JPEG):
        rng = RANGE_MPEG
    prim = _int(frame.color_primaries)
    trc = _int(frame.color_trc)
    family = BT709 if cs == BT709 else (SMPTE170M if cs in (5, 6) else UNSPECIFIED)
    if prim in (0, UNSPECIFIED):
        prim = family if family != SMPTE170M else 6
    if trc in (0, UNSPECIFIED):
        trc = family
    return ColourTags(colorspace=cs, color_range=rng, color_primaries=prim, color_trc=trc)
