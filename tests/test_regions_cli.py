"""Regions and keyframes through the real CLI (issue #16): a render with both works, and bad input
(unknown region, keys out of order or outside the clip, a matte that does not fit) is one clear line."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from flowstyle.io.frames import Frame
from flowstyle.io.source import ReadOptions
from flowstyle.regions.composite import RegionOptions, person_masks
from flowstyle.regions.segment import PersonSegmenter
from flowstyle.render import RenderConfig, render
from flowstyle.stylize.options import StyleOptions
from flowstyle.temporal import TemporalOptions

from synth import write_clip
from test_bad_input import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", list(range(8)), Fraction(1, 25),
                      size=(96, 64), audio_seconds=0.3)


def test_render_with_keys_and_regions(tmp_path: Path, clip: Path, media: Path) -> None:
    out = tmp_path / "out.mp4"
    proc = run_cli("render", str(clip), "-o", str(out), "-q", "--style-at", "0=7", "--style-at", "0.2s=3",
                   "--strength-at", "0s=1", "--strength-at", "00:00:00:06=0.5", "--key-interpolation", "smooth",
                   "--region", "person=none", "--feather", "2")
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 8 and len(c.streams.audio) == 1


def test_keys_as_timecode_on_a_clip_with_a_start_timecode(tmp_path: Path) -> None:
    """Keys in timecode count from the clip's own start timecode: render() hands the builder the source's
    Timecode (before #16's region keys it was parsed again as text, a TypeError)."""
    from synth_deep import write_tagged_clip

    clip = write_tagged_clip(tmp_path / "tc.mkv", 8, Fraction(25), size=(64, 48),
                             container_metadata={"timecode": "01:00:00:00"})
    out = tmp_path / "out.mkv"
    proc = run_cli("render", str(clip), "-o", str(out), "-q", "--style-at", "01:00:00:00=7",
                   "--style-at", "01:00:00:04=3", "--region", "person=none",
                   "--region-at", "background@01:00:00:02=3", "--region-at", "background@01:00:00:06=7")
    assert proc.returncode == 0, proc.stderr
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 8
    proc = run_cli("render", str(clip), "-o", str(out), "-q", "--overwrite", "--region-at", "person@00:00:00:02=3")
    assert_one_line_error(proc, "--region-at: person:", "before")


@pytest.mark.parametrize("args, needles", [
    (("--region", "face=7"), ("--region:", "unknown region 'face'",)),
    (("--style-at", "4=7", "--style-at", "2=3"), ("--style-at:", "out of order",)),
    (("--style-at", "0s=7", "--style-at", "5s=3"), ("--style-at:", "outside the clip",)),
    (("--style-at", "later=7",), ("--style-at:", "'later' is not a position",)),
    (("--strength-at", "0s=2",), ("--strength-at:", "between 0 and 1",)),
    (("--key-interpolation", "cubic",), ("--key-interpolation:", "unknown interpolation",)),
    (("--matte-style", "3"), ("--matte-style:", "needs a matte",)),
    (("--region-at", "face@0=7"), ("--region-at:", "unknown region 'face'")),
    (("--region-at", "background=7"), ("--region-at:", "expected NAME@TIME=STYLE")),
    (("--region-at", "background@4=7", "--region-at", "background@2=3"), ("--region-at: background:", "out of order")),
    (("--region-at", "background@0s=7", "--region-at", "background@5s=3"), ("--region-at: background:", "outside the clip")),
    (("--region-at", "person@0=none"), ("--region-at:", "--region person=none")),
    (("--region", "background=7", "--region-at", "background@0=3"), ("--region-at:", "both a style (7) and keys")),
    (("--method", "gatys", "--region-at", "background@0=3"), ("--method:", "feedforward only")),
])
def test_bad_region_and_key_input_is_one_line(tmp_path: Path, clip: Path, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    out = tmp_path / "out.mp4"
    assert_one_line_error(run_cli("render", str(clip), "-o", str(out), "-q", *args), *needles)
    assert not out.exists()
    assert not list(tmp_path.glob(f".{out.stem}.*"))  # nor its temporary file (a bad key once left one)


def test_matte_of_another_size_names_the_file_and_offers_fit(tmp_path: Path, clip: Path) -> None:
    matte = tmp_path / "matte.mkv"
    with av.open(str(matte), "w") as c:
        s = c.add_stream("ffv1", rate=25)
        s.width, s.height, s.pix_fmt = 48, 32, "gray"
        for _ in range(8):
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.full((32, 48), 255, np.uint8), format="gray")))
        c.mux(s.encode())
    out = tmp_path / "out.mp4"
    proc = run_cli("render", str(clip), "-o", str(out), "-q", "--matte", str(matte), "--matte-style", "none")
    assert_one_line_error(proc, "matte.mkv", "48x32", "--matte-fit")
    assert not out.exists() and not list(tmp_path.glob(f".{out.stem}.*"))
    proc = run_cli("render", str(clip), "-o", str(out), "-q", "--matte", str(matte), "--matte-style", "none", "--matte-fit")
    assert proc.returncode == 0, proc.stderr


# --- a region's own style keys: --region-at NAME@TIME=STYLE (issue #16) ------------------

def read_pngs(folder: Path) -> list[np.ndarray]:
    return [np.array(Image.open(p).convert("RGB")) for p in sorted(folder.glob("f_*.png"))]


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory, media: Path) -> Path:
    """The first 10 frames of chaplin.mp4 (people, static camera) at 320x180 as a PNG sequence: the renders'
    input pixels are exactly what this test reads ("as filmed" is then an exact comparison)."""
    folder = tmp_path_factory.mktemp("people")
    with av.open(str(media / "videos" / "chaplin.mp4")) as c:
        for i, f in zip(range(10), c.decode(video=0)):
            f.reformat(width=320, height=180, format="rgb24").to_image().save(folder / f"f_{i:04d}.png")
    return folder / "f_%04d.png"


def test_region_keys_change_the_background_style(tmp_path: Path, people: Path) -> None:
    """``--region person=none --region-at background@0=7 --region-at background@9=3``: at the first key the frame
    is a render with background=7 alone, at the last key one with background=3 alone, in between neither, and the
    people stay as filmed throughout. ``--temporal none`` so each frame is compared as keyed, not blended with
    its predecessors."""
    common = ("--fps", "25", "--temporal", "none", "--precision", "fp32", "-q")
    keyed = tmp_path / "keyed"
    keyed.mkdir()
    proc = run_cli("render", str(people), "-o", str(keyed / "f_%04d.png"), *common, "--region", "person=none",
                   "--region-at", "background@0=7", "--region-at", "background@9=3")
    assert proc.returncode == 0, proc.stderr
    refs = {}
    for style in ("7", "3"):  # the same regions with one fixed background style, through the Python API
        (tmp_path / style).mkdir()
        render(people, tmp_path / style / "f_%04d.png", RenderConfig(
            style=StyleOptions(style="blue-brush"), precision="fp32", read=ReadOptions(fps=25),
            temporal=TemporalOptions(mode="none"), regions=RegionOptions(person="none", background=style)))
        refs[style] = read_pngs(tmp_path / style)
    out, src = read_pngs(keyed), read_pngs(people.parent)
    assert len(out) == len(src) == 10

    masks = person_masks(PersonSegmenter(), 0.0)  # the render's own masks (same model, tracker, order)
    person = [masks(Frame(i, i, Fraction(1, 25), rgb), i == 0) >= 1.0 - 1e-6 for i, rgb in enumerate(src)]
    background = [~p for p in person]
    assert all(p.sum() > 2000 for p in person)  # the people: 3300-3800 of the 57600 pixels

    def diff(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> np.ndarray:
        return np.abs(a.astype(np.int16) - b.astype(np.int16))[where]

    # At the keys the background is the one-style render's (measured: max |diff| 0 levels in both).
    assert diff(out[0], refs["7"][0], background[0]).max() <= 1
    assert diff(out[9], refs["3"][9], background[9]).max() <= 1
    # Between them the style moves from 7 to 3: away from the one and toward the other, frame by frame
    # (mean |diff| to 7 measured 7, 15, 24, ... 62 levels; to 3 62, 60, ... 16, 0).
    to7 = [float(diff(o, r, b).mean()) for o, r, b in zip(out, refs["7"], background)]
    to3 = [float(diff(o, r, b).mean()) for o, r, b in zip(out, refs["3"], background)]
    assert to7 == sorted(to7) and to3 == sorted(to3, reverse=True)
    assert to7[5] > 20 and to3[5] > 20  # half way it is neither style alone
    # The people are as filmed in every frame (mask 1: the input itself, exactly).
    for o, s, p in zip(out, src, person):
        np.testing.assert_array_equal(o[p], s[p])
