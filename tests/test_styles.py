"""Style specifications and the colour/strength controls."""

from __future__ import annotations

import pytest
import torch

from flowstyle.errors import ConfigError, StyleError
from flowstyle.stylize.colour import mix_strength, preserve_colour
from flowstyle.stylize.options import StyleOptions
from flowstyle.stylize.painter import make_stylizer
from flowstyle.stylize.styles import BUILTIN_NAMES, parse_style


def test_index_and_name_select_one_style() -> None:
    assert parse_style("7")[7] == 1 and parse_style("7").sum() == 1
    assert torch.equal(parse_style("blue-brush"), parse_style(str(BUILTIN_NAMES.index("blue-brush"))))
    assert torch.equal(parse_style(3), parse_style("3"))


def test_blends_are_normalised() -> None:
    w = parse_style("3:0.6,17:0.4")
    assert w[3] == pytest.approx(0.6) and w[17] == pytest.approx(0.4)
    w = parse_style("3:3,red-grid:1")
    assert w[3] == pytest.approx(0.75) and w[17] == pytest.approx(0.25)
    assert parse_style("4,4")[4] == 1  # repeats add up


@pytest.mark.parametrize("spec,match", [("26", "0 to 25"), ("nosuch", "unknown style"), ("3:x", "bad blend weight"),
                                        ("3:-1", "non-negative"), ("3:0", "all-zero"), ("", "empty"), ("3:inf", "finite")])
def test_bad_specs(spec: str, match: str) -> None:
    with pytest.raises(StyleError, match=match):
        parse_style(spec)


def test_options_check_values_and_the_stylizer_resolves_the_style() -> None:
    """Options are pure data (issue #13): values are checked at once, the style itself when
    the stylizer is built."""
    with pytest.raises(ConfigError, match="strength"):
        StyleOptions(strength=1.5)
    options = StyleOptions(style="99")
    with pytest.raises(StyleError, match="unknown style 99"):
        make_stylizer(options, torch.device("cpu"), torch.float32)


def test_strength_mixes_linearly() -> None:
    a, b = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
    torch.testing.assert_close(mix_strength(b, a, 0.25), torch.full_like(a, 0.25))
    assert mix_strength(b, a, 1.0) is b


def test_preserve_colour_keeps_chroma_and_takes_luminance() -> None:
    g = torch.Generator().manual_seed(1)
    # Colours near mid-grey, so the recombined pixel stays inside the RGB gamut (no clipping).
    original = torch.rand(1, 3, 8, 8, generator=g) * 0.3 + 0.35
    stylized = torch.rand(1, 3, 8, 8, generator=g) * 0.3 + 0.35
    out = preserve_colour(stylized, original)
    import kornia.color as kc

    yo, ys, yt = kc.rgb_to_ycbcr(out), kc.rgb_to_ycbcr(stylized), kc.rgb_to_ycbcr(original)
    torch.testing.assert_close(yo[:, :1], ys[:, :1], atol=2e-3, rtol=0)
    torch.testing.assert_close(yo[:, 1:], yt[:, 1:], atol=2e-3, rtol=0)
