"""Build the :class:`~flowstyle.stylize.base.Stylizer` a render uses when regions or style keyframes are asked
for (issue #16).

``render()`` calls :func:`make_render_stylizer` where it builds its stylizer, once
the source is open: keys need its frame rate, duration, start time and timecode,
and a matte its size and length. The result goes to :func:`flowstyle.pipeline.run`
like any stylizer: keys make a :class:`~flowstyle.stylize.keyframes.KeyframedStylizer`,
regions a :class:`~flowstyle.regions.composite.RegionStylizer` around one stylizer
per region, a keyed one for a region with its own keys (``--region-at``).
:func:`check_keys` places every key on a clip without building anything (the
studio refuses bad keys when a job is submitted, not when it runs).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import torch

from ..errors import ConfigError
from ..io.source import FrameSource
from ..io.timecode import Timecode
from ..stylize.base import NetworkStylizer, Stylizer
from ..stylize.feedforward import make_stylizer
from ..stylize.keyframes import (Key, KeyframedStylizer, KeyframeOptions, make_keyframed_stylizer, parse_keys,
                                 strength_values)
from ..stylize.options import StyleOptions
from .composite import (INPUT_ALPHA, MATTE_REGION, ORIGINAL, RegionOptions, RegionStylizer, alpha_masks, matte_masks,
                        person_masks)
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


def clip_timecode(timecode: Timecode | str | None, rate: Fraction | float | None) -> Timecode | None:
    """The clip's start timecode, which keys given as timecode count from (like ``--in``): ``render()`` passes the
    source's :class:`Timecode`, the studio a probe's text."""
    if isinstance(timecode, Timecode):
        return timecode
    return Timecode.from_string(timecode, Fraction(rate).limit_denominator(1_000_000)) if timecode and rate else None


def place_region_keys(regions: RegionOptions, rate: Fraction | float | None, duration: float | None,
                      start: Timecode | None = None) -> dict[str, tuple[Key, ...]]:
    """Each keyed region's keys in seconds, checked against the clip (in order, inside it).

    Raises:
        ConfigError: (field ``region_at``) naming the region and the bad key.
    """
    placed = {}
    for name, items in regions.region_keys.items():
        try:
            placed[name] = parse_keys(items, rate, duration, "region_at", start)
        except ConfigError as exc:
            raise ConfigError(exc.field, f"{name}: {exc.problem}") from None
    return placed


def check_keys(regions: RegionOptions, keys: KeyframeOptions, rate: Fraction | float | None, duration: float | None,
               timecode: Timecode | str | None = None) -> None:
    """Refuse, with the field's ConfigError, any key (``--style-at``, ``--strength-at``, ``--region-at``) that a
    render of a clip of this ``rate``, ``duration`` and start ``timecode`` would refuse; builds nothing."""
    start = clip_timecode(timecode, rate)
    parse_keys(keys.style_at, rate, duration, "style_at", start)
    strength_values(parse_keys(keys.strength_at, rate, duration, "strength_at", start))  # the values: 0 to 1
    place_region_keys(regions, rate, duration, start)


def make_clip_stylizer(style: StyleOptions, regions: RegionOptions, keys: KeyframeOptions, device: torch.device,
                       dtype: torch.dtype, source: FrameSource, input_name: str) -> Stylizer:
    """:func:`make_render_stylizer` for the open clip ``source``: its frame size, rate, length, first
    presentation time and start timecode (the render's and the studio preview's one way to build it)."""
    return make_render_stylizer(style, regions, keys, device, dtype, source.size, source.frame_rate, source.duration,
                                source.frame_count or None, start_time=source.start_time, timecode=source.timecode,
                                input_name=input_name)


def make_render_stylizer(style: StyleOptions, regions: RegionOptions, keys: KeyframeOptions, device: torch.device,
                         dtype: torch.dtype, size: tuple[int, int], rate: Fraction | float | None,
                         duration: float | None, frames: int | None = None, *, start_time: float = 0.0,
                         timecode: Timecode | str | None = None, input_name: str = "input") -> Stylizer:
    """The stylizer for ``style`` with optional keyframes (the ``--style`` track) and regions.

    Args:
        size: (width, height) of the frames the stylizer will see.
        rate, duration: the clip's nominal frame rate and length (keys are checked against them).
        frames: the clip's frame count when known (a matte of another length is refused up front).
        start_time: the clip's first presentation time (keys count from it).
        timecode: the clip's start timecode (keys given as timecode count from it, like ``--in``).
        input_name: the input's path, named by the error when ``--matte alpha`` meets an input without alpha.
    """
    start_tc = clip_timecode(timecode, rate)
    keyed = place_region_keys(regions, rate, duration, start_tc)  # before any weights load: a bad key is one line now
    base: Stylizer
    if keys.active:
        base = make_keyframed_stylizer(keys, style, device, dtype, rate, duration, start_time, start_tc)
    else:
        base = NetworkStylizer(make_stylizer(style, device, dtype), device)
    if not regions.active:
        return base

    def region(name: str, spec: str | None) -> Stylizer | None:
        if name in keyed:  # issue #16: the region's own keys; the strength and --key-interpolation are the render's
            return KeyframedStylizer(keyed[name], (), style, device, dtype, keys.interpolation, start_time)
        return region_style(spec, base, style, device, dtype)

    if regions.matte:
        inside = region(MATTE_REGION, regions.matte_style)
        if regions.matte.strip().lower() == INPUT_ALPHA:
            return RegionStylizer(inside, base, alpha_masks(input_name, regions.feather))
        reader = MatteReader(regions.matte, size, frames, regions.matte_fit)
        return RegionStylizer(inside, base, matte_masks(reader, regions.feather))
    inside, outside = region("person", regions.person), region("background", regions.background)
    return RegionStylizer(inside, outside, person_masks(PersonSegmenter(device), regions.feather, regions.carry))
