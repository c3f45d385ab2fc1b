"""Issue #13, section 2 wired into render and the CLI: image sequences, codecs, timecode,
ranges with pre-roll, bit depth and alpha. The I/O modules have their own round-trip
tests (test_codecs, test_sequence, test_timecode); these go through ``flowstyle render``
(in-process with typer's runner, so they stay fast) and ``flowstyle.render``."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from flowstyle.cli import app
from flowstyle.io.codecs import reported_profile, resolve
from flowstyle.io.colour import ColourTags
from flowstyle.io.depth import bit_depth, decode_float
from flowstyle.io.timecode import read_timecode
from flowstyle.io.writer import VideoWriter
from synth import audio_duration, picture, video_pts_seconds, write_clip
from synth_deep import alpha_picture, decoded, deep_picture, psnr, write_tagged_clip

TB = Fraction(1, 25)
BT709 = ColourTags(1, 1, 1, 1)


def cli(*args: str | Path) -> str:
    """``flowstyle render ...`` in-process; its output (log lines included), or the test fails with it."""
    result = CliRunner().invoke(app, ["render", *map(str, args), "--quiet", "--device", "cpu"])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """30 distinct frames at 25 fps, 64x48, with 1.2 s of audio."""
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mov", list(range(30)), TB, audio_seconds=1.2)


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def write_pngs(folder: Path, numbers: list[int], size: tuple[int, int] = (64, 48)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        frame = av.VideoFrame.from_ndarray(picture(n, *size), format="rgb24")
        with av.open(str(folder / f"shot_{n:06d}.png"), "w", format="image2") as out:
            s = out.add_stream("png", rate=24)
            s.width, s.height, s.pix_fmt = size[0], size[1], "rgb24"
            out.mux(s.encode(frame))
            out.mux(s.encode(None))
    return folder / "shot_%06d.png"


# -- image sequences -----------------------------------------------------------
def test_sequence_in_and_out_keeps_the_numbering(tmp_path: Path) -> None:
    pattern = write_pngs(tmp_path / "src", list(range(1001, 1011)))
    out = tmp_path / "out" / "styled_%04d.png"
    log = cli(pattern, "-o", out, "--strength", "0", "--temporal", "none")
    assert sorted(p.name for p in out.parent.iterdir()) == [f"styled_{n}.png" for n in range(1001, 1011)]
    assert "reading at 24 fps" in log  # the default rate is said
    with pytest.raises(AssertionError):  # the input is never overwritten: same pattern refused
        cli(pattern, "-o", pattern, "--overwrite")


def test_sequence_folder_to_video_at_fps(tmp_path: Path) -> None:
    write_pngs(tmp_path / "src", list(range(0, 12)))
    out = tmp_path / "out.mp4"
    cli(tmp_path / "src", "-o", out, "--fps", "30", "--strength", "0")
    assert video_pts_seconds(out) == pytest.approx([i / 30 for i in range(12)], abs=1e-3)


def test_sequence_range_is_numbered_from_the_in_point(tmp_path: Path) -> None:
    pattern = write_pngs(tmp_path / "src", list(range(100, 120)))
    out = tmp_path / "out" / "f_%06d.png"
    cli(pattern, "-o", out, "--in", "5", "--out", "9", "--strength", "0")
    assert sorted(p.name for p in out.parent.iterdir()) == [f"f_{n:06d}.png" for n in range(105, 109)]


# -- codecs ----------------------------------------------------------------------
@pytest.mark.parametrize("name,args", [
    ("out.mov", ["--codec", "prores", "--profile", "hq"]),
    ("out.mov", ["--codec", "prores", "--profile", "4444"]),
    ("out.mkv", ["--codec", "ffv1"]),
    ("out.mp4", ["--pix-fmt", "yuv420p10le"]),
    ("out.mp4", ["--codec", "h265", "--profile", "main10"]),
    ("out.ts", []),
    ("out.mxf", []),
    ("out.mov", ["--codec", "dnxhr", "--profile", "dnxhr_lb"]),
])
def test_render_round_trip_per_format(tmp_path: Path, name: str, args: list[str]) -> None:
    """Exact frame count and pts, the profile and pix_fmt asked for (issue #13 target)."""
    dnx = "mxf" in name or "dnxhr" in args
    size = (256, 120) if dnx else (64, 48)  # DNxHR's smallest picture
    src = write_clip(tmp_path / "src.mkv", list(range(8)), TB, size=size)
    out = tmp_path / name
    cli(src, "-o", out, "--strength", "0", "--no-audio", *args)
    opts = dict(zip(args[::2], args[1::2]))
    spec = resolve(out, opts.get("--codec"), opts.get("--profile"), opts.get("--pix-fmt"))
    facts, frames = decoded(out)
    assert len(frames) == 8
    times = video_pts_seconds(out)  # mpegts starts its clock at a muxer offset; other containers at 0
    assert [t - times[0] for t in times] == pytest.approx(video_pts_seconds(src), abs=2e-3)
    if spec.codec == "prores" and spec.profile.startswith("4444"):
        assert bit_depth(frames[0].format) >= 10  # libavcodec decodes ProRes 4444 as 12-bit
    else:
        assert facts["pix_fmt"] == spec.pix_fmt
    if reported_profile(spec):
        assert facts["profile"] == reported_profile(spec)


# -- depth and alpha -----------------------------------------------------------
def test_ten_bit_prores_is_held_through_the_render(tmp_path: Path) -> None:
    """Issue #13 target: a 10-bit ProRes 422 HQ source rendered at --strength 0 comes back 10-bit, PSNR >= 50 dB.

    With the default temporal mode: at strength 0 render() turns the temporal step
    off (it would hold still pixels to the past, which is not the source).
    """
    size, n = (64, 48), 6
    src = tmp_path / "src.mov"
    writer = VideoWriter(src, size, TB, Fraction(25), BT709, spec=resolve(src, "prores", "hq"))
    for i in range(n):
        writer.write(deep_picture(i, *size), i)
    writer.close()
    dst = tmp_path / "out.mov"
    cli(src, "-o", dst, "--codec", "prores", "--profile", "hq", "--strength", "0")
    _, source = decoded(src)
    facts, frames = decoded(dst)
    assert facts["pix_fmt"] == "yuv422p10le" and facts["profile"] == "HQ" and len(frames) == n
    worst = min(psnr(decode_float(a, BT709)[0], decode_float(b, BT709)[0]) for a, b in zip(source, frames))
    assert worst >= 50, worst


def test_alpha_passes_through_unstylized(tmp_path: Path) -> None:
    size = (64, 48)
    src = tmp_path / "src.mov"
    alpha = alpha_picture(*size)
    with av.open(str(src), "w") as out:
        v = out.add_stream("prores_ks", rate=25)
        v.width, v.height, v.pix_fmt, v.options = size[0], size[1], "yuva444p10le", {"profile": "4"}
        for i in range(4):
            rgba = np.dstack([deep_picture(i, *size), alpha])
            f = av.VideoFrame.from_ndarray((rgba * 65535 + 0.5).astype(np.uint16), format="rgba64le")
            f = f.reformat(format="yuva444p10le")
            f.pts = i
            out.mux(v.encode(f))
        out.mux(v.encode(None))
    out = tmp_path / "out" / "f_%04d.png"
    cli(src, "-o", out, "--style", "3")
    images = sorted(out.parent.iterdir())
    assert len(images) == 4
    with av.open(str(images[2])) as c:
        f = next(c.decode(video=0))
    assert f.format.name == "rgba64be"  # deep with alpha
    got = f.to_ndarray(format="rgba64le")[..., 3].astype(np.float32) / 65535
    assert np.abs(got - alpha).max() < 2 / 1023  # the source alpha, 10-bit, not stylized


# -- timecode and ranges ---------------------------------------------------------
@pytest.mark.parametrize("rate,start,want", [(Fraction(24000, 1001), "01:00:00:00", "01:00:02:00"),
                                             (Fraction(30000, 1001), "01:00:00;00", "01:00:01;18")])
def test_render_from_frame_48_carries_the_shifted_timecode(tmp_path: Path, rate: Fraction, start: str,
                                                           want: str) -> None:
    """Issue #13 target: a source at 01:00:00:00 rendered from frame 48 carries 01:00:00:00 + 48 frames."""
    src = write_tagged_clip(tmp_path / "src.mov", 56, rate, codec="prores_ks", pix_fmt="yuv422p10le", timecode=start)
    out = tmp_path / "out.mov"
    cli(src, "-o", out, "--in", "48", "--strength", "0")
    with av.open(str(out)) as c:
        assert str(read_timecode(c)) == want
        assert c.streams.video[0].frames == 8
    result = CliRunner().invoke(app, ["probe", str(out)])
    assert f"timecode {want}" in result.output


def test_range_writes_exactly_in_to_out_with_its_audio(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mov"
    cli(clip, "-o", out, "--in", "0.4s", "--out", "20", "--strength", "0", "--temporal", "none", "--crf", "0")
    got, want = frames_of(out), frames_of(clip)[10:20]
    assert len(got) == 10
    for g, w in zip(got, want):
        assert np.abs(g.astype(int) - w.astype(int)).mean() < 2  # frame k of the output is source frame 10 + k
    assert video_pts_seconds(out)[0] == pytest.approx(0.0)
    assert audio_duration(out) == pytest.approx(10 / 25, abs=0.05)  # cut at AAC packets (21 ms)


def test_preroll_warms_the_temporal_state(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    log = cli(clip, "-o", out, "--in", "12", "--out", "16", "--preroll", "5", "--no-audio")
    assert len(frames_of(out)) == 4
    assert "warming the temporal state on 5 frames before frame 12" in log


def test_preroll_makes_a_range_match_the_whole_render(media: Path, tmp_path: Path) -> None:
    """Issue #13 target on a real clip (bigbuckbunny, one shot): the range's first frame has the
    E_warp to the next frame of the same frames mid-shot in the whole render (within 1.2x), and
    with the pre-roll it is closer to the whole render's frame than without (lossless encode)."""
    from flowstyle.flow import make_flow_backend
    from flowstyle.flow.remap import remap_flow
    from flowstyle.metrics import masked_mse
    from flowstyle.temporal import estimate_motion

    clip = media / "videos" / "bigbuckbunny.mp4"
    common = ["--style", "7", "--max-width", "160", "--crf", "0", "--no-audio"]
    cli(clip, "-o", tmp_path / "whole.mp4", "--out", "84", *common)
    whole = frames_of(tmp_path / "whole.mp4")
    with av.open(str(clip)) as c:
        orig = [f.to_ndarray(width=160, height=90, format="rgb24") for _, f in zip(range(62), c.decode(video=0))][60:]
    motion = estimate_motion(orig[0], orig[1], make_flow_backend("dis-medium"))

    def ewarp(a: np.ndarray, b: np.ndarray) -> float:
        return masked_mse(b.astype(np.float32) / 255, remap_flow(a.astype(np.float32) / 255, motion.flow_bwd),
                          motion.mask)

    jumps = {}
    for preroll in (0, 12):
        out = tmp_path / f"range{preroll}.mp4"
        cli(clip, "-o", out, "--in", "60", "--out", "84", "--preroll", str(preroll), *common)
        got = frames_of(out)
        assert len(got) == 24
        jumps[preroll] = float(np.abs(got[0].astype(np.float32) - whole[60].astype(np.float32)).mean())
        if preroll:
            assert ewarp(got[0], got[1]) <= 1.2 * ewarp(whole[60], whole[61])
    assert jumps[12] < jumps[0]


# -- batch and conform -----------------------------------------------------------
EDL = """TITLE: conform test
FCM: NON-DROP FRAME

001  AX       V     C        00:00:00:00 00:00:00:12 00:00:00:00 00:00:00:12
* FROM CLIP NAME: clip_a.mov
002  AX       V     C        00:00:00:06 00:00:01:00 00:00:00:12 00:00:01:06
* FROM CLIP NAME: clip_b.mov
003  AX       V     C        00:00:01:00 00:00:01:12 00:00:01:06 00:00:01:18
* FROM CLIP NAME: clip_a.mov
"""


def conform_cli(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["conform", *map(str, args), "--device", "cpu", "--strength", "0"])
    return result.exit_code, result.output


def test_conform_edl_three_events_over_two_clips(tmp_path: Path) -> None:
    """Issue #13 target: 3 events over 2 clips give 3 renders and an .otio OpenTimelineIO reads back."""
    import opentimelineio as otio

    media, out = tmp_path / "media", tmp_path / "out"
    media.mkdir()
    out.mkdir()
    rate = Fraction(24)
    for name in ("clip_a.mov", "clip_b.mov"):
        write_tagged_clip(media / name, 48, rate, size=(64, 48), codec="prores_ks", pix_fmt="yuv422p10le",
                          timecode="00:00:00:00")
    (tmp_path / "edit.edl").write_text(EDL)
    code, output = conform_cli(tmp_path / "edit.edl", "--media", media, "-o", out, "--handles", "2")
    assert code == 0, output
    renders = sorted(p.name for p in out.glob("*.mov"))
    assert renders == ["001_clip_a.mov", "002_clip_b.mov", "003_clip_a.mov"]
    with av.open(str(out / "002_clip_b.mov")) as c:  # frames 6-24 plus 2 handles each side
        assert c.streams.video[0].frames == 22 and str(read_timecode(c)) == "00:00:00:04"
    timeline = otio.adapters.read_from_file(str(out / "edit_conformed.otio"))
    clips = list(timeline.find_clips())
    assert [c.source_range.duration.value for c in clips] == [12, 18, 12]
    assert [Path(c.media_reference.target_url).name for c in clips] == renders
    assert [c.media_reference.available_range.duration.value for c in clips] == [14, 22, 16]
    assert "3 of 3 jobs rendered" in output


def test_conform_missing_clip_is_named_and_the_others_render(tmp_path: Path) -> None:
    media, out = tmp_path / "media", tmp_path / "out"
    media.mkdir()
    out.mkdir()
    write_tagged_clip(media / "clip_a.mov", 48, Fraction(24), size=(64, 48), codec="prores_ks", pix_fmt="yuv422p10le")
    (tmp_path / "edit.edl").write_text(EDL)
    code, output = conform_cli(tmp_path / "edit.edl", "--media", media, "-o", out)
    assert code == 1
    assert "event 2: clip 'clip_b.mov' is not in" in output and "2 of 3 jobs rendered, 1 failed" in output
    assert sorted(p.name for p in out.iterdir()) == ["001_clip_a.mov", "003_clip_a.mov", "edit_conformed.otio"]


ONE_EVENT_EDL = """TITLE: one event
FCM: NON-DROP FRAME

001  AX       V     C        00:00:00:00 00:00:00:04 00:00:00:00 00:00:00:04
* FROM CLIP NAME: clip_a.mov
"""


def test_conform_creates_its_output_folder(tmp_path: Path) -> None:
    """Regression: ``-o renders/`` that did not exist yet was refused ("no such folder")."""
    media, out = tmp_path / "media", tmp_path / "renders" / "reel1"  # parents made too
    media.mkdir()
    write_clip(media / "clip_a.mov", list(range(8)), Fraction(1, 24), rate=Fraction(24))
    (tmp_path / "edit.edl").write_text(ONE_EVENT_EDL)
    code, output = conform_cli(tmp_path / "edit.edl", "--media", media, "-o", out, "--preroll", "0")
    assert code == 0, output
    assert sorted(p.name for p in out.iterdir()) == ["001_clip_a.mov", "edit_conformed.otio"]
    assert len(video_pts_seconds(out / "001_clip_a.mov")) == 4


def test_batch_creates_the_template_folders(tmp_path: Path) -> None:
    """Regression: a template in a folder that did not exist yet failed every job."""
    write_clip(tmp_path / "a.mp4", list(range(3)), TB)
    out = tmp_path / "out" / "styled"
    result = CliRunner().invoke(app, ["batch", str(tmp_path / "*.mp4"), "-o", str(out / "{stem}.mov"),
                                      "--device", "cpu", "--strength", "0"])
    assert result.exit_code == 0, (result.output, result.exception)
    assert [p.name for p in out.iterdir()] == ["a.mov"]
    assert len(video_pts_seconds(out / "a.mov")) == 3


def test_batch_globs_and_template(clip: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        write_clip(tmp_path / f"{name}.mp4", list(range(4)), TB)
    (tmp_path / "out").mkdir()
    (tmp_path / "bad.mp4").write_bytes(b"not a video")
    result = CliRunner().invoke(app, ["batch", str(tmp_path / "*.mp4"), "-o", str(tmp_path / "out" / "{stem}_styled.mov"),
                                      "--device", "cpu", "--strength", "0"])
    assert result.exit_code == 1  # one input failed; the others were rendered
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_styled.mov", "b_styled.mov"]
    assert "bad.mp4" in result.output and "not a readable media file" in result.output
    assert "2 of 3 jobs rendered, 1 failed" in result.output


def test_rgba_sequence_renders_to_a_file_without_alpha(tmp_path: Path) -> None:
    """Regression: an 8-bit RGBA PNG sequence carries Frame.alpha; the sink seam takes it
    (and a sink that cannot hold alpha drops it) instead of failing with a TypeError."""
    import cv2

    for i in range(4):
        bgra = np.zeros((36, 64, 4), np.uint8)
        bgra[..., :3] = picture(i, 64, 36)[..., ::-1]
        bgra[..., 3] = 255 - 40 * i
        cv2.imwrite(str(tmp_path / f"s_{i:04d}.png"), bgra)
    out = tmp_path / "o.mp4"
    cli(tmp_path / "s_%04d.png", "-o", out, "--strength", "0")
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 4
