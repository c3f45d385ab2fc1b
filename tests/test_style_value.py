"""The one style value (docs/architecture.md, "The style value"): every way of choosing a style paints a frame
through the same function, so a key holding style X, or a region whose style is X, renders exactly what
``--style X`` renders. Checked end to end on real frames, written losslessly (PNG sequences), in fp32 and bf16."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from flowstyle.io.media import RangeOptions
from flowstyle.io.reader import SizePolicy
from flowstyle.regions.composite import RegionOptions
from flowstyle.render import RenderConfig, render
from flowstyle.stylize.keyframes import KeyframeOptions
from flowstyle.stylize.options import StyleOptions
from flowstyle.temporal import TemporalOptions

FRAMES = 6
WIDTH = 160


def frames_of(folder: Path) -> np.ndarray:
    files = sorted(folder.glob("*.png"))
    assert len(files) == FRAMES
    return np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files])


def lossless(clip: Path, out: Path, config: RenderConfig) -> np.ndarray:
    """Render FRAMES frames of ``clip`` to a PNG sequence and read them back."""
    config = dataclasses.replace(config, size=SizePolicy(max_width=WIDTH),
                                 span=RangeOptions(in_point="0", out_point=str(FRAMES), preroll=0))
    render(clip, out / "f_%04d.png", config)
    return frames_of(out)


@pytest.fixture(scope="module")
def clip(media: Path) -> Path:
    return media / "videos" / "chaplin.mp4"


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("style", ["17", "starry_night.jpg"])
def test_a_key_holding_a_style_renders_what_the_plain_style_renders(style: str, precision: str, clip: Path,
                                                                     media: Path, tmp_path: Path) -> None:
    spec = str(media / "styles" / style) if style.endswith(".jpg") else style
    # Strength 0.8 (a key of 0.8 against --strength 0.8): the arbitrary network's vector moves toward
    # the content's own, the multi-style picture is mixed with the input; both in the default temporal mode.
    plain = RenderConfig(style=StyleOptions(style=spec, strength=0.8), precision=precision)
    keyed = dataclasses.replace(plain, style=StyleOptions(style="3"),  # --style is overridden by the keys
                                keys=KeyframeOptions(style_at=(f"0={spec}",), strength_at=("0=0.8",)))
    a, b = lossless(clip, tmp_path / "plain", plain), lossless(clip, tmp_path / "keyed", keyed)
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - lossless(clip, tmp_path / "other", dataclasses.replace(
        plain, style=StyleOptions(style="3", strength=0.8))).astype(int)).mean() > 5  # the style matters


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_region_renders_inside_its_mask_what_its_style_renders(precision: str, clip: Path, media: Path,
                                                                  tmp_path: Path) -> None:
    """A matte whose left half is white: inside, the matte's style exactly as ``--style`` of it renders;
    outside, ``--style`` exactly; the two halves differ from each other."""
    starry = str(media / "styles" / "starry_night.jpg")
    base = RenderConfig(style=StyleOptions(style="7"), precision=precision, temporal=TemporalOptions(mode="none"))
    alone_7 = lossless(clip, tmp_path / "seven", base)
    alone_starry = lossless(clip, tmp_path / "starry", dataclasses.replace(base, style=StyleOptions(style=starry)))
    h, w = alone_7.shape[1:3]
    matte = tmp_path / "matte"
    matte.mkdir()
    for i in range(FRAMES):
        m = np.zeros((h, w), np.uint8)
        m[:, : w // 2] = 255
        Image.fromarray(m).save(matte / f"m_{i:04d}.png")
    regions = RegionOptions(matte=str(matte / "m_%04d.png"), matte_style=starry)
    both = lossless(clip, tmp_path / "regions", dataclasses.replace(base, regions=regions))
    assert np.array_equal(both[:, :, : w // 2], alone_starry[:, :, : w // 2])
    assert np.array_equal(both[:, :, w // 2:], alone_7[:, :, w // 2:])
    assert np.abs(alone_7.astype(int) - alone_starry.astype(int)).mean() > 5
