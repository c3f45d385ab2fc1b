"""Style keyframes: times in seconds, frames and timecode; keys in order and inside the clip;
between two keys the networks get the interpolated style (weight vector / style vector), not mixed pixels."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import torch

from flowstyle.errors import ConfigError
from flowstyle.io.timecode import Timecode
from flowstyle.stylize.keyframes import Key, ease, key_weights, parse_keys, parse_time, strength_at, strength_values
from flowstyle.stylize.options import StyleOptions
from flowstyle.stylize.painter import TrackStylizer, make_stylizer, make_stylizers
from flowstyle.stylize.resolve import resolve_track
from flowstyle.stylize.styles import parse_style
from flowstyle.stylize.track import ARBITRARY, MULTISTYLE

RATE = Fraction(25)


@pytest.mark.parametrize("text, seconds", [
    ("0s", 0.0), ("4s", 4.0), ("2.4s", 2.4), ("100", 4.0), ("00:00:04:12", 4.48), ("00:01:00:00", 60.0),
])
def test_times_in_seconds_frames_and_timecode(text: str, seconds: float) -> None:
    """The one position parser of the project (io.timecode.parse_position, as --in/--out), in seconds."""
    assert float(parse_time(text, RATE)) == pytest.approx(seconds)


def test_timecode_counts_at_the_nominal_rate_and_from_the_clip_start() -> None:
    # 29.97 fps: frame 30 of timecode 00:00:01:00 is 30 frames in, i.e. 1.001 s.
    ntsc = Fraction(30000, 1001)
    assert float(parse_time("00:00:01:00", ntsc)) == pytest.approx(1.001)
    # Drop-frame: 00:01:00;02 is frame 1800 (labels ;00 and ;01 skipped).
    assert float(parse_time("00:01:00;02", ntsc)) == pytest.approx(1800 / float(ntsc))
    # A clip whose timecode starts at 01:00:00:00: keys in timecode count from there.
    assert float(parse_time("01:00:02:00", RATE, Timecode.from_string("01:00:00:00", RATE))) == pytest.approx(2.0)


@pytest.mark.parametrize("text, message", [
    ("4x", "is not a position"), ("00:00:01:25", "is not a timecode at 25"),
])
def test_bad_times_say_what_is_accepted(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        parse_time(text, RATE)
    assert err.value.field == "style_at"


def test_frame_numbers_need_a_rate() -> None:
    with pytest.raises(ConfigError, match="frame rate is unknown"):
        parse_time("100", None)


def test_keys_must_be_in_order_and_inside_the_clip() -> None:
    assert parse_keys(("0s=7", "4s=3:0.5,17:0.5"), RATE, 9.6) == (Key(0.0, "7"), Key(4.0, "3:0.5,17:0.5"))
    with pytest.raises(ConfigError, match="out of order"):
        parse_keys(("4s=7", "2s=3"), RATE, 9.6)
    with pytest.raises(ConfigError, match="outside the clip"):
        parse_keys(("0s=7", "12s=3"), RATE, 9.6)
    with pytest.raises(ConfigError, match="TIME=VALUE"):
        parse_keys(("4s",), RATE, 9.6)


def test_weights_between_keys_linear_and_smooth() -> None:
    times = [0.0, 4.0, 9.0]
    assert key_weights(times, -1.0) == [(0, 1.0)]
    assert key_weights(times, 2.0) == [(0, 0.5), (1, 0.5)]
    assert key_weights(times, 1.0) == [(0, 0.75), (1, 0.25)]
    assert key_weights(times, 1.0, "smooth") == [(0, pytest.approx(1 - 0.15625)), (1, pytest.approx(0.15625))]
    assert key_weights(times, 9.5) == [(2, 1.0)]
    assert ease(0.5, "smooth") == 0.5 and ease(0.0, "smooth") == 0.0 and ease(1.0, "smooth") == 1.0


def test_strength_keys() -> None:
    keys = (Key(0.0, "1"), Key(2.0, "0.3"))
    values, times = strength_values(keys), [0.0, 2.0]
    assert values == pytest.approx([1.0, 0.3])
    assert strength_at(values, times, 1.0) == pytest.approx(0.65)
    assert strength_at(values, times, 3.0) == pytest.approx(0.3)
    assert strength_at([], [], 1.0, default=0.8) == 0.8
    with pytest.raises(ConfigError, match="between 0 and 1"):
        strength_values((Key(0.0, "2"),))


@pytest.fixture(scope="module")
def cpu() -> torch.device:
    return torch.device("cpu")


def keyed(keys: tuple[Key, ...], cpu: torch.device, base: StyleOptions = StyleOptions(style="7"),
          interpolation: str = "smooth") -> TrackStylizer:
    return make_stylizers([resolve_track(base, keys, (), interpolation)], cpu, torch.float32)[0]


def test_midpoint_between_built_in_styles_is_the_50_50_weight_vector(cpu: torch.device) -> None:
    s = keyed((Key(0.0, "7"), Key(2.0, "3:0.5,17:0.5")), cpu)
    (c, share), = s.track.at(1.0).parts
    expected = 0.5 * parse_style("7") + 0.5 * parse_style("3:0.5,17:0.5")
    assert share == 1.0
    torch.testing.assert_close(c.value, expected)
    assert c.value[7] == pytest.approx(0.5) and c.value[3] == pytest.approx(0.25) and c.value[17] == pytest.approx(0.25)


def test_at_a_key_the_render_is_that_style_alone(cpu: torch.device, media: Path) -> None:
    from flowstyle.io.images import load_rgb

    rgb = load_rgb(media / "photos" / "chelsea.png")[:120, :160]
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255.0
    s = keyed((Key(0.0, "7"), Key(2.0, "3")), cpu)
    for t, style in ((0.0, "7"), (2.0, "3"), (5.0, "3")):
        torch.testing.assert_close(s(x, t), make_stylizer(StyleOptions(style=style), cpu, torch.float32)(x))
    # Half way, the network renders the 50/50 blend (not a pixel mix of the two renders).
    blend = make_stylizer(StyleOptions(style="7:0.5,3:0.5"), cpu, torch.float32)(x)
    torch.testing.assert_close(s(x, 1.0), blend)


def test_painting_keys_mix_the_style_vectors(cpu: torch.device, media: Path) -> None:
    starry, udnie = media / "styles" / "starry_night.jpg", media / "styles" / "udnie.jpg"
    keys = (Key(0.0, str(starry)), Key(4.0, str(udnie)))
    s = keyed(keys, cpu, StyleOptions(style=str(starry)), "linear")
    v0, v1 = (c.value for c in s.track.conditionings)
    (c, share), = s.track.at(1.0).parts
    assert c.kind == ARBITRARY and share == 1.0
    torch.testing.assert_close(c.value, 0.75 * v0 + 0.25 * v1)
    # The default, smoothstep: a quarter of the way, 3u^2 - 2u^3 = 0.15625 of the second painting.
    smooth = keyed(keys, cpu, StyleOptions(style=str(starry)))
    torch.testing.assert_close(smooth.track.at(1.0).parts[0][0].value, 0.84375 * v0 + 0.15625 * v1)


def test_built_in_to_painting_mixes_the_two_networks(cpu: torch.device, media: Path) -> None:
    starry = media / "styles" / "starry_night.jpg"
    s = keyed((Key(0.0, "7"), Key(4.0, str(starry))), cpu, StyleOptions(), "linear")
    shares = {c.kind: share for c, share in s.track.at(1.0).parts}
    assert shares == {MULTISTYLE: pytest.approx(0.75), ARBITRARY: pytest.approx(0.25)}
    x = torch.rand(1, 3, 64, 96)
    assert s(x, 1.0).shape == x.shape
    # The mix is of the two networks' pictures, each as its own key paints it.
    pictures = [s(x, 0.0), s(x, 4.0)]
    torch.testing.assert_close(s(x, 1.0), pictures[0].lerp(pictures[1], 0.25))
