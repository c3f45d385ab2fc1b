"""Build the stylizer a render uses when regions or style keyframes are asked for (issue #16).

One function for the render loop (and the CLI, the API, a studio page) to call once
the input is open, since keys need its frame rate and duration and mattes its size
and length. The result is called ``stylizer(frames, t)`` with ``t`` the frame's time
in seconds from the clip start.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import torch

from ..stylize.feedforward import StyleOptions, make_stylizer
from ..stylize.keyframes import KeyframeOptions, make_keyframed_stylizer
from .composite import ORIGINAL, RegionOptions, RegionStylizer, Stylize, matte_masks, person_masks
from .matte import MatteReader
from .segment import PersonSegmenter


def region_style(spec: str | None, default: Stylize, base: StyleOptions, device: torch.device,
                 dtype: torch.dtype) -> Stylize | None:
    """The stylizer of one region: ``default`` when unset, None (the original) for ``none``."""
    if spec is None:
        return default
    if spec.strip().lower() == ORIGINAL:
        return None
    return make_stylizer(dataclasses.replace(base, style=spec), device, dtype)


def make_render_stylizer(style: StyleOptions, regions: RegionOptions, keys: KeyframeOptions, device: torch.device,
                         dtype: torch.dtype, size: tuple[int, int], rate: Fraction | float | None,
                         duration: float | None, frames: int | None = None) -> Stylize:
    """The stylizer for ``style`` with optional keyframes (the ``--style`` track) and regions.

    Args:
        size: (width, height) of the frames the stylizer will see.
        rate, duration: the clip's nominal frame rate and length (keys are checked against them).
        frames: the clip's frame count when known (a matte of another length is refused up front).
    """
    base: Stylize
    if keys.active:
        base = make_keyframed_stylizer(keys, style, device, dtype, rate, duration)
    else:
        plain = make_stylizer(style, device, dtype)
        base = lambda x, t=None: plain(x)  # noqa: E731 - the (frames, t) call shape
    if not regions.active:
        return base
    if regions.matte:
        reader = MatteReader(regions.matte, size, frames, regions.matte_fit)
        inside = region_style(regions.matte_style, base, style, device, dtype)
        return RegionStylizer(inside, base, matte_masks(reader, regions.feather))
    inside = region_style(regions.person, base, style, device, dtype)
    outside = region_style(regions.background, base, style, device, dtype)
    return RegionStylizer(inside, outside, person_masks(PersonSegmenter(device), regions.feather, regions.carry))
