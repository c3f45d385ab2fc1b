"""Build the :class:`~flowstyle.stylize.base.Stylizer` of a render: its style track, and its regions.

``render()`` (and the studio's preview) call :func:`make_clip_stylizer` once the
source is open: keys need its frame rate, duration, start time and timecode, and
a matte its size and length. Every style of the render (``--style`` with its keys,
each region's style or its own keys) is resolved into a
:class:`~flowstyle.stylize.track.StyleTrack`, and all of them share one
:class:`~flowstyle.stylize.painter.Painter`, so the networks load (and calibrate,
for int8) once and every region paints with the same function as a plain render
(docs/architecture.md, "The style value"). Regions wrap one stylizer per region in
a :class:`~flowstyle.regions.composite.RegionStylizer`. :func:`check_keys` places
every key on a clip without building anything (the studio refuses bad keys when a
job is submitted, not when it runs).
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import torch

from ..errors import ConfigError
from ..io.source import FrameSource
from ..io.timecode import Timecode
from ..stylize.base import Stylizer
from ..stylize.keyframes import Key, KeyframeOptions, parse_keys, strength_values
from ..stylize.options import StyleOptions
from ..stylize.painter import make_stylizers
from ..stylize.resolve import resolve_track
from ..stylize.track import StyleTrack
from ..temporal import TemporalOptions
from ..temporal.settled import Settled
from .composite import (INPUT_ALPHA, MATTE_REGION, ORIGINAL, RegionOptions, RegionStylizer, alpha_masks, matte_masks,
                        person_masks)
from .matte import MatteReader
from .segment import PersonSegmenter

BASE = object()  # a region that shows make_render_stylizer's ``base``


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
                       dtype: torch.dtype, source: FrameSource, input_name: str, base: Stylizer | None = None,
                       region_step: TemporalOptions | None = None) -> Stylizer:
    """:func:`make_render_stylizer` for the open clip ``source``: its frame size, rate, length, first
    presentation time and start timecode (the render's and the studio preview's one way to build it)."""
    return make_render_stylizer(style, regions, keys, device, dtype, source.size, source.frame_rate, source.duration,
                                source.frame_count or None, start_time=source.start_time, timecode=source.timecode,
                                input_name=input_name, base=base, region_step=region_step)


def make_render_stylizer(style: StyleOptions, regions: RegionOptions, keys: KeyframeOptions, device: torch.device,
                         dtype: torch.dtype, size: tuple[int, int], rate: Fraction | float | None,
                         duration: float | None, frames: int | None = None, *, start_time: float = 0.0,
                         timecode: Timecode | str | None = None, input_name: str = "input",
                         base: Stylizer | None = None, region_step: TemporalOptions | None = None) -> Stylizer:
    """The stylizer for ``style`` with optional keyframes (the ``--style`` track) and regions.

    Args:
        size: (width, height) of the frames the stylizer will see.
        rate, duration: the clip's nominal frame rate and length (keys are checked against them).
        frames: the clip's frame count when known (a matte of another length is refused up front).
        start_time: the clip's first presentation time (keys count from it).
        timecode: the clip's start timecode (keys given as timecode count from it, like ``--in``).
        input_name: the input's path, named by the error when ``--matte alpha`` meets an input without alpha.
        base: what a region without a style of its own shows (and a matte's outside), in place of
            ``style``'s track: the pictures carried from painted keys (:class:`~flowstyle.keyed.source.Carried`).
        region_step: with ``base``, the temporal step each region's own network style gets on its own
            pictures before they are laid over ``base`` (:class:`~flowstyle.temporal.settled.Settled`: no
            step runs over the composite, whose carried pictures are steady already); None or mode
            ``none``: those regions are painted per frame.
    """
    start_tc = clip_timecode(timecode, rate)
    # Every key is placed before any weights load: a bad key is one line now.
    keyed = place_region_keys(regions, rate, duration, start_tc)
    track = resolve_track(style, parse_keys(keys.style_at, rate, duration, "style_at", start_tc),
                          parse_keys(keys.strength_at, rate, duration, "strength_at", start_tc), keys.interpolation)
    if not regions.active:
        return make_stylizers([track], device, dtype, start_time)[0]

    render_track: StyleTrack | object = track if base is None else BASE

    def region_track(name: str, spec: str | None) -> StyleTrack | object | None:
        """A region's track: its own keys (the render's strength and interpolation), its style, the render's
        track (or ``base``) when unset, None (the frame as filmed) for ``none``."""
        if name in keyed:
            return resolve_track(style, keyed[name], (), keys.interpolation)
        if spec is None:
            return render_track
        if spec.strip().lower() == ORIGINAL:
            return None
        return resolve_track(dataclasses.replace(style, style=spec))

    if regions.matte:
        inside_track, outside_track = region_track(MATTE_REGION, regions.matte_style), render_track
    else:
        inside_track, outside_track = region_track("person", regions.person), region_track("background", regions.background)
    used = [t for t in (inside_track, outside_track) if isinstance(t, StyleTrack)]
    made = make_stylizers(used, device, dtype, start_time) if used else []
    if base is not None and region_step is not None and region_step.mode != "none":
        made = [Settled(s, region_step) for s in made]
    stylizers: dict[int, Stylizer] = dict(zip(map(id, used), made))
    stylizers[id(BASE)] = base  # type: ignore[assignment]
    inside = stylizers[id(inside_track)] if inside_track is not None else None
    outside = stylizers[id(outside_track)] if outside_track is not None else None
    if regions.matte:
        if regions.matte.strip().lower() == INPUT_ALPHA:
            masks = alpha_masks(input_name, regions.feather)
        else:
            masks = matte_masks(MatteReader(regions.matte, size, frames, regions.matte_fit), regions.feather)
        # A matte with no style of its own over carried pictures: both sides show them (checked, not composited).
        return base if base is not None and inside is outside is base else RegionStylizer(inside, outside, masks)
    return RegionStylizer(inside, outside, person_masks(PersonSegmenter(device), regions.feather, regions.carry))
