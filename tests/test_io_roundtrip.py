"""Video I/O on synthetic clips with known timing: every frame keeps its pts,
the clip keeps its duration and its audio, whatever the frame rate, time base,
rotation, bit depth or size (issue #2)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from flowstyle.io.reader import SizePolicy, VideoReader
from flowstyle.render import RenderConfig, render
from synth import audio_duration, picture, video_pts_seconds, write_clip

CASES = {
    # name: (pts, time_base, rate, extra write_clip kwargs)
    "vfr": ([0, 40, 70, 150, 160, 300, 310, 333, 500, 520], Fraction(1, 1000), Fraction(25), {}),
    "ntsc_29.97": (list(range(12)), Fraction(1001, 30000), Fraction(30000, 1001), {}),
    "odd_timebase": ([i * 7 for i in range(10)], Fraction(1, 90), Fraction(90, 7), {}),
    "ten_bit": (list(range(8)), Fraction(1, 25), Fraction(25), {"pix_fmt": "yuv420p10le"}),
    "odd_size": (list(range(8)), Fraction(1, 25), Fraction(25), {"size": (67, 45), "pix_fmt": "yuv444p"}),
}


def half_frame(pts: list[int], time_base: Fraction) -> float:
    gaps = np.diff(np.asarray(pts, dtype=np.float64) * float(time_base))
    return float(gaps.min()) / 2


@pytest.mark.parametrize("name", list(CASES))
def test_render_keeps_every_timestamp_and_the_audio(tmp_path: Path, name: str) -> None:
    pts, tb, rate, extra = CASES[name]
    duration = float((pts[-1] + (pts[-1] - pts[-2])) * tb)
    src = write_clip(tmp_path / f"{name}.mp4", pts, tb, rate=rate, audio_seconds=duration, **extra)
    dst = tmp_path / "out.mp4"
    report = render(src, dst, RenderConfig())
    tol = half_frame(pts, tb)
    want = video_pts_seconds(src)
    got = video_pts_seconds(dst)
    assert report.frames == len(pts) == len(got)
    np.testing.assert_allclose(got, want, atol=tol)
    assert abs(audio_duration(dst) - audio_duration(src)) < tol
    with av.open(str(dst)) as c:
        v = c.streams.video[0]
        assert v.codec_context.name == "h264"
        assert v.codec_context.pix_fmt == "yuv420p"
        assert v.codec_context.width % 2 == 0 and v.codec_context.height % 2 == 0
        assert c.streams.audio[0].codec_context.name == "aac"


def test_odd_size_is_scaled_to_the_nearest_even_size(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "odd.mkv", list(range(3)), Fraction(1, 25), size=(67, 45), codec="ffv1", pix_fmt="yuv444p")
    with VideoReader(src) as reader:
        frames = list(reader)
    assert reader.size == (68, 46)
    assert frames[0].rgb.shape == (46, 68, 3)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_turns_frames_upright(tmp_path: Path, rotation: int) -> None:
    w, h = 64, 32
    upright = [picture(i, w, h) if rotation == 180 else picture(i, w, h) for i in range(3)]
    # Store the picture turned the opposite way, so applying the display rotation
    # (counter-clockwise, av_display_rotation_get) gives the upright picture back.
    stored = [np.ascontiguousarray(np.rot90(u, k=-rotation // 90)) for u in upright]
    sh, sw = stored[0].shape[:2]
    src = write_clip(tmp_path / "rot.mkv", list(range(3)), Fraction(1, 25), size=(sw, sh), codec="ffv1",
                     pix_fmt="yuv444p", rotation=rotation, frames=stored)
    with VideoReader(src) as reader:
        frames = list(reader)
    assert reader.rotation == rotation
    assert reader.size == (w, h)
    for f, u in zip(frames, upright):
        assert np.abs(f.rgb.astype(int) - u.astype(int)).mean() < 3.0


def test_ten_bit_input_converts_to_correct_rgb(tmp_path: Path) -> None:
    flat = np.full((48, 64, 3), (200, 60, 30), np.uint8)
    src = write_clip(tmp_path / "ten.mkv", [0, 1], Fraction(1, 25), codec="ffv1", pix_fmt="yuv420p10le", frames=[flat, flat])
    with VideoReader(src) as reader:
        rgb = next(iter(reader)).rgb
    np.testing.assert_allclose(rgb.reshape(-1, 3).mean(0), (200, 60, 30), atol=2.0)


def test_full_range_input_keeps_its_levels(tmp_path: Path) -> None:
    """yuvj420p (full range, e.g. phone MJPEG) must not be decoded as limited range."""
    ramp = np.repeat(np.linspace(0, 255, 64, dtype=np.uint8)[None, :, None], 48, 0).repeat(3, 2)
    src = write_clip(tmp_path / "full.mov", [0, 1], Fraction(1, 25), codec="mjpeg", pix_fmt="yuvj420p", frames=[ramp, ramp])
    with VideoReader(src) as reader:
        rgb = next(iter(reader)).rgb
    assert reader.colour.color_range == 2
    assert rgb[:, :2].mean() < 6 and rgb[:, -2:].mean() > 249  # limited-range decoding would clip or crush


def test_colour_tags_are_carried_to_the_output(tmp_path: Path) -> None:
    # BT.709 on a small frame, where an untagged clip would be taken as BT.601.
    src = write_clip(tmp_path / "tags.mp4", list(range(4)), Fraction(1, 25), size=(64, 48), colour=(1, 1, 1, 1))
    with av.open(str(src)) as c:
        assert int(next(c.decode(video=0)).colorspace) == 1
    dst = tmp_path / "out.mp4"
    render(src, dst, RenderConfig())
    with av.open(str(dst)) as c:
        f = next(c.decode(video=0))
        assert (int(f.colorspace), int(f.color_primaries), int(f.color_trc)) == (1, 1, 1)
        assert int(f.color_range) == 1


def test_size_policy() -> None:
    assert SizePolicy(max_width=640).target(1280, 720) == (640, 360)
    assert SizePolicy(max_width=640).target(320, 240) == (320, 240)  # never enlarges
    assert SizePolicy(width=100).target(1280, 720) == (100, 56)
    assert SizePolicy(height=101).target(1280, 720) == (180, 102)
    assert SizePolicy(width=33, height=33).target(1280, 720) == (34, 34)


def test_audio_the_container_cannot_hold_is_reencoded_to_aac(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """PCM audio is fine in Matroska but not in MP4: that stream is re-encoded, and the log says so."""
    pts = list(range(10))
    src = write_clip(tmp_path / "pcm.mkv", pts, Fraction(1, 25), audio_seconds=0.4, audio_codec="pcm_s16le")
    dst = tmp_path / "out.mp4"
    render(src, dst, RenderConfig())
    with av.open(str(dst)) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
    assert abs(audio_duration(dst) - audio_duration(src)) < 0.03  # AAC frames are 21 ms
    assert any("re-encoding" in r.getMessage() and "pcm_s16le" in r.getMessage() for r in caplog.records)
    # Into Matroska the same audio is copied untouched.
    dst_mkv = tmp_path / "out.mkv"
    render(src, dst_mkv, RenderConfig())
    with av.open(str(src)) as a, av.open(str(dst_mkv)) as b:
        assert b.streams.audio[0].codec_context.name == "pcm_s16le"
        assert [bytes(p) for p in a.demux(audio=0) if p.size] == [bytes(p) for p in b.demux(audio=0) if p.size]
