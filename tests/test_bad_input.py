"""Bad input: one clear line naming the file and the problem, a non-zero exit, no
output file, the input untouched (issue #2). Exercised through the real CLI in a
subprocess so tracebacks would show."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from flowstyle import FlowstyleError, RenderConfig, render
from flowstyle.render import Progress
from synth import video_pts_seconds, write_clip


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowstyle", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", list(range(6)), Fraction(1, 25), audio_seconds=0.24)


def audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        a = out.add_stream("aac", rate=48000, layout="stereo")
        for start in range(0, 48000 // 4, 1024):
            f = av.AudioFrame.from_ndarray(np.zeros((2, 1024), np.float32), format="fltp", layout="stereo")
            f.sample_rate, f.pts = 48000, start
            out.mux(a.encode(f))
        out.mux(a.encode(None))
    return path


def test_missing_file(tmp_path: Path) -> None:
    proc = run_cli("render", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "out.mp4"))
    assert_one_line_error(proc, "nope.mp4", "no such file")
    assert not (tmp_path / "out.mp4").exists()


def test_not_a_media_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    # Seeded, not os.urandom: about one random 5000-byte file in 300 probes as an LRC
    # lyrics file (a subtitle stream), which fails this test with "no video stream".
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    proc = run_cli("render", str(junk), "-o", str(tmp_path / "out.mp4"))
    assert_one_line_error(proc, "junk.mp4", "not a readable media file")
    assert not (tmp_path / "out.mp4").exists()


def test_audio_only_file(tmp_path: Path) -> None:
    src = audio_only(tmp_path / "sound.m4a")
    proc = run_cli("render", str(src), "-o", str(tmp_path / "out.mp4"))
    assert_one_line_error(proc, "sound.m4a", "no video stream")
    assert not (tmp_path / "out.mp4").exists()


def test_zero_decodable_frames(tmp_path: Path, clip: Path) -> None:
    # A valid container whose video packets are garbage: opens, but nothing decodes.
    bad = tmp_path / "garbage.mkv"
    with av.open(str(clip)) as src, av.open(str(bad), "w") as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.size:
                junk = av.Packet(b"\x00\x00\x01" + os.urandom(packet.size))
                junk.pts, junk.dts, junk.time_base, junk.stream = packet.pts, packet.dts, packet.time_base, out
                dst.mux(junk)
    proc = run_cli("render", str(bad), "-o", str(tmp_path / "out.mp4"))
    assert_one_line_error(proc, "garbage.mkv", "no decodable video frames")
    assert not (tmp_path / "out.mp4").exists()


def test_unknown_style(tmp_path: Path, clip: Path) -> None:
    proc = run_cli("render", str(clip), "-o", str(tmp_path / "out.mp4"), "--style", "nosuchstyle")
    assert_one_line_error(proc, "unknown style", "nosuchstyle")
    assert not (tmp_path / "out.mp4").exists()


def test_unwritable_output_directory(tmp_path: Path, clip: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):  # running as root: permissions do not bind
            proc = run_cli("render", str(clip), "-o", str(tmp_path / "missing" / "out.mp4"))
            assert_one_line_error(proc, "does not exist")
        else:
            proc = run_cli("render", str(clip), "-o", str(ro / "out.mp4"))
            assert_one_line_error(proc, "not writable")
    finally:
        ro.chmod(0o700)
    assert list(ro.iterdir()) == []


def test_missing_output_directory(tmp_path: Path, clip: Path) -> None:
    # One file into a missing folder stays refused, as ffmpeg refuses it (only batch and conform make theirs).
    proc = run_cli("render", str(clip), "-o", str(tmp_path / "no" / "such" / "out.mp4"))
    assert_one_line_error(proc, "out.mp4", "does not exist")
    assert not (tmp_path / "no").exists()


EDL_ONE_EVENT = "TITLE: t\n\n001  AX  V  C  00:00:00:00 00:00:00:04 00:00:00:00 00:00:00:04\n* FROM CLIP NAME: clip.mp4\n"


@pytest.mark.parametrize("command", ["conform", "batch"])
def test_output_folder_that_is_a_file_is_one_line(tmp_path: Path, clip: Path, command: str) -> None:
    """batch and conform make a missing output folder, but not over a file: one line naming the path."""
    (tmp_path / "edit.edl").write_text(EDL_ONE_EVENT)
    blocker = tmp_path / "renders"
    blocker.write_text("a file")
    for folder, needles in [(blocker, [str(blocker), "is a file, not a folder"]),
                            (blocker / "reel1", [str(blocker / "reel1"), f"{blocker} is a file"])]:
        if command == "conform":
            proc = run_cli("conform", str(tmp_path / "edit.edl"), "--media", str(clip.parent), "-o", str(folder))
        else:
            proc = run_cli("batch", str(clip), "-o", str(folder / "{stem}.mov"))
        assert_one_line_error(proc, *needles)
    assert blocker.read_text() == "a file"


@pytest.mark.parametrize("command", ["conform", "batch"])
def test_output_folder_that_cannot_be_created_is_one_line(tmp_path: Path, clip: Path, command: str) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: permissions do not bind")
        (tmp_path / "edit.edl").write_text(EDL_ONE_EVENT)
        if command == "conform":
            proc = run_cli("conform", str(tmp_path / "edit.edl"), "--media", str(clip.parent), "-o", str(ro / "new"))
        else:
            proc = run_cli("batch", str(clip), "-o", str(ro / "new" / "{stem}.mov"))
        assert_one_line_error(proc, str(ro / "new"), "cannot create this folder", "ermission denied")
    finally:
        ro.chmod(0o700)
    assert list(ro.iterdir()) == []


def test_output_equal_to_input_is_refused_and_input_untouched(tmp_path: Path, clip: Path) -> None:
    before = hashlib.sha256(clip.read_bytes()).hexdigest()
    proc = run_cli("render", str(clip), "-o", str(clip), "--overwrite")
    assert_one_line_error(proc, "is the input file")
    # The same file reached through another path is refused too.
    link = tmp_path / "alias.mp4"
    link.symlink_to(clip)
    proc = run_cli("render", str(clip), "-o", str(link), "--overwrite")
    assert_one_line_error(proc, "is the input file")
    assert hashlib.sha256(clip.read_bytes()).hexdigest() == before


def test_existing_output_needs_overwrite(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"precious")
    proc = run_cli("render", str(clip), "-o", str(out))
    assert_one_line_error(proc, "already exists", "--overwrite")
    assert out.read_bytes() == b"precious"
    proc = run_cli("render", str(clip), "-o", str(out), "--overwrite", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert len(video_pts_seconds(out)) == 6


def test_failed_render_leaves_no_file_and_keeps_the_old_one(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old render")

    def interrupt(p: Progress) -> None:
        if p.done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render(clip, out, RenderConfig(), overwrite=True, progress=interrupt)
    assert out.read_bytes() == b"old render"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temporary left behind


def test_truncated_file_renders_what_decodes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # Matroska indexes as it goes, so a file cut mid-stream still opens (like a
    # recording that was interrupted); an mp4 with its index at the end would not.
    full = write_clip(tmp_path / "full.mkv", list(range(40)), Fraction(1, 25), size=(128, 96), codec="libx264",
                      options={"g": "5"})
    data = full.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    out = tmp_path / "out.mp4"
    report = render(cut, out, RenderConfig())
    assert 10 < report.frames < 40
    assert len(video_pts_seconds(out)) == report.frames  # a valid, complete file
    assert report.lost_frames == 40 - report.frames
    assert any("could not be decoded" in r.getMessage() and str(report.lost_frames) in r.getMessage() for r in caplog.records)


def test_library_errors_are_flowstyle_errors(tmp_path: Path) -> None:
    with pytest.raises(FlowstyleError, match="no such file"):
        render(tmp_path / "none.mp4", tmp_path / "o.mp4")


@pytest.mark.parametrize("name,problem", [("out.webm", "cannot hold H.264"), ("out.xyz", "unknown container extension")])
def test_output_container_that_cannot_be_written(tmp_path: Path, clip: Path, name: str, problem: str) -> None:
    proc = run_cli("render", str(clip), "-o", str(tmp_path / name))
    assert_one_line_error(proc, name, problem)
    assert list(tmp_path.iterdir()) == []  # not even a temporary file


def test_gatys_needs_a_painting(tmp_path: Path, clip: Path) -> None:
    out = tmp_path / "out.mp4"
    proc = run_cli("render", str(clip), "-o", str(out), "--method", "gatys", "--style", "blue-brush")
    assert_one_line_error(proc, "painting", "blue-brush")
    proc = run_cli("render", str(clip), "-o", str(out), "--method", "gatys", "--style", str(tmp_path / "none.jpg"))
    assert_one_line_error(proc, "none.jpg", "no such painting file")
    assert not out.exists() and not (tmp_path / "out.mp4.flowstyle-work").exists()


def test_gatys_bad_settings_are_one_line(tmp_path: Path, clip: Path, media: Path) -> None:
    painting = str(media / "styles" / "udnie.jpg")
    base = ("render", str(clip), "-o", str(tmp_path / "out.mp4"), "--method", "gatys", "--style", painting)
    assert_one_line_error(run_cli(*base, "--temporal-offsets", "1,x"), "--temporal-offsets", "1,x")
    assert_one_line_error(run_cli(*base, "--temporal-offsets", "2,1"), "--temporal-offsets", "(2, 1)")
    assert_one_line_error(run_cli(*base, "--optimizer", "sgd"), "--optimizer", "'sgd'")
    assert_one_line_error(run_cli(*base, "--precision", "fp16"), "--precision")
    assert_one_line_error(run_cli("render", str(clip), "-o", str(tmp_path / "o.mp4"), "--method", "magic"), "--method", "magic")
    assert not list(tmp_path.iterdir())


def test_gatys_cli_resume_refuses_changed_settings(tmp_path: Path, clip: Path, media: Path) -> None:
    """A work folder left by an earlier render with other settings: one-line refusal naming
    the setting, the frames kept; --restart discards them and renders."""
    out = tmp_path / "out.mp4"
    painting = str(media / "styles" / "udnie.jpg")
    args = ("render", str(clip), "-o", str(out), "--method", "gatys", "--style", painting, "--max-width", "48",
            "--first-iterations", "3", "--iterations", "2", "--quiet", "--keep-work")
    assert run_cli(*args).returncode == 0
    work = tmp_path / "out.mp4.flowstyle-work"
    assert len(list(work.glob("*.png"))) == 6
    out.unlink()
    proc = run_cli(*args, "--iterations", "3")
    assert_one_line_error(proc, "out.mp4.flowstyle-work", "gatys.iterations", "--restart")
    assert len(list(work.glob("*.png"))) == 6 and not out.exists()
    assert run_cli(*args, "--iterations", "3", "--restart").returncode == 0 and out.exists()


def test_gatys_refuses_feed_forward_only_options_in_one_line(tmp_path: Path, clip: Path, media: Path) -> None:
    """Issue #13: an option that does not apply to --method gatys is refused, not silently ignored."""
    base = ("render", str(clip), "-o", str(tmp_path / "out.mp4"), "--method", "gatys",
            "--style", str(media / "styles" / "udnie.jpg"))
    assert_one_line_error(run_cli(*base, "--temporal", "blind"), "--temporal", "'blind'")
    assert_one_line_error(run_cli(*base, "--strength", "0.5"), "--strength")
    assert_one_line_error(run_cli(*base, "--keyframes-every", "0"), "--keyframes-every", "0")
    assert_one_line_error(run_cli(*base, "--keyframes-every", "4", "--temporal", "none"), "--keyframes-every",
                          "--temporal none")
    assert not list(tmp_path.iterdir())


def test_gatys_temporal_none_is_per_frame_gatys(tmp_path: Path, clip: Path, media: Path) -> None:
    """Issue #13: --temporal none with --method gatys renders per frame (temporal weight 0,
    content initialisation), and a small size (64x28, below the pyramid's 32 px floor) works."""
    out = tmp_path / "out.mp4"
    proc = run_cli("render", str(clip), "-o", str(out), "--method", "gatys", "--style", str(media / "styles" / "udnie.jpg"),
                   "--temporal", "none", "--size", "64x28", "--first-iterations", "2", "--iterations", "2",
                   "--keep-work", "--quiet")
    assert proc.returncode == 0, proc.stderr
    import json

    key = json.loads((tmp_path / "out.mp4.flowstyle-work" / "key.json").read_text())
    assert key["gatys"]["temporal_weight"] == 0 and key["gatys"]["init"] == "content" and key["size"] == [64, 28]
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 6


# -- issue #13: sequences, codecs, timecode and ranges ---------------------------------------------
def _pngs(folder: Path, sizes: dict[int, tuple[int, int]]) -> Path:
    folder.mkdir()
    for n, (w, h) in sizes.items():
        with av.open(str(folder / f"shot_{n:04d}.png"), "w", format="image2") as out:
            s = out.add_stream("png", rate=24)
            s.width, s.height, s.pix_fmt = w, h, "rgb24"
            out.mux(s.encode(av.VideoFrame.from_ndarray(np.full((h, w, 3), 40 * n % 255, np.uint8), format="rgb24")))
            out.mux(s.encode(None))
    return folder / "shot_%04d.png"


def test_sequence_with_a_gap_or_mixed_sizes_is_one_line(tmp_path: Path) -> None:
    gap = _pngs(tmp_path / "gap", {1: (32, 24), 2: (32, 24), 4: (32, 24)})
    out = tmp_path / "out.mp4"
    assert_one_line_error(run_cli("render", str(gap), "-o", str(out)), "shot_0003.png", "missing frame 3", "--allow-gaps")
    mixed = _pngs(tmp_path / "mixed", {1: (32, 24), 2: (32, 24), 3: (48, 24)})
    # Found when the odd image is read: the sequence's INFO lines (rate, range) come before the one error line.
    for dst in (out, tmp_path / "seq" / "f_%04d.png"):
        proc = run_cli("render", str(mixed), "-o", str(dst), "--fps", "24")
        errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("flowstyle: error")]
        assert proc.returncode == 1 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert "shot_0003.png: is 48x24, but the sequence is 32x24" in errors[0] and "one size" in errors[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gap", "mixed"]  # nothing partial, no temporary folder


@pytest.mark.parametrize("args,needles", [
    (["--codec", "vp9"], ["out.mov", "unknown --codec 'vp9'"]),
    (["--codec", "prores", "--profile", "ultra"], ["out.mov", "no profile 'ultra'"]),
    (["--codec", "prores", "--pix-fmt", "yuv420p"], ["out.mov", "cannot carry --pix-fmt yuv420p"]),
    (["--in", "01:00:xx:00"], ["--in", "'01:00:xx:00' is not a position"]),
    (["--in", "00:00:00:30"], ["--in", "not a timecode at 25.000 fps"]),
    (["--in", "4", "--out", "2"], ["clip.mp4", "--in 4 (frame 4) must come before --out 2 (frame 2)"]),
    (["--in", "100"], ["clip.mp4", "--in 100 (frame 100) is past the clip's last frame (6 frames)"]),
    (["--out", "7s"], ["clip.mp4", "--out 7s (frame 175) is past the clip's end"]),
])
def test_bad_codec_timecode_or_range_is_one_line(tmp_path: Path, clip: Path, args: list[str],
                                                 needles: list[str]) -> None:
    proc = run_cli("render", str(clip), "-o", str(tmp_path / "out.mov"), *args)
    assert_one_line_error(proc, *needles)
    assert list(tmp_path.iterdir()) == []


def test_container_that_cannot_hold_the_codec_is_one_line(tmp_path: Path, clip: Path) -> None:
    proc = run_cli("render", str(clip), "-o", str(tmp_path / "out.mp4"), "--codec", "prores")
    assert_one_line_error(proc, "out.mp4", "cannot hold ProRes")
    assert list(tmp_path.iterdir()) == []


# A byte inside the video track's handler name ("VideoHandler") of the shared clip.
DAMAGED_BYTE = 1_051_842


def test_damaged_metadata_is_read_with_one_warning(tmp_path: Path, media: Path) -> None:
    shared = media / "videos" / "bigbuckbunny.mp4"
    if not shared.exists():
        pytest.skip(f"{shared} not found")
    data = bytearray(shared.read_bytes())
    name = data.find(b"VideoHandler")
    assert name <= DAMAGED_BYTE < name + len(b"VideoHandler"), "the shared clip changed"
    data[DAMAGED_BYTE] = 0x9B  # not valid UTF-8: PyAV's strict decoding raised UnicodeDecodeError
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))

    def warnings(proc: subprocess.CompletedProcess) -> list[str]:
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        return [ln for ln in proc.stderr.splitlines() if "damaged metadata" in ln]

    probe = run_cli("probe", str(damaged))
    assert "h264 1280x720" in probe.stdout
    (line,) = warnings(probe)  # one line, though probe opens the file twice
    assert str(damaged) in line and "replacement characters" in line

    out = tmp_path / "out.mp4"
    rendered = run_cli("render", str(damaged), "-o", str(out), "--out", "5", "--max-width", "160",
                       "--temporal", "none", "-q")  # audio kept: the audio copy opens the input again
    (line,) = warnings(rendered)
    assert str(damaged) in line and "replacement characters" in line
    assert len(video_pts_seconds(out)) == 5
