"""``flowstyle frames``: frames of a clip as images to paint (issue #31, first step).

The exported pixels are compared with the frames flowstyle's own reader gives the
render on the same SizePolicy (a painted key must match the render frame for frame);
names, sizes, timecode and sequence numbering, deep sources, and every bad input
(one line, nothing written).
"""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from flowstyle.cli import app, flag
from flowstyle.errors import ConfigError, FlowstyleError
from flowstyle.io.colour import ColourTags
from flowstyle.io.export import export_frames
from flowstyle.io.formats import get_source
from flowstyle.io.reader import SizePolicy
from flowstyle.io.sequence import ImageSequenceWriter
from flowstyle.io.source import FrameRange, ReadOptions
from synth import picture, write_clip
from synth_deep import deep_picture, write_tagged_clip

TB = Fraction(1, 25)


def frames_cli(*args: str | Path) -> tuple[int, str, str]:
    """``flowstyle frames ...`` in-process: (exit code, stdout, the error line the CLI prints or '')."""
    result = CliRunner().invoke(app, ["frames", *map(str, args)])
    exc = result.exception
    if isinstance(exc, ConfigError):
        return 1, result.stdout, f"{flag(exc.field)}: {exc.problem}"
    if isinstance(exc, FlowstyleError):
        return 1, result.stdout, str(exc)
    assert exc is None or isinstance(exc, SystemExit), repr(exc)
    return result.exit_code, result.stdout, ""


def reader_frames(clip: Path, size: SizePolicy = SizePolicy(), **read) -> dict[int, np.ndarray]:
    """Every frame the render reads from ``clip`` (deep sources as float, as a deep render reads them)."""
    with get_source(clip, size, options=ReadOptions(deep=True, **read)) as source:
        return {f.index: f.rgb for f in source.frames()}


def image(path: Path) -> tuple[str, np.ndarray]:
    """(pixel format on disk, pixels as uint8 RGB or uint16 RGB) of an exported image."""
    with av.open(str(path)) as c:
        f = next(c.decode(video=0))
    deep = f.format.name.startswith("rgb48")
    return f.format.name, f.to_ndarray(format="rgb48le" if deep else "rgb24")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 distinct frames at 25 fps, 96x64, a keyframe every 8 frames (so the export seeks)."""
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", list(range(30)), TB, size=(96, 64),
                      options={"g": "8", "keyint_min": "8"})


def test_positions_names_sizes_and_pixels_are_the_renders(clip: Path, tmp_path: Path) -> None:
    """Frame number, seconds (rounded to a frame) and timecode; comma-separated and repeated --at;
    --max-width as the render takes it; the pixels are the render's frames exactly."""
    out = tmp_path / "a" / "keys"  # parents made too
    code, stdout, err = frames_cli(clip, "--at", "12,0.79s", "--at", "00:00:01:02", "--at", "3", "-o", out,
                                   "--max-width", "48")
    assert code == 0, err
    names = ["0003.png", "0012.png", "0020.png", "0027.png"]  # 0.79 s * 25 = 19.75 -> 20; 1 s + 2 frames = 27
    assert stdout.split() == [str(out / n) for n in names]
    assert sorted(p.name for p in out.iterdir()) == names  # nothing else, no temporary left
    want = reader_frames(clip, SizePolicy(max_width=48))
    for name in names:
        fmt, got = image(out / name)
        assert fmt == "rgb24" and got.shape == (32, 48, 3)
        np.testing.assert_array_equal(got, want[int(name[:4])])


def test_the_frame_is_the_one_asked_for(clip: Path, tmp_path: Path) -> None:
    """At full size the key is the clip's own frame N (the nearest of the synthetic pictures), not a neighbour."""
    paths = export_frames(clip, tmp_path, ["9", "21"])
    for path, n in zip(paths, (9, 21)):
        got = image(path)[1].astype(np.float32)
        errors = [np.abs(got - picture(i, 96, 64)).mean() for i in range(30)]
        assert int(np.argmin(errors)) == n


def test_size_takes_the_renders_size_option(clip: Path, tmp_path: Path) -> None:
    code, _, err = frames_cli(clip, "--at", "5", "-o", tmp_path, "--size", "x32", "--format", "tiff")
    assert code == 0, err
    fmt, got = image(tmp_path / "0005.tif")
    assert fmt == "rgb24" and got.shape == (32, 48, 3)  # --format tiff on an 8-bit source: 8-bit TIFF
    np.testing.assert_array_equal(got, reader_frames(clip, SizePolicy(height=32))[5])


def test_rotated_clip_is_exported_upright(tmp_path: Path) -> None:
    rotated = write_clip(tmp_path / "rot.mp4", list(range(6)), TB, size=(64, 48), rotation=90)
    paths = export_frames(rotated, tmp_path / "keys", ["4"])
    got = image(paths[0])[1]
    assert got.shape == (64, 48, 3)  # shown upright: 48 wide, 64 high
    np.testing.assert_array_equal(got, reader_frames(rotated)[4])


def ten_bit_clip(path: Path, n: int, size: tuple[int, int] = (48, 32)) -> Path:
    """A lossless 10-bit clip of smooth ramps finer than 8 bits (synth_deep.deep_picture)."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("ffv1", rate=25)
        v.width, v.height, v.pix_fmt = size[0], size[1], "yuv444p10le"
        for i in range(n):
            rgb16 = (deep_picture(i, *size) * 65535 + 0.5).astype(np.uint16)
            f = av.VideoFrame.from_ndarray(rgb16, format="rgb48le").reformat(format="yuv444p10le")
            f.pts = i
            out.mux(v.encode(f))
        out.mux(v.encode(None))
    return path


def test_deep_source_gives_16_bit_tiff_holding_the_renders_float_frames(tmp_path: Path) -> None:
    src = ten_bit_clip(tmp_path / "ten.mkv", 6)
    paths = export_frames(src, tmp_path / "keys", ["1,4"])
    assert [p.name for p in paths] == ["0001.tif", "0004.tif"]
    want = reader_frames(src)
    for path, n in zip(paths, (1, 4)):
        fmt, got = image(path)
        assert fmt == "rgb48le" and want[n].dtype == np.float32
        np.testing.assert_array_equal(got, (want[n] * 65535 + 0.5).astype(np.uint16))  # exact: no 8-bit step
        assert len(np.unique(got[..., 0])) > 2 * len(np.unique(got[..., 0] >> 8))  # finer than 8 bits
    png = export_frames(src, tmp_path / "png", ["4"], format="png")[0]
    fmt, got = image(png)
    assert png.name == "0004.png" and fmt == "rgb48be"  # --format png keeps the depth: 16-bit PNG
    np.testing.assert_array_equal(got, image(paths[1])[1])


@pytest.mark.parametrize("rate,start,at,want", [
    (Fraction(24), "01:00:00:00", "01:00:01:05", 29),
    (Fraction(30000, 1001), "01:00:00;00", "01:00:01;02", 32),
])
def test_timecode_counts_from_the_clips_start_timecode(tmp_path: Path, rate: Fraction, start: str, at: str,
                                                       want: int) -> None:
    src = write_tagged_clip(tmp_path / "tc.mkv", 40, rate, container_metadata={"timecode": start})
    with get_source(src) as source:
        assert str(source.timecode) == start
    paths = export_frames(src, tmp_path / "keys", [at, "1s"])
    second = int(round(rate))
    assert [p.name for p in paths] == sorted([f"{want:04d}.png", f"{second:04d}.png"])
    frames = reader_frames(src)
    got = {int(p.stem): image(p)[1] for p in paths}
    np.testing.assert_array_equal(got[want], frames[want])
    early = "00:59:59" + start[8] + "00"
    with pytest.raises(FlowstyleError, match=f"--at: {early} is before the clip's first frame"):
        export_frames(src, tmp_path / "early", [early])
    late = "01:00:02" + start[8] + "00"  # this container has no frame count: the decode finds the end
    with pytest.raises(FlowstyleError, match=rf"--at {late} \(frame {2 * second}\) is past the clip's end: it is "
                       r"1\.\d+ s long \(about 40 frames\)"):
        export_frames(src, tmp_path / "early", [late])
    assert not (tmp_path / "early").exists()


def write_sequence(pattern: Path, first: int, n: int) -> Path:
    w = ImageSequenceWriter(pattern, (32, 24), Fraction(1, 24), Fraction(24), ColourTags(6, 1, 6, 6), first_number=first)
    for i in range(n):
        w.write(picture(i, 32, 24), i)
    w.close()
    return pattern


def test_sequence_input_is_named_by_its_file_numbers(tmp_path: Path) -> None:
    """Keys of a sequence carry the numbers of its files, as the render's sequence output does."""
    seq = write_sequence(tmp_path / "plate" / "plate.%04d.png", 1001, 5)
    paths = export_frames(seq, tmp_path / "keys", ["0", "3"])
    assert [p.name for p in paths] == ["1001.png", "1004.png"]
    np.testing.assert_array_equal(image(paths[1])[1], picture(3, 32, 24))
    wide = write_sequence(tmp_path / "wide" / "w_%d.png", 99998, 3)  # numbers up to 100000: six digits
    assert [p.name for p in export_frames(wide, tmp_path / "wkeys", ["1"])] == ["099999.png"]


def test_keys_never_replace_the_input_sequence(tmp_path: Path) -> None:
    seq = write_sequence(tmp_path / "plate" / "%04d.png", 1001, 3)
    before = (tmp_path / "plate" / "1002.png").read_bytes()
    with pytest.raises(FlowstyleError, match="input sequence"):
        export_frames(seq, tmp_path / "plate", ["1"], overwrite=True)
    assert (tmp_path / "plate" / "1002.png").read_bytes() == before


def test_existing_keys_refused_before_any_is_written_and_replaced_with_overwrite(clip: Path, tmp_path: Path) -> None:
    (tmp_path / "0020.png").write_bytes(b"painted")
    code, _, err = frames_cli(clip, "--at", "3,20,25", "-o", tmp_path)
    assert code == 1 and err == f"{tmp_path / '0020.png'}: already exists; pass --overwrite to replace it"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0020.png"]  # 0003 and 0025 not written either
    assert (tmp_path / "0020.png").read_bytes() == b"painted"
    code, _, err = frames_cli(clip, "--at", "3,20,25", "-o", tmp_path, "--overwrite")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0003.png", "0020.png", "0025.png"]
    np.testing.assert_array_equal(image(tmp_path / "0020.png")[1], reader_frames(clip)[20])


@pytest.mark.parametrize("args,line", [
    (["--at", "30"], "{clip}: --at 30 (frame 30) is past the clip's end: it has 30 frames (0-29)"),
    (["--at", "00:00:01:02,1.2s"], "{clip}: --at 1.2s (frame 30) is past the clip's end: it has 30 frames"),
    (["--at", "0,12", "--at", "0.48s"], "{clip}: --at 12 and 0.48s are both frame 12; give each frame once"),
    ([], "--at: give the frames to export"),
    (["--at", "4,ten"], "--at: 'ten' is not a position"),
    (["--at", "4,"], "--at: '' is not a position"),
    (["--at", "00:00:01:30"], "--at: '00:00:01:30' is not a timecode at 25.000 fps"),
    (["--at", "4", "--format", "jpg"], "--format: unknown image format 'jpg'; use png or tiff"),
    (["--at", "4", "--size", "wide"], "--size: expected WIDTH, WIDTHxHEIGHT or xHEIGHT"),
])
def test_bad_positions_are_one_line_and_write_nothing(clip: Path, tmp_path: Path, args: list[str], line: str) -> None:
    out = tmp_path / "keys"
    code, _, err = frames_cli(clip, *args, "-o", out)
    assert code == 1 and err.startswith(line.replace("{clip}", str(clip))), err
    assert not out.exists()


def test_bad_clips_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    out = tmp_path / "keys"
    code, _, err = frames_cli(tmp_path / "nope.mp4", "--at", "1", "-o", out)
    assert (code, err) == (1, f"{tmp_path / 'nope.mp4'}: no such file")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(bytes(range(256)) * 20)
    code, _, err = frames_cli(junk, "--at", "1", "-o", out)
    assert code == 1 and err.startswith(f"{junk}: "), err
    (tmp_path / "file").write_text("x")
    clip = write_clip(tmp_path / "c.mp4", list(range(3)), TB)
    code, _, err = frames_cli(clip, "--at", "1", "-o", tmp_path / "file" / "keys")
    assert (code, err) == (1, f"{tmp_path / 'file' / 'keys'}: cannot create this folder: {tmp_path / 'file'} is a file")
    assert not out.exists()


def test_the_command_prints_one_line_and_no_traceback(clip: Path, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "flowstyle", "frames", str(clip), "--at", "3,3", "-o",
                           str(tmp_path / "keys")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"flowstyle: error: {clip}: --at 3 and 3 are both frame 3; "
                                                 "give each frame once"]
    assert not (tmp_path / "keys").exists()


def test_real_clip_two_frames_at_320(media: Path, tmp_path: Path) -> None:
    bikes = media / "videos" / "bikes.mp4"
    code, stdout, err = frames_cli(bikes, "--at", "10,2s", "-o", tmp_path / "keys", "--max-width", "320")
    assert code == 0, err
    paths = [tmp_path / "keys" / n for n in ("0010.png", "0050.png")]
    assert stdout.split() == [str(p) for p in paths]
    with get_source(bikes, SizePolicy(max_width=320)) as source:
        want = {f.index: f.rgb for f in source.frames(FrameRange(10, 51))}
    for p, n in zip(paths, (10, 50)):
        fmt, got = image(p)
        assert fmt == "rgb24" and got.shape == (136, 320, 3)
        np.testing.assert_array_equal(got, want[n])
