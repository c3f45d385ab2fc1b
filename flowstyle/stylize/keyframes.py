"""Style keyframes: ``--style-at 0s=7 --style-at 4s=starry_night.jpg --style-at 9s=3:0.5,17:0.5``: their
options, times and interpolation (docs/regions.md, "Style keyframes").

Keys are resolved with the rest of the style into one
:class:`~flowstyle.stylize.track.StyleTrack` (:func:`flowstyle.stylize.resolve.resolve_track`).
Between two keys the style itself is interpolated, not the output pixels: mixing
two stylized pictures that do not line up averages two textures into mush (the
trap measured for temporal blends; docs/architecture.md, "Algorithms"). The feed-forward networks
have a style space to move in instead:

* multi-style network: a style IS its conditional instance norm rows (Dumoulin et
  al. 2017), and a blend is a weight vector over the rows, so the network gets the
  interpolated weight vector (half way from style 7 to style 3: 50/50);
* arbitrary network: a painting is a 100-d style vector (Ghiasi et al. 2017), and
  the norm parameters are linear in it, so the network gets the interpolated vector.

Only between a built-in key and a painting key, which drive two different
networks with no shared style space, are the two outputs mixed.

Times are what ``--in``/``--out`` accept, read by the project's one position
parser, :func:`flowstyle.io.timecode.parse_position`: seconds (``4s``, ``2.5s``,
rounded to the nearest frame), frame numbers (``100``) or timecode
(``01:00:04:12``, counted from the clip's own start timecode like ``--in``;
``;`` for drop-frame at 29.97/59.94). Between keys the weight moves linearly or with a
smoothstep (``3u^2 - 2u^3``: no jump in speed at the keys); before the first key
and after the last the style holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from torch import Tensor

from ..errors import ConfigError, InputError, StyleError
from ..io.timecode import Timecode, parse_position

# smooth (smoothstep, the default) arrives at each key with zero speed: measured on chaplin.mp4
# (udnie.jpg at 1 s -> starry_night.jpg at 3 s), the Gram loss at the 3 s key against a render of
# that painting alone is 1.03x with smooth and 1.21x with linear, whose steady rate of change the
# temporal step's memory (still pixels keep 0.95 of the past) trails by a few frames (docs/regions.md).
INTERPOLATIONS = ("smooth", "linear")


def parse_time(text: str, rate: Fraction | float | None, start: Timecode | None = None, field: str = "style_at") -> float:
    """Seconds from the clip start for ``4s``, ``100`` (a frame number) or a timecode (from the clip's ``start``).

    Raises:
        ConfigError: ``field`` and the problem: text that is no position, or no frame rate to count frames with.
    """
    if not rate:
        raise ConfigError(field, f"time '{text}': the clip's frame rate is unknown, so keys cannot be placed")
    rate = Fraction(rate).limit_denominator(1_000_000)
    try:
        return parse_position(text.strip(), rate, start, what=field) / rate
    except InputError as exc:  # parse_position names its `what`; configs name fields
        raise ConfigError(field, exc.problem) from None


@dataclass(frozen=True)
class Key:
    """One keyframe: at ``time`` seconds from the clip start, ``value`` (a style spec or a strength)."""

    time: float
    value: str


def parse_keys(items: tuple[str, ...] | list[str], rate: Fraction | float | None, duration: float | None,
               field: str = "style_at", start: Timecode | None = None) -> tuple[Key, ...]:
    """Parse ``TIME=VALUE`` items given in time order and inside the clip (``start``: its first frame's timecode).

    Raises:
        ConfigError: ``field`` and a malformed item, keys out of order, or a key past the clip's end.
    """
    keys: list[Key] = []
    for item in items:
        when, sep, value = item.partition("=")
        if not sep or not value.strip():
            raise ConfigError(field, f"'{item}': expected TIME=VALUE, e.g. 4s=7")
        key = Key(float(parse_time(when, rate, start, field)), value.strip())
        if keys and key.time <= keys[-1].time:
            raise ConfigError(field, f"'{item}': keys out of order ({key.time:g} s after {keys[-1].time:g} s); "
                                     f"give them in increasing time")
        if duration is not None and key.time > duration + 1e-6:
            raise ConfigError(field, f"'{item}': {key.time:g} s is outside the clip ({duration:g} s long)")
        keys.append(key)
    return tuple(keys)


def ease(u: float, interpolation: str = "linear") -> float:
    """``u`` in [0, 1] mapped by the interpolation: linear, or smoothstep ``3u^2 - 2u^3``."""
    u = min(1.0, max(0.0, u))
    if interpolation == "smooth":
        return u * u * (3.0 - 2.0 * u)
    if interpolation != "linear":
        raise StyleError(f"unknown interpolation '{interpolation}'; use {' or '.join(INTERPOLATIONS)}")
    return u


def key_weights(times: tuple[float, ...] | list[float], t: float, interpolation: str = "linear") -> list[tuple[int, float]]:
    """Which keys are active at ``t`` and how much: one ``(i, 1.0)`` at or outside the keys, else two summing to 1."""
    if not times:
        raise StyleError("no keys")
    if t <= times[0]:
        return [(0, 1.0)]
    if t >= times[-1]:
        return [(len(times) - 1, 1.0)]
    i = next(k for k in range(len(times) - 1) if times[k] <= t < times[k + 1])
    u = ease((t - times[i]) / (times[i + 1] - times[i]), interpolation)
    return [(i, 1.0 - u), (i + 1, u)] if u > 0.0 else [(i, 1.0)]


def interpolate(values: list[Tensor] | list[float], times: list[float], t: float, interpolation: str = "linear"):
    """The keyed ``values`` (tensors or numbers) interpolated at ``t``."""
    return sum(w * values[i] for i, w in key_weights(times, t, interpolation))


def strength_values(keys: tuple[Key, ...]) -> list[float]:
    """The strength keys' values, checked: numbers between 0 and 1."""
    values = []
    for k in keys:
        try:
            v = float(k.value)
        except ValueError:
            raise ConfigError("strength_at", f"{k.time:g}s={k.value}: the strength must be a number") from None
        if not 0.0 <= v <= 1.0:
            raise ConfigError("strength_at", f"{k.time:g}s={k.value}: the strength must be between 0 and 1")
        values.append(v)
    return values


def strength_at(values: list[float], times: list[float], t: float, interpolation: str = "linear",
                default: float = 1.0) -> float:
    """The strength at ``t`` between keyed ``values`` (:func:`strength_values`) at ``times``; ``default`` without keys."""
    if not values:
        return default
    return float(interpolate(values, times, t, interpolation))


@dataclass(frozen=True)
class KeyframeOptions:
    """Keyed styles and strengths (unparsed: times become seconds when the clip's rate is known).

    Attributes:
        style_at: ``TIME=STYLE`` items, e.g. ``("0s=7", "4s=starry_night.jpg")``.
        strength_at: ``TIME=STRENGTH`` items, e.g. ``("0s=1", "2s=0.3")``.
        interpolation: ``smooth`` (ease in and out; the default) or ``linear``.
    """

    style_at: tuple[str, ...] = ()
    strength_at: tuple[str, ...] = ()
    interpolation: str = "smooth"

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ConfigError("interpolation", f"unknown interpolation '{self.interpolation}'; "
                                               f"use {' or '.join(INTERPOLATIONS)}")

    @property
    def active(self) -> bool:
        return bool(self.style_at or self.strength_at)
