"""Output formats of issue #13: every codec/profile/pix_fmt of io/codecs.py round-trips through
VideoWriter and plain PyAV with its exact frame count and timestamps, the profile and pixel
format asked for; 10-bit survives the float path; bad choices are one line naming the file."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from flowstyle.errors import OutputError
from flowstyle.io.codecs import decoder_name, reported_profile, resolve
from flowstyle.io.colour import ColourTags
from flowstyle.io.depth import bit_depth, decode_float, has_alpha
from flowstyle.io.writer import EncodeOptions, VideoWriter
from synth import picture
from synth_deep import alpha_picture, decoded, deep_picture, psnr

RATE = Fraction(24000, 1001)
TB = 1 / RATE
PTS = [0, 1, 2, 3, 5, 6]  # one held frame: pts are copied, never recounted
BT709 = ColourTags(1, 1, 1, 1)

# (file name, --codec, --profile, --pix-fmt): None takes the default.
CASES = [
    ("default.mp4", None, None, None),
    ("default.mov", None, None, None),
    ("default.mkv", None, None, None),
    ("default.ts", None, None, None),  # refused before issue #13
    ("h264_10.mov", "h264", None, "yuv420p10le"),
    ("h264_422_10.mkv", "h264", "high422", None),
    ("h265_10.mp4", "h265", None, None),
    ("h265_10.ts", "h265", "main10", None),
    ("prores_proxy.mov", "prores", "proxy", None),
    ("prores_lt.mov", "prores", "lt", None),
    ("prores_standard.mov", "prores", "standard", None),
    ("prores_hq.mov", "prores", "hq", None),
    ("prores_4444.mov", "prores", "4444", None),
    ("prores_4444_alpha.mov", "prores", "4444", "yuva444p10le"),
    ("prores_4444xq.mov", "prores", "4444xq", "yuva444p10le"),
    ("dnxhr_lb.mov", "dnxhr", "dnxhr_lb", None),
    ("dnxhr_sq.mov", "dnxhr", "dnxhr_sq", None),
    ("dnxhr_hq.mxf", None, None, None),
    ("dnxhr_hqx.mxf", "dnxhr", "dnxhr_hqx", None),
    ("dnxhr_444.mov", "dnxhr", "dnxhr_444", None),
    ("ffv1.mkv", "ffv1", None, None),
    ("ffv1_alpha.mkv", "ffv1", None, "yuva444p10le"),
]


def encode(path: Path, spec, size: tuple[int, int], pts: list[int] = PTS, timecode=None) -> None:
    w, h = size
    deep = spec.bit_depth > 8
    writer = VideoWriter(path, size, TB, RATE, BT709, spec=spec, timecode=timecode)
    try:
        for i, p in enumerate(pts):
            rgb = deep_picture(i, w, h) if deep else picture(i, w, h)
            writer.write(rgb, p, alpha_picture(w, h) if spec.has_alpha else None)
    except BaseException:
        writer.abort()
        raise
    writer.close()


@pytest.mark.parametrize("name,codec,profile,pix_fmt", CASES, ids=[c[0] for c in CASES])
def test_round_trip_keeps_count_timing_profile_and_pixel_format(tmp_path: Path, name: str, codec: str | None,
                                                                 profile: str | None, pix_fmt: str | None) -> None:
    spec = resolve(tmp_path / name, codec, profile, pix_fmt)
    size = (256, 128) if spec.codec == "dnxhr" else (64, 48)
    # MXF essence is constant-rate (a frame's time is its index), so it gets no held frame.
    pts = list(range(len(PTS))) if name.endswith(".mxf") else PTS
    encode(tmp_path / name, spec, size, pts)
    facts, frames = decoded(tmp_path / name)
    assert len(frames) == len(pts)
    # Exact pts: each frame's time is the one written, to the container's clock tick.
    tick = float(facts["time_base"])
    first = frames[0].pts  # mpegts starts its clock at a muxer offset; other containers at 0
    got = [(f.pts - first) * tick for f in frames]
    want = [p * float(TB) for p in pts]
    np.testing.assert_allclose(got, want, atol=tick / 2 + 1e-9)
    if not name.endswith(".ts"):
        assert first == 0
    assert facts["codec"] == decoder_name(spec)
    assert facts["profile"] == reported_profile(spec)
    asked, came = av.VideoFormat(spec.pix_fmt), frames[0].format
    if spec.codec == "prores" and spec.profile.startswith("4444"):
        # libavcodec's ProRes decoder gives 4444 back as 12-bit: check the depth is held, alpha too.
        assert bit_depth(came) >= bit_depth(asked) and has_alpha(came) == has_alpha(asked)
        assert came.name.startswith("yuv") and came.chroma_width(4) == 4
    else:
        assert facts["pix_fmt"] == spec.pix_fmt == came.name


@pytest.mark.parametrize("name,codec,pix_fmt", [("a.mov", "prores", "yuva444p10le"), ("a.mkv", "ffv1", "yuva444p10le"),
                                                ("b.mkv", "ffv1", "gbrap10le")])
def test_alpha_is_written_and_read_back(tmp_path: Path, name: str, codec: str, pix_fmt: str) -> None:
    spec = resolve(tmp_path / name, codec, None, pix_fmt)
    encode(tmp_path / name, spec, (64, 48), pts=[0, 1])
    _, frames = decoded(tmp_path / name)
    rgb, alpha = decode_float(frames[1], BT709)
    assert alpha is not None
    np.testing.assert_allclose(alpha, alpha_picture(64, 48), atol=2 / 1023)
    assert psnr(rgb, deep_picture(1, 64, 48)) > 50


def test_ten_bit_prores_held_through_the_float_path(tmp_path: Path) -> None:
    """Issue #13 target: a 10-bit ProRes 422 HQ source written back through the float path
    (no stylization) is 10-bit and has PSNR >= 50 dB to the source; the 8-bit path is worse."""
    size = (96, 64)
    src = tmp_path / "src.mov"
    encode(src, resolve(src, "prores", "hq"), size)
    src_facts, source_frames = decoded(src)
    dst_float, dst_8bit = tmp_path / "float.mov", tmp_path / "8bit.mov"
    for dst, to_8bit in ((dst_float, False), (dst_8bit, True)):
        writer = VideoWriter(dst, size, src_facts["time_base"], RATE, BT709, spec=resolve(dst, "prores", "hq"))
        for f in source_frames:
            rgb, _ = decode_float(f, BT709)
            writer.write((rgb * 255 + 0.5).astype(np.uint8) if to_8bit else rgb, f.pts)
        writer.close()
    facts, out = decoded(dst_float)
    assert facts["pix_fmt"] == "yuv422p10le" and facts["profile"] == "HQ"
    assert [f.pts for f in out] == [f.pts for f in source_frames]
    src_rgb = [decode_float(f, BT709)[0] for f in source_frames]
    float_psnr = min(psnr(decode_float(o, BT709)[0], s) for o, s in zip(out, src_rgb))
    _, out8 = decoded(dst_8bit)
    eight_psnr = min(psnr(decode_float(o, BT709)[0], s) for o, s in zip(out8, src_rgb))
    assert float_psnr >= 50
    assert float_psnr > eight_psnr + 3  # the float path keeps bits the 8-bit path rounds away
    # More than 256 distinct levels in a channel: the output is not 8-bit in disguise.
    print(f"10-bit ProRes HQ round trip: float path {float_psnr:.1f} dB, 8-bit path {eight_psnr:.1f} dB")
    # 10-bit codes in 16-bit words; the PSNR margin above shows they carry more than 8 bits.
    luma = out[0].to_ndarray()
    assert luma.dtype == np.uint16 and 64 <= luma.min() and luma.max() <= 940


@pytest.mark.parametrize("name,codec,profile,pix_fmt,problem", [
    ("o.mov", "vp9", None, None, "unknown --codec 'vp9'; use one of h264, h265, prores, dnxhr, ffv1"),
    ("o.mov", "prores", "ultra", None, "ProRes has no profile 'ultra'; use one of hq, proxy, lt, standard, 4444, 4444xq"),
    ("o.mov", "prores", "hq", "yuva444p10le", "ProRes profile hq cannot carry --pix-fmt yuva444p10le; use one of yuv422p10le"),
    ("o.mp4", "h264", None, "rgb24", "H.264 cannot carry --pix-fmt rgb24"),
    ("o.mp4", "prores", None, None, "the .mp4 container cannot hold ProRes video; use .mov"),
    ("o.mxf", "ffv1", None, None, "the .mxf container cannot hold FFV1 video; use .mkv"),
    ("o.webm", None, None, None, "the .webm container cannot hold H.264 video"),
])
def test_bad_choice_is_one_line_naming_the_file(tmp_path: Path, name: str, codec: str | None, profile: str | None,
                                                pix_fmt: str | None, problem: str) -> None:
    with pytest.raises(OutputError) as info:
        resolve(tmp_path / name, codec, profile, pix_fmt)
    message = str(info.value)
    assert message.startswith(str(tmp_path / name) + ": ") and problem in message and "\n" not in message


def test_dnxhr_too_small_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "small.mxf"
    with pytest.raises(OutputError, match=r"small.mxf: DNxHR needs frames of at least 256x120, got 64x48"):
        VideoWriter(out, (64, 48), TB, RATE, BT709)
    with pytest.raises(OutputError, match="yuv420p needs even sides, got 63x48"):
        VideoWriter(tmp_path / "odd.mp4", (63, 48), TB, RATE, BT709)


def test_defaults_by_extension() -> None:
    table = {ext: (s.codec, s.profile, s.pix_fmt) for ext in (".mp4", ".mov", ".mkv", ".ts", ".mxf")
             for s in [resolve(f"out{ext}")]}
    assert table == {".mp4": ("h264", "high", "yuv420p"), ".mov": ("h264", "high", "yuv420p"),
                     ".mkv": ("h264", "high", "yuv420p"), ".ts": ("h264", "high", "yuv420p"),
                     ".mxf": ("dnxhr", "dnxhr_hq", "yuv422p")}
    # Aliases and a pixel format alone pick the profile that carries it.
    assert resolve("o.mov", "x265", None, "yuv422p10le").profile == "main422-10"
    assert resolve("o.mov", "prores_ks", None, "yuva444p10le").profile == "4444"


def test_lossless_h264_still_encodes(tmp_path: Path) -> None:
    """--crf 0 (x264 lossless) needs High 4:4:4 Predictive: no profile option may pin "high"."""
    out = tmp_path / "lossless.mp4"
    writer = VideoWriter(out, (64, 48), TB, RATE, BT709, EncodeOptions(crf=0))
    writer.write(picture(0, 64, 48), 0)
    writer.close()
    facts, frames = decoded(out)
    assert len(frames) == 1 and facts["profile"] == "High 4:4:4 Predictive" and facts["pix_fmt"] == "yuv420p"


def test_render_to_ts_is_no_longer_refused(tmp_path: Path) -> None:
    """Regression (issue #13): `-o out.ts` was refused with "the mpegts container cannot hold H.264 video"
    because libavformat lists no codecs for mpegts; the codec table now decides."""
    from flowstyle.render import RenderConfig, render
    from synth import write_clip

    src = write_clip(tmp_path / "src.mp4", list(range(4)), Fraction(1, 25), rate=Fraction(25))
    report = render(src, tmp_path / "out.ts", RenderConfig())
    facts, frames = decoded(tmp_path / "out.ts")
    assert report.frames == len(frames) == 4 and facts["codec"] == "h264"
