"""The page's form -> the library's frozen configs (the one place the studio speaks config).

Choices the page offers come from the lists here and from the library, so a new
codec, precision or temporal mode shows up by extending one list (issue #15:
"codec choices come from one list"; the codec/sequence branches add theirs here).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigError, StyleError
from ..gatys.options import GatysOptions
from ..gatys.stylizer import GatysConfig
from ..io.reader import SizePolicy
from ..io.writer import PRESETS, EncodeOptions
from ..render import RenderConfig
from ..stylize.options import StyleOptions
from ..temporal import TEMPORAL_MODES, TemporalOptions

METHODS = ("feedforward", "gatys")
# Outputs the page offers: (choice, label); a choice is EXT[:CODEC[:PROFILE]] (io/codecs.py's
# names, issue #13's editing codecs), audio copied in each.
OUTPUTS = ((".mp4", "MP4 (H.264)"), (".mkv", "Matroska (H.264)"), (".mov", "QuickTime (H.264)"),
           (".mov:prores:hq", "QuickTime (ProRes 422 HQ, 10-bit)"), (".mov:prores:4444", "QuickTime (ProRes 4444)"),
           (".mov:dnxhr:dnxhr_hq", "QuickTime (DNxHR HQ)"), (".mkv:ffv1", "Matroska (FFV1, lossless)"))
UPLOAD_PREFIX = "upload:"  # a style token naming an uploaded painting by its id


def choices() -> dict[str, Any]:
    """Everything the page's selects list, in one answer."""
    return {"temporal": list(TEMPORAL_MODES), "methods": list(METHODS), "outputs": [list(o) for o in OUTPUTS],
            "presets": list(PRESETS)}


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
                        preserve_colour=bool(form.get("preserve_colour", False)))


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


def job_config(form: Mapping[str, Any], painting: Callable[[str], str | None]) -> RenderConfig | GatysConfig:
    """The render a job runs: feed-forward (:class:`RenderConfig`) or Gatys (:class:`GatysConfig`)."""
    method = str(form.get("method", "feedforward"))
    _, codec, profile = output_choice(form)
    encode = EncodeOptions(crf=int(form.get("crf", 18)), preset=str(form.get("preset", "veryfast")), codec=codec,
                           profile=profile)
    if method == "gatys":
        style = resolve_style(str(form.get("style", "")), painting)
        gatys = GatysOptions(style=style, **({"iterations": int(form["iterations"])} if form.get("iterations") else {}))
        return GatysConfig(gatys=gatys, encode=encode, size=size_policy(form))
    if method != "feedforward":
        raise ConfigError("method", f"unknown method '{method}'; use feedforward or gatys")
    return RenderConfig(style=style_options(form, painting), encode=encode, size=size_policy(form),
                        temporal=TemporalOptions(mode=str(form.get("temporal", "flow"))))
