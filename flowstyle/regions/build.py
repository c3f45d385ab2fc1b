"""Build the :class:`~flowstyle.stylize.base.Stylizer` a render uses when regions or style keyframes are asked
for (issue #16).

``render()`` calls :func:`make_render_stylizer` where it builds its stylizer, once
the source is open: keys need its frame rate, duration, start time and timecode,
and a matte its size and length. The result goes to :func:`flowstyle.pipeline.run`
like any stylizer: keys make a :class:`~flowstyle.stylize.keyframes.KeyframedStylizer`,
regions a :class:`~flowstyle.regions.composite.RegionStylizer` around one stylizer
per region.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import torch

from ..io.timecode import Timecode
from ..stylize.base import NetworkStylizer, Stylizer
from ..stylize.feedforward import make_stylizer
from ..stylize.keyframes import KeyframeOptions, make_keyframed_stylizer
from ..stylize.options import StyleOptions
from .composite import INPUT_ALPHA, ORIGINAL, RegionOptions, RegionStylizer, alpha_masks, matte_masks, person_masks
from .matte import MatteReader
from .segment import PersonSegmenter


def region_style(spec: str | None, default: Stylizer, base: StyleOptions, device: torch.device,
                 dtype: torch.dtype) -> Stylizer | None:
    """The stylizer of one region: ``default`` when unset, None (the original) for ``none``."""
    if spec is None:
        return default
    if spec.strip().lower() == ORIGINAL:
        return None
    return NetworkStylizer(make_stylizer(dataclasses.replace(base, style=spec), device, dtype), device)


def make_render_stylizer(style: StyleOptions, regions: RegionOptions, keys: KeyframeOptions, device: torch.device,
                         dtype: torch.dtype, size: tuple[int, int], rate: Fraction | float | None,
                         duration: float | None, frames: int | None = None, *, start_time: float = 0.0,
                         timecode: str | None = None, input_name: str = "input") -> Stylizer:
    """The stylizer for ``style`` with optional keyframes (the ``--style`` track) and regions.

    Args:
        size: (width, height) of the frames the stylizer will see.
        rate, duration: the clip's nominal frame rate and length (keys are checked against them).
        frames: the clip's frame count when known (a matte of another length is refused up front).
        start_time: the clip's first presentation time (keys count from it).
        timecode: the clip's start timecode (keys given as timecode count from it, like ``--in``).
        input_name: the input's path, named by the error when ``--matte alpha`` meets an input without alpha.
    """
    base: Stylizer
    if keys.active:
        start_tc = Timecode.from_string(timecode, Fraction(rate).limit_denominator(1_000_000)) if timecode and rate else None
        base = make_keyframed_stylizer(keys, style, device, dtype, rate, duration, start_time, start_tc)
    else:
        base = NetworkStylizer(make_stylizer(style, device, dtype), device)
    if not regions.active:
        return base
    if regions.matte:
        inside = region_style(regions.matte_style, base, style, device, dtype)
        if regions.matte.strip().lower() == INPUT_ALPHA:
            return RegionStylizer(inside, base, alpha_masks(input_name, regions.feather))
        reader = MatteReader(regions.matte, size, frames, regions.matte_fit)
        return RegionStylizer(inside, base, matte_masks(reader, regions.feather))
    inside = region_style(regions.person, base, style, device, dtype)
    outside = region_style(regions.background, base, style, device, dtype)
    return RegionStylizer(inside, outside, person_masks(PersonSegmenter(device), regions.feather, regions.carry))
