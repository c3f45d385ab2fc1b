"""Regions and keyframes through the real CLI (issue #16): a render with both works, and bad input
(unknown region, keys out of order or outside the clip, a matte that does not fit) is one clear line."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

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


@pytest.mark.parametrize("args, needles", [
    (("--region", "face=7"), ("--region:", "unknown region 'face'",)),
    (("--style-at", "4=7", "--style-at", "2=3"), ("--style-at:", "out of order",)),
    (("--style-at", "0s=7", "--style-at", "5s=3"), ("--style-at:", "outside the clip",)),
    (("--style-at", "later=7",), ("--style-at:", "'later' is not a position",)),
    (("--strength-at", "0s=2",), ("--strength-at:", "between 0 and 1",)),
    (("--key-interpolation", "cubic",), ("--key-interpolation:", "unknown interpolation",)),
    (("--matte-style", "3"), ("--matte-style:", "needs a matte",)),
])
def test_bad_region_and_key_input_is_one_line(tmp_path: Path, clip: Path, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    out = tmp_path / "out.mp4"
    assert_one_line_error(run_cli("render", str(clip), "-o", str(out), "-q", *args), *needles)
    assert not out.exists()


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
    proc = run_cli("render", str(clip), "-o", str(out), "-q", "--matte", str(matte), "--matte-style", "none", "--matte-fit")
    assert proc.returncode == 0, proc.stderr
