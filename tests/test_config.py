"""Configs are pure data that travel as JSON, and their errors name fields (issue #13;
docs/architecture.md, "Configs")."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from flowstyle import RenderConfig, render
from flowstyle.cli import flag
from flowstyle.config import from_dict
from flowstyle.errors import ConfigError, InputError
from flowstyle.gatys import GatysConfig, GatysOptions
from flowstyle.io.reader import SizePolicy
from flowstyle.io.writer import EncodeOptions
from flowstyle.regions.composite import RegionOptions
from flowstyle.scenes import CutOptions
from flowstyle.stylize.keyframes import KeyframeOptions
from flowstyle.stylize.options import StyleOptions
from flowstyle.temporal import TemporalOptions
from flowstyle.train import LearnOptions, StableOptions

from synth import write_clip


def round_trip(config: object) -> object:
    return from_dict(type(config), json.loads(json.dumps(dataclasses.asdict(config))))


@pytest.mark.parametrize("config", [
    RenderConfig(),
    RenderConfig(style=StyleOptions("3:0.6,17:0.4", strength=0.5, preserve_colour=True), encode=EncodeOptions(crf=23),
                 size=SizePolicy(max_width=320), temporal=TemporalOptions(mode="anchors", alpha_detail=(0.4, 0.8, 0.9),
                                                                          cuts=None), workers=2),
    RenderConfig(regions=RegionOptions(person="none", background="7", feather=2.5, carry=0.8),
                 keys=KeyframeOptions(style_at=("0s=7", "00:00:04:00=starry_night.jpg"), strength_at=("0=1", "2s=0.5"),
                                      interpolation="smooth")),
    RenderConfig(regions=RegionOptions(matte="matte_%04d.png", matte_style="none", matte_fit=True)),
    RenderConfig(regions=RegionOptions(person="none", region_at=("background@0s=7", "background@4s=starry_night.jpg"))),
    GatysConfig(GatysOptions("a.jpg:0.5,b.jpg:0.5", temporal_offsets=(1, 4), style_layer_weights=(1, 2, 3, 4, 5)),
                cuts=CutOptions(threshold=20.0), keep_work=True),
    LearnOptions(painting="p.jpg", name="x", sources=("a.mp4", "b"), scales=(1.0,), minutes=2.5),
    StableOptions(network="arbitrary", data=("a.mp4", "pictures"), paintings=("p.jpg",), minutes=3.0,
                  checkpoint="c.pt", export="e.pt"),
], ids=["render-default", "render", "render-regions-keys", "render-matte", "render-region-at", "gatys", "learn", "stable"])
def test_configs_round_trip_through_json(config: object) -> None:
    assert round_trip(config) == config


def test_configs_touch_no_files() -> None:
    """Files named by a config are resolved when the render is built, not when the config is made."""
    RegionOptions(matte="/nowhere/matte.mov", matte_style="/nowhere/p.jpg")  # issue #16: opened by the builder
    options = StyleOptions("/nowhere/painting.jpg")
    assert options.is_painting
    GatysConfig(GatysOptions("/nowhere/painting.jpg"))
    LearnOptions(painting="/nowhere/p.jpg", name="x", sources=("/nowhere",))


def test_missing_painting_fails_when_the_render_is_built(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.mp4", range(3), Fraction(1, 25))
    with pytest.raises(InputError, match="painting.jpg"):
        render(clip, tmp_path / "o.mp4", RenderConfig(style=StyleOptions(str(tmp_path / "painting.jpg"))))
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("make, field", [
    (lambda: StyleOptions(strength=2.0), "strength"),
    (lambda: StyleOptions(style_scale=9.0), "style_scale"),
    (lambda: EncodeOptions(crf=99), "crf"),
    (lambda: EncodeOptions(preset="instant"), "preset"),
    (lambda: TemporalOptions(mode="magic"), "mode"),
    (lambda: TemporalOptions(flow_scale=2.0), "flow_scale"),
    (lambda: GatysOptions("a.jpg", init="grey"), "init"),
    (lambda: GatysOptions("a.jpg", key_tolerance=-0.1), "key_tolerance"),
    (lambda: GatysOptions("a.jpg", key_iterations=0), "key_iterations"),
    (lambda: GatysConfig(GatysOptions("a.jpg"), precision="fp16"), "precision"),
    (lambda: LearnOptions(painting="p", name="x", crop=30), "crop"),
    (lambda: StableOptions(network="resnet"), "network"),
    (lambda: from_dict(RenderConfig, {"colour": 1}), "colour"),
    (lambda: RegionOptions(region_at=("face@0s=7",)), "region_at"),  # issue #16: --region-at
    (lambda: RegionOptions(matte="m.mov", region_at=("background@0s=7",)), "region_at"),
])
def test_errors_name_the_field(make, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        make()
    assert info.value.field == field and str(info.value).startswith(f"{field}: ")


def test_the_cli_maps_fields_to_flags(tmp_path: Path) -> None:
    assert flag("strength") == "--strength" and flag("style_scale") == "--style-scale" and flag("mode") == "--temporal"
    clip = write_clip(tmp_path / "c.mp4", range(3), Fraction(1, 25))
    for args, expected in ((("--strength", "2"), "--strength: must be between 0 and 1"),
                           (("--temporal", "magic"), "--temporal: unknown temporal mode 'magic'"),
                           (("--crf", "99"), "--crf: must be 0 to 51")):
        proc = subprocess.run([sys.executable, "-m", "flowstyle", "render", str(clip), "-o", str(tmp_path / "o.mp4"),
                               *args], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 1 and proc.stderr == f"flowstyle: error: {expected}" + proc.stderr.split(expected)[1]
        assert proc.stderr.count("\n") == 1 and not (tmp_path / "o.mp4").exists()
