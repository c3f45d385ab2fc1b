"""The page's form -> the library's frozen configs (the one place the studio speaks config).

Choices the page offers come from the lists here and from the library, so a new
codec, precision or temporal mode shows up by extending one list (the codec/sequence branches add theirs here).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from fractions import Fraction
from typing import Any

from ..errors import ConfigError, StyleError
from ..gatys.options import GatysOptions
from ..gatys.stylizer import GatysConfig
from ..io.media import RangeOptions, SpanError, place_span
from ..io.probe import MediaInfo
from ..io.reader import SizePolicy
from ..io.writer import PRESETS, EncodeOptions
from ..keyed.options import PaintedKeyOptions
from ..regions.build import check_keys
from ..regions.composite import INPUT_ALPHA, MATTE_REGION, REGION_NAMES, RegionOptions, region_options
from ..render import RenderConfig
from ..stylize.keyframes import INTERPOLATIONS, KeyframeOptions
from ..stylize.options import StyleOptions
from ..registry import has_weights
from ..stylize.track import ORIGINAL, STABLE
from ..temporal import TEMPORAL_MODES, TemporalOptions

METHODS = ("feedforward", "gatys")
# Outputs the page offers: (choice, label); a choice is EXT[:CODEC[:PROFILE]] (io/codecs.py's
# names, the editing codecs), audio copied in each.
OUTPUTS = ((".mp4", "MP4 (H.264)"), (".mkv", "Matroska (H.264)"), (".mov", "QuickTime (H.264)"),
           (".mov:prores:hq", "QuickTime (ProRes 422 HQ, 10-bit)"), (".mov:prores:4444", "QuickTime (ProRes 4444)"),
           (".mov:dnxhr:dnxhr_hq", "QuickTime (DNxHR HQ)"), (".mkv:ffv1", "Matroska (FFV1, lossless)"))
UPLOAD_PREFIX = "upload:"  # a style token naming an uploaded painting by its id


def choices() -> dict[str, Any]:
    """Everything the page's selects list, in one answer."""
    return {"temporal": list(TEMPORAL_MODES), "methods": list(METHODS), "outputs": [list(o) for o in OUTPUTS],
            "presets": list(PRESETS), "keyed_regions": [*REGION_NAMES, MATTE_REGION],
            "interpolations": list(INTERPOLATIONS),
            # The stable weights are offered where this checkout has them (weights/manifest.toml).
            "networks": [ORIGINAL, *((STABLE,) if has_weights("multistyle26_stable") else ())]}


def resolve_style(spec: str, painting: Callable[[str], str | None]) -> str:
    """``upload:ID[:w],...`` -> the painting files' paths; built-in names and indices pass through.

    ``painting(id)`` gives the stored path of an uploaded picture, or None.
    """
    parts = []
    for part in str(spec).split(","):
        part = part.strip()
        if part.startswith(UPLOAD_PREFIX):
            uid, sep, weight = part[len(UPLOAD_PREFIX):].partition(":")
            path = painting(uid)
            if path is None:
                raise StyleError(f"no uploaded painting '{uid}'")
            part = path + sep + weight
        parts.append(part)
    return ",".join(parts)


def style_options(form: Mapping[str, Any], painting: Callable[[str], str | None]) -> StyleOptions:
    return StyleOptions(style=resolve_style(str(form.get("style", "blue-brush")), painting),
                        strength=float(form.get("strength", 1.0)),
                        preserve_colour=bool(form.get("preserve_colour", False)),
                        network=str(form.get("network") or ORIGINAL))


def number(form: Mapping[str, Any], name: str, default: float) -> float:
    """The form's number ``name`` (``default`` when empty); text that is no number names the field."""
    value = form.get(name)
    if value is None or str(value).strip() == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(name, f"expected a number, got '{value}'") from None


def rows(form: Mapping[str, Any], name: str, width: int) -> list[list[str]]:
    """The form's list ``name`` of rows of ``width`` texts (a key row: [TIME, STYLE]); rows left empty are dropped."""
    value = form.get(name) or []
    if not isinstance(value, list) or not all(isinstance(r, list) and len(r) == width for r in value):
        raise ConfigError(name, f"expected a list of rows of {width} values")
    return [[str(v).strip() for v in r] for r in value if any(str(v).strip() for v in r)]


def region_settings(form: Mapping[str, Any], painting: Callable[[str], str | None],
                    matte: Callable[[str], str | None]) -> RegionOptions:
    """The page's regions as the CLI's ``--region NAME=STYLE``, ``--region-at NAME@TIME=STYLE``, ``--feather``
    and ``--matte``/``--matte-style`` (docs/regions.md), through the CLI's own :func:`region_options`.

    ``person``/``background``: a style token (``upload:ID`` paintings too), ``none`` (as filmed), or empty (the
    style above); ``region_at``: rows [NAME, TIME, STYLE]; ``matte``: ``alpha`` or ``upload:ID`` of a video.
    """
    named = [f"{name}={resolve_style(str(form[name]), painting)}" for name in REGION_NAMES
             if str(form.get(name) or "").strip()]
    keyed = [f"{name}@{time}={resolve_style(style, painting)}" for name, time, style in rows(form, "region_at", 3)]
    matte_path = matte_source(str(form.get("matte") or "").strip(), matte)
    matte_style = str(form.get("matte_style") or "").strip()
    return region_options(named, matte_path, resolve_style(matte_style, painting) if matte_style else None,
                          number(form, "feather", 0.0), bool(form.get("matte_fit", False)), keyed)


def matte_source(token: str, matte: Callable[[str], str | None]) -> str | None:
    """``alpha`` (the clip's own alpha), ``upload:ID`` (an uploaded matte video: its stored path) or nothing."""
    if not token:
        return None
    if token == INPUT_ALPHA:
        return INPUT_ALPHA
    path = matte(token[len(UPLOAD_PREFIX):]) if token.startswith(UPLOAD_PREFIX) else None
    if path is None:
        raise ConfigError("matte", f"'{token}': choose an uploaded matte video or alpha")
    return path


def key_settings(form: Mapping[str, Any], painting: Callable[[str], str | None]) -> KeyframeOptions:
    """The page's key rows as the CLI's ``--style-at TIME=STYLE``, ``--strength-at TIME=STRENGTH`` and
    ``--key-interpolation``; the times are read when the clip is known (:func:`check_clip`)."""
    return KeyframeOptions(style_at=tuple(f"{t}={resolve_style(v, painting)}" for t, v in rows(form, "style_at", 2)),
                           strength_at=tuple(f"{t}={v}" for t, v in rows(form, "strength_at", 2)),
                           interpolation=str(form.get("key_interpolation") or "smooth"))


def painted_settings(form: Mapping[str, Any], painting: Callable[[str], str | None]) -> PaintedKeyOptions:
    """The page's painted keys as the CLI's ``--keyframe FRAME=FILE`` (rows [FRAME, upload:ID] of uploaded
    pictures, never a path the page names) and ``--keyframes-every``; with keys, ``paint_keyless`` lets the
    style above paint the shots that have none (docs/keyframes.md)."""
    keys = []
    for frame, token in rows(form, "painted_keys", 2):
        path = painting(token[len(UPLOAD_PREFIX):]) if token.startswith(UPLOAD_PREFIX) else None
        if path is None:
            raise ConfigError("keyframes", f"the key on frame {frame}: upload the painted picture first")
        keys.append(f"{frame}={path}")
    every = form.get("keyframes_every")
    return PaintedKeyOptions(keyframes=tuple(keys), every=int(every) if every not in (None, "") else None,
                             paint_keyless=bool(form.get("paint_keyless", False)))


def check_clip(config: RenderConfig | GatysConfig, info: MediaInfo) -> None:
    """Refuse keys that do not fit the clip (out of order, outside it, no position) when the job is submitted,
    so the page shows the one line at once rather than a failed job."""
    if isinstance(config, RenderConfig) and info.video:
        v = info.video[0]
        check_keys(config.regions, config.keys, v.average_rate, v.duration or info.duration, info.timecode)
    if info.video and info.video[0].average_rate:
        check_span(config.span, info.video[0].average_rate, info.video[0].frames, info)


def check_span(span: RangeOptions, rate: Fraction, frames: int, info: MediaInfo) -> None:
    """The in and out points placed in the clip when the job is submitted, by the render's own check
    (:func:`flowstyle.io.media.place_span`), but named by the page's field: the render's line names the
    stored file, which the page must not see."""
    try:
        place_span(span, rate, info.timecode, frames)
    except SpanError as exc:
        raise ConfigError(f"{exc.point}_point", str(exc)) from None


def size_policy(form: Mapping[str, Any]) -> SizePolicy:
    width = form.get("width")
    if width in (None, "", 0):
        return SizePolicy()
    width = int(width)
    if width < 2:
        raise ConfigError("width", f"must be at least 2 pixels, got {width}")
    return SizePolicy(width=width)


def output_choice(form: Mapping[str, Any]) -> tuple[str, str | None, str | None]:
    """(extension, codec, profile) of the page's output choice."""
    choice = str(form.get("output", ".mp4"))
    if choice not in dict(OUTPUTS):
        raise ConfigError("output", f"unknown output '{choice}'; use one of {', '.join(dict(OUTPUTS))}")
    suffix, codec, profile = (choice.split(":") + [None, None])[:3]
    return suffix, codec, profile


def output_suffix(form: Mapping[str, Any]) -> str:
    return output_choice(form)[0]


def gatys_keys(form: Mapping[str, Any], painting: Callable[[str], str | None]) -> PaintedKeyOptions:
    """A Gatys job's painted keys (the CLI's ``--method gatys --keyframe/--keyframes-every``): Gatys paints
    every key not given, as ``render_gatys(..., painted=)`` does; none for a feed-forward job (its keys
    are part of its :class:`RenderConfig`)."""
    if str(form.get("method", "feedforward")) != "gatys":
        return PaintedKeyOptions()
    painted = painted_settings(form, painting)
    return dataclasses.replace(painted, paint_keyless=True) if painted.active else painted


def span_settings(form: Mapping[str, Any]) -> RangeOptions:
    """The page's in and out points as the CLI's ``--in/--out`` (a frame number, ``2.5s`` or a timecode):
    a part of the clip, e.g. the frames between two painted keys to preview their propagation."""
    points = {k: str(form.get(k) or "").strip() or None for k in ("in_point", "out_point")}
    return RangeOptions(**points)


def job_config(form: Mapping[str, Any], painting: Callable[[str], str | None],
               matte: Callable[[str], str | None] = lambda uid: None) -> RenderConfig | GatysConfig:
    """The render a job runs: feed-forward (:class:`RenderConfig`) or Gatys (:class:`GatysConfig`).

    ``painting(id)``/``matte(id)``: the stored path of an uploaded picture / video, or None.
    """
    method = str(form.get("method", "feedforward"))
    _, codec, profile = output_choice(form)
    encode = EncodeOptions(crf=int(form.get("crf", 18)), preset=str(form.get("preset", "veryfast")), codec=codec,
                           profile=profile)
    regions, keys = region_settings(form, painting, matte), key_settings(form, painting)
    painted = painted_settings(form, painting)
    if method == "gatys":
        if regions.active or keys.active:  # as the CLI: Gatys has no regions or style keys (painted keys: gatys_keys)
            raise ConfigError("method", "regions, mattes and style keys work with method feedforward only")
        style = resolve_style(str(form.get("style", "")), painting)
        gatys = GatysOptions(style=style, **({"iterations": int(form["iterations"])} if form.get("iterations") else {}))
        return GatysConfig(gatys=gatys, encode=encode, size=size_policy(form), span=span_settings(form))
    if method != "feedforward":
        raise ConfigError("method", f"unknown method '{method}'; use feedforward or gatys")
    return RenderConfig(style=style_options(form, painting), encode=encode, size=size_policy(form),
                        temporal=TemporalOptions(mode=str(form.get("temporal", "flow"))), regions=regions, keys=keys,
                        painted=painted, span=span_settings(form))
