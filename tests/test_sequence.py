"""Image sequences of issue #13: png/tif/exr/dpx/jpg written with the source's numbering and read
back with exact count, pts and depth; gaps, mixed sizes and clobbering refused in one line;
output appears whole or not at all."""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from flowstyle.errors import InputError, OutputError
from flowstyle.io.colour import ColourTags
from flowstyle.io.reader import SizePolicy
from flowstyle.io.sequence import ImageSequenceReader, ImageSequenceWriter, find_sequence
from synth import picture
from synth_deep import deep_picture, psnr

SIZE = (48, 32)
SRGB = ColourTags(6, 1, 6, 6)


def write_sequence(pattern: Path, frames: list[np.ndarray], first_number: int = 1001, pts: list[int] | None = None,
                   **kw) -> ImageSequenceWriter:
    w = ImageSequenceWriter(pattern, SIZE, Fraction(1, 24), Fraction(24), SRGB, first_number=first_number, **kw)
    for i, rgb in enumerate(frames):
        w.write(rgb, pts[i] if pts else i)
    w.close()
    return w


# (extension, deep?, pixel format on disk, tolerance on read-back in [0, 1])
FORMATS = [
    ("png", False, "rgb24", 0.0),
    ("png", True, "rgb48be", 1 / 65535),
    ("tif", False, "rgb24", 0.0),
    ("tif", True, "rgb48le", 1 / 65535),
    ("exr", True, "gbrpf32le", 1e-6),
    ("dpx", True, "gbrp10le", 1 / 1023),
    ("jpg", False, "yuvj444p", 6 / 255),
]


@pytest.mark.parametrize("ext,deep,pix_fmt,tol", FORMATS, ids=[f"{e}-{'deep' if d else '8bit'}" for e, d, _, _ in FORMATS])
def test_round_trip_keeps_numbering_count_pts_and_depth(tmp_path: Path, ext: str, deep: bool, pix_fmt: str,
                                                        tol: float) -> None:
    frames = [deep_picture(i, *SIZE) if deep else picture(i, *SIZE) for i in range(5)]
    pattern = tmp_path / "shots" / f"shot_%06d.{ext}"
    write_sequence(pattern, frames)
    names = sorted(p.name for p in pattern.parent.iterdir())
    assert names == [f"shot_{n:06d}.{ext}" for n in range(1001, 1006)]  # nothing else, no temporary left
    with av.open(str(pattern.parent / names[0])) as c:
        assert next(c.decode(video=0)).format.name == pix_fmt
    with ImageSequenceReader(pattern, fps=Fraction(24), deep=True) as reader:
        got = list(reader)
    assert reader.start_number == 1001 and reader.size == SIZE and reader.pix_fmt == pix_fmt
    assert [f.pts for f in got] == [0, 1, 2, 3, 4] and [f.index for f in got] == [0, 1, 2, 3, 4]
    assert all(f.time_base == Fraction(1, 24) for f in got)
    assert [reader.number(f) for f in got] == list(range(1001, 1006))
    for f, want in zip(got, frames):
        want_f = want if want.dtype == np.float32 else want.astype(np.float32) / 255
        assert f.rgb.dtype == (np.float32 if deep else np.uint8)
        rgb = f.rgb if deep else f.rgb.astype(np.float32) / 255
        if tol:
            assert np.abs(rgb - want_f).max() <= tol or (ext == "jpg" and psnr(rgb, want_f) > 35)
        else:
            np.testing.assert_array_equal(f.rgb, want)


def test_folder_input_and_default_fps(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_sequence(tmp_path / "plate" / "plate.%04d.dpx", [deep_picture(i, *SIZE) for i in range(3)], first_number=7)
    pattern, files = find_sequence(tmp_path / "plate")
    assert pattern == tmp_path / "plate" / "plate.%04d.dpx" and sorted(files) == [7, 8, 9]
    with caplog.at_level(logging.INFO, logger="flowstyle"), ImageSequenceReader(tmp_path / "plate") as reader:
        frames = list(reader)
    assert reader.rate == 24 and len(frames) == 3 and frames[0].rgb.dtype == np.uint8  # deep not asked
    assert any("reading at 24 fps (set --fps)" in r.getMessage() for r in caplog.records)


def test_unpadded_numbers_in_a_folder(tmp_path: Path) -> None:
    write_sequence(tmp_path / "s" / "f%d.png", [picture(i, *SIZE) for i in range(12)], first_number=1)
    pattern, files = find_sequence(tmp_path / "s")
    assert pattern.name == "f%d.png" and sorted(files) == list(range(1, 13))


def test_several_sequences_in_a_folder_is_one_line(tmp_path: Path) -> None:
    write_sequence(tmp_path / "s" / "a_%03d.png", [picture(0, *SIZE)], first_number=1)
    write_sequence(tmp_path / "s" / "b_%03d.png", [picture(0, *SIZE)], first_number=1)
    with pytest.raises(InputError, match=r"holds several sequences \(a_%03d.png, b_%03d.png\); give one as a pattern"):
        find_sequence(tmp_path / "s")


def test_gap_is_an_error_naming_the_missing_frame(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pattern = tmp_path / "g" / "shot_%04d.png"
    write_sequence(pattern, [picture(i, *SIZE) for i in range(4)], first_number=10, pts=[0, 1, 3, 4])
    assert sorted(p.name for p in pattern.parent.iterdir()) == ["shot_0010.png", "shot_0011.png", "shot_0013.png",
                                                                 "shot_0014.png"]
    with pytest.raises(InputError) as info:
        ImageSequenceReader(pattern)
    assert str(info.value) == (f"{pattern.parent / 'shot_0012.png'}: missing frame 12 of the sequence shot_%04d.png "
                               "(1 missing in 10-14); pass --allow-gaps to hold the frame before it")
    with caplog.at_level(logging.WARNING, logger="flowstyle"):
        reader = ImageSequenceReader(pattern, allow_gaps=True)
    assert any("frames 12 missing" in r.getMessage() for r in caplog.records)
    frames = list(reader)
    assert [f.pts for f in frames] == [0, 1, 3, 4]
    # Written back from the reader: the same numbering, gap included.
    out = tmp_path / "out" / "styled_%04d.tif"
    w = ImageSequenceWriter(out, reader.size, reader.time_base, reader.rate, reader.colour,
                            first_number=reader.number(frames[0]))
    for f in frames:
        w.write(f.rgb, f.pts)
    w.close()
    assert sorted(p.name for p in out.parent.iterdir()) == ["styled_0010.tif", "styled_0011.tif", "styled_0013.tif",
                                                             "styled_0014.tif"]


def test_mixed_sizes_name_the_odd_file(tmp_path: Path) -> None:
    pattern = tmp_path / "m" / "m_%03d.png"
    write_sequence(pattern, [picture(i, *SIZE) for i in range(3)], first_number=1)
    odd = pattern.parent / "m_004.png"
    w = ImageSequenceWriter(tmp_path / "odd" / "m_%03d.png", (40, 32), Fraction(1, 24), Fraction(24), SRGB, first_number=4)
    w.write(picture(0, 40, 32), 0)
    w.close()
    (tmp_path / "odd" / "m_004.png").rename(odd)
    reader = ImageSequenceReader(pattern)
    with pytest.raises(InputError) as info:
        list(reader)
    assert str(info.value) == f"{odd}: is 40x32, but the sequence is 48x32 (from m_001.png); all images must be one size"


def test_scaling_and_frames_range(tmp_path: Path) -> None:
    pattern = tmp_path / "r" / "r_%03d.png"
    write_sequence(pattern, [picture(i, *SIZE) for i in range(6)], first_number=0)
    reader = ImageSequenceReader(pattern, size=SizePolicy(width=24))
    part = list(reader.frames(2, 5))
    assert reader.size == (24, 16) and [f.index for f in part] == [2, 3, 4] and [f.pts for f in part] == [2, 3, 4]
    assert part[0].rgb.shape == (16, 24, 3)


def test_output_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    # A new folder: nothing until close, then the whole folder at once; abort leaves no trace.
    pattern = tmp_path / "new" / "o_%03d.exr"
    w = ImageSequenceWriter(pattern, SIZE, Fraction(1, 24), Fraction(24), SRGB)
    w.write(deep_picture(0, *SIZE), 0)
    assert not pattern.parent.exists()
    w.abort()
    assert sorted(tmp_path.iterdir()) == []
    # An existing folder: other files are left alone; an aborted render adds nothing.
    folder = tmp_path / "existing"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    w = ImageSequenceWriter(folder / "o_%03d.png", SIZE, Fraction(1, 24), Fraction(24), SRGB)
    w.write(picture(0, *SIZE), 0)
    w.abort()
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]
    write_sequence(folder / "o_%03d.png", [picture(i, *SIZE) for i in range(2)], first_number=1)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "o_001.png", "o_002.png"]
    with pytest.raises(OutputError, match=r"o_%03d.png: 2 images of this sequence already exist \(first: o_001.png\); "
                                          "pass --overwrite to replace them"):
        ImageSequenceWriter(folder / "o_%03d.png", SIZE, Fraction(1, 24), Fraction(24), SRGB)
    write_sequence(folder / "o_%03d.png", [picture(5, *SIZE)], first_number=1, overwrite=True)
    with av.open(str(folder / "o_001.png")) as c:
        np.testing.assert_array_equal(next(c.decode(video=0)).to_ndarray(format="rgb24"), picture(5, *SIZE))


@pytest.mark.parametrize("name,problem", [
    ("shot_%06d.gif", "unknown image type '.gif'; use one of .png, .tif, .tiff, .exr, .dpx, .jpg, .jpeg"),
    ("shot_%d_%d.png", "a sequence pattern needs exactly one %d field"),
])
def test_bad_output_pattern_is_one_line(tmp_path: Path, name: str, problem: str) -> None:
    with pytest.raises(OutputError) as info:
        ImageSequenceWriter(tmp_path / name, SIZE, Fraction(1, 24), Fraction(24), SRGB)
    assert str(info.value).startswith(str(tmp_path / name)) and problem in str(info.value)
    with pytest.raises(OutputError, match=r"\.jpg images cannot hold --pix-fmt rgb48be; use one of yuvj444p"):
        ImageSequenceWriter(tmp_path / "a_%03d.jpg", SIZE, Fraction(1, 24), Fraction(24), SRGB, pix_fmt="rgb48be")


def test_missing_input_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"none_%04d.png: no images match this pattern"):
        ImageSequenceReader(tmp_path / "none_%04d.png")
    with pytest.raises(InputError, match=r"nowhere: no such file or folder"):
        ImageSequenceReader(tmp_path / "nowhere")


@pytest.mark.parametrize("ext,deep", [("png", False), ("png", True), ("tif", True), ("exr", True)])
def test_alpha_is_read_and_written(tmp_path: Path, ext: str, deep: bool) -> None:
    rgb = deep_picture(0, *SIZE) if deep else picture(0, *SIZE)
    alpha = np.tile(np.linspace(0, 1, SIZE[0], dtype=np.float32), (SIZE[1], 1))
    if not deep:
        alpha = (alpha * 255 + 0.5).astype(np.uint8)
    pattern = tmp_path / "a" / f"a_%03d.{ext}"
    w = ImageSequenceWriter(pattern, SIZE, Fraction(1, 24), Fraction(24), SRGB, first_number=1)
    w.write(rgb, 0, alpha)
    w.close()
    (frame,) = list(ImageSequenceReader(pattern, deep=deep))
    assert frame.alpha is not None and frame.alpha.dtype == alpha.dtype
    np.testing.assert_allclose(frame.alpha, alpha, atol=0 if not deep else 1 / 65535)
