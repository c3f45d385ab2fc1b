"""Painted keys carried along the flow: ``render --keyframe N=FILE`` and ``--keyframes-every N``.

Known answers first: a textured scene moving by a known sub-pixel shift, keyed with a
painting that is a pointwise function of the frame, must come out as that painting of
every frame in between (the propagation follows the motion), exactly the keys at the key
frames, with the keys' sharpness (no blur that grows with the distance), and a held frame
gives a held output. Then the render: timing, frame count and lossless keys on a real
clip, keys painted by flowstyle itself, and every bad input (one line, nothing written).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from flowstyle import RenderConfig, render
from flowstyle.cli import app, flag
from flowstyle.errors import ConfigError, FlowstyleError
from flowstyle.io.reader import SizePolicy, VideoReader
from flowstyle.io.writer import EncodeOptions
from flowstyle.keyed.options import PaintedKeyOptions
from flowstyle.keyed.plan import Shot, spans
from flowstyle.metrics import laplacian_variance
from flowstyle.stylize.keyframes import KeyframeOptions
from flowstyle.stylize.options import StyleOptions
from flowstyle.temporal import TemporalOptions
from flowstyle.temporal.propagate import FlowPairs, PropagationOptions, fine_energy, propagate_span, restore_fine
from synth import write_clip

W, H = 160, 96


def texture(seed: int = 0, width: int = W + 64, height: int = H) -> np.ndarray:
    """A smooth random colour texture (blobs of a few px): structure the flow can follow everywhere."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height, width, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min())
    return (smooth * 255).astype(np.uint8)


def moving(n: int, speed: float) -> list[np.ndarray]:
    """Frames of a camera panning over ``texture()`` at ``speed`` px a frame (sub-pixel, Lanczos)."""
    tex = texture()
    out = []
    for i in range(n):
        m = np.float32([[1, 0, i * speed], [0, 1, 0]])
        out.append(cv2.warpAffine(tex, m, (W, H), flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REFLECT))
    return out


def paint(rgb: np.ndarray) -> np.ndarray:
    """A 'painting' that is a pointwise function of the frame: what it looks like anywhere is known."""
    lut = np.clip((np.arange(256) / 255.0) ** 0.6 * 255 * np.linspace(0.8, 1.0, 256), 0, 255).astype(np.uint8)
    return cv2.LUT(rgb, lut)[..., ::-1].copy()  # channels swapped too: unlike the frame itself


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(cv2.PSNR(np.ascontiguousarray(a), np.ascontiguousarray(b)))


def test_keys_are_carried_along_the_motion_and_kept_exactly_at_key_frames() -> None:
    frames = moving(25, 1.3)
    key_a, key_b = paint(frames[0]), paint(frames[-1])
    out = list(propagate_span(frames, key_a, key_b, FlowPairs("dis-medium")))
    assert len(out) == len(frames)
    assert np.array_equal(out[0], key_a) and np.array_equal(out[-1], key_b)
    inner = (slice(8, H - 8), slice(8, W - 48))  # away from the edge where the pan brings new content in
    for i in (6, 12, 18):
        truth = paint(frames[i])
        assert psnr(out[i][inner], truth[inner]) > 30.0, i
        # Not the frame itself, nor a key left in place: the painting moved with the content.
        assert psnr(out[i][inner], key_a[inner]) < psnr(out[i][inner], truth[inner]) - 6.0


def test_no_blur_that_grows_with_the_distance_from_the_key() -> None:
    frames = moving(41, 0.7)
    key_a, key_b = paint(frames[0]), paint(frames[-1])
    out = list(propagate_span(frames, key_a, key_b, FlowPairs("dis-medium")))
    keys = (laplacian_variance(key_a) + laplacian_variance(key_b)) / 2
    ratios = [laplacian_variance(f) / keys for f in out[1:-1]]
    # Lanczos sampling costs a little at fractional places, the same at 1 frame as at 20.
    assert min(ratios) > 0.80 and max(ratios) < 1.20, ratios
    assert abs(ratios[19] - ratios[2]) < 0.1


def test_the_finest_detail_lost_to_resampling_is_given_back_and_nothing_softened() -> None:
    rng = np.random.default_rng(3)
    key = cv2.resize(rng.uniform(0, 255, (60, 80, 3)).astype(np.float32), (320, 240), interpolation=cv2.INTER_NEAREST)
    # blocks of 4 px with hard edges: painted blobs, with detail up to the Nyquist frequency
    # The key sampled half a pixel off (Lanczos-4): its top octave is gone.
    xs, ys = np.meshgrid(np.arange(320, dtype=np.float32) + 0.5, np.arange(240, dtype=np.float32) + 0.5)
    moved = cv2.remap(key, xs, ys, cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT)
    want = fine_energy(key)
    assert fine_energy(moved) < 0.8 * want
    restored = restore_fine(moved, want, 2.0)
    assert abs(fine_energy(restored) / want - 1.0) < 0.05
    # Only the top octave moves: the picture blurred by 2 px is unchanged (the base is kept).
    blur = lambda p: cv2.GaussianBlur(p, (0, 0), 2.0)  # noqa: E731
    assert np.abs(blur(restored) - blur(moved)).mean() < 0.02 * np.abs(moved).mean()
    # Never softened, never raised past max_gain.
    np.testing.assert_array_equal(restore_fine(key, want / 2, 2.0), key)
    capped = restore_fine(cv2.GaussianBlur(key, (0, 0), 1.5), want, 1.2)
    assert fine_energy(capped) < 0.8 * want
    # In a float picture's scale (deep keys) alike.
    assert abs(fine_energy(restore_fine(moved / 255, want / 255**2, 2.0)) * 255**2 / want - 1.0) < 0.05


def test_one_key_carries_forward_or_backward() -> None:
    frames = moving(12, 1.0)
    key = paint(frames[0])
    ahead = list(propagate_span(frames, key, None, FlowPairs("dis-medium")))
    back = list(propagate_span(frames[::-1], None, paint(frames[-1]), FlowPairs("dis-medium")))
    inner = (slice(8, H - 8), slice(8, W - 24))
    assert np.array_equal(ahead[0], key)
    assert psnr(ahead[8][inner], paint(frames[8])[inner]) > 30.0
    assert np.array_equal(back[-1], paint(frames[-1]))


def with_visitor(frames: list[np.ndarray], first: int, last: int) -> list[np.ndarray]:
    """``frames`` with a square of another texture standing in the middle from frame ``first`` to ``last``:
    content that neither end of the span has."""
    patch = np.where(texture(seed=5, width=24, height=24) > 127, 255, 0).astype(np.uint8)  # no stroke of the keys fits
    out = [f.copy() for f in frames]
    for f in out[first:last + 1]:
        f[36:60, 60:84] = patch
    return out


def test_what_no_key_has_is_painted_anew_where_the_painter_can() -> None:
    frames = with_visitor(moving(13, 1.0), 4, 8)
    key_a, key_b = paint(frames[0]), paint(frames[-1])
    copied = list(propagate_span(frames, key_a, key_b, FlowPairs("dis-medium")))
    asked: list[int] = []

    def fresh(i: int) -> np.ndarray:
        asked.append(i)
        return paint(frames[i])

    out = list(propagate_span(frames, key_a, key_b, FlowPairs("dis-medium"), fresh=fresh))
    square = (slice(40, 56), slice(64, 80))
    right = lambda got, truth: float((np.abs(got.astype(int) - truth).max(axis=2) <= 20).mean())  # noqa: E731
    for i in (5, 6, 7):
        truth = paint(frames[i])[square]
        # Copies of the keys are the nearest the keys have to the square: hardly a pixel right. The painter
        # paints the square itself wherever both passes copy (a dark corner of the square over dark
        # background passes the luma guide, so a pass follows it there: about a third).
        assert right(copied[i][square], truth) < 0.05, i
        assert right(out[i][square], truth) > 0.55, i
        assert psnr(out[i][square], truth) > psnr(copied[i][square], truth) + 10.0, i
    # Where a pass follows its key frame nothing changes; the painter is asked only for frames with new content.
    far = (slice(8, 28), slice(8, 40))
    for i in range(len(frames)):
        assert np.abs(out[i][far].astype(int) - copied[i][far]).max() <= 1, i
    assert asked and set(asked) <= set(range(4, 10)), asked
    assert np.array_equal(out[0], key_a) and np.array_equal(out[-1], key_b)
    # Whatever weight the blend gives a copy, and with one key only, either way.
    heavy = PropagationOptions(fill_weight=0.6)
    for keys in ((key_a, key_b), (key_a, None), (None, key_b)):
        got = list(propagate_span(frames, *keys, FlowPairs("dis-medium"), heavy, fresh=fresh))
        assert right(got[6][square], paint(frames[6])[square]) > 0.55, [k is None for k in keys]


def test_a_held_frame_holds_the_output() -> None:
    frames = moving(10, 1.0)
    frames.insert(5, frames[4].copy())  # a pulldown: frame 5 repeats frame 4
    out = list(propagate_span(frames, paint(frames[0]), paint(frames[-1]), FlowPairs("dis-medium")))
    assert np.array_equal(out[5], out[4])
    assert not np.array_equal(out[6], out[5])


def test_deep_frames_give_deep_pictures() -> None:
    frames = [f.astype(np.float32) / 255 for f in moving(6, 1.0)]
    key = paint((frames[0] * 255).astype(np.uint8))
    out = list(propagate_span(frames, key, None, FlowPairs("dis-medium")))
    assert all(o.dtype == np.float32 and o.min() >= 0 and o.max() <= 1 for o in out)
    assert np.allclose(out[0], key / 255.0, atol=1e-6)


def test_spans_cover_the_shot_once_sharing_the_key_frames() -> None:
    shot = Shot(10, 40, (14, 25))
    assert spans(shot) == [(10, 14, False, True), (14, 25, True, True), (25, 39, True, False)]
    assert spans(Shot(0, 5, (0,))) == [(0, 4, True, False)]


# -- the render ------------------------------------------------------------------------------

def write_moving_clip(path: Path, n: int = 16, speed: float = 1.0, cut_at: int | None = None,
                      audio: bool = False) -> Path:
    frames = moving(n, speed)
    if cut_at is not None:  # a different scene from the cut on
        other = [cv2.flip(texture(seed=7, width=W, height=H), 0) for _ in range(n - cut_at)]
        frames = frames[:cut_at] + [np.roll(o, 2 * i, axis=1) for i, o in enumerate(other)]
    return write_clip(path, list(range(n)), Fraction(1, 24), size=(W, H), rate=Fraction(24), frames=frames,
                      codec="ffv1", pix_fmt="yuv444p", audio_seconds=n / 24 if audio else None,
                      audio_codec="flac" if audio else "aac")


def frames_of(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as r:
        return [f.rgb for f in r]


def write_key(path: Path, rgb: np.ndarray) -> Path:
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return path


def cli(*args: str | Path) -> tuple[int, str]:
    """``flowstyle render ...`` in-process: (exit code, the one error line the CLI prints, or '')."""
    result = CliRunner().invoke(app, ["render", *map(str, args)])
    exc = result.exception
    if isinstance(exc, ConfigError):
        return 1, f"{flag(exc.field)}: {exc.problem}"
    if isinstance(exc, FlowstyleError):
        return 1, str(exc)
    assert exc is None or isinstance(exc, SystemExit), repr(exc)
    return result.exit_code, ""


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    folder = tmp_path_factory.mktemp("keyed")
    path = write_moving_clip(folder / "pan.mkv", audio=True)
    return path, frames_of(path)


def test_render_with_keys_keeps_timing_and_audio_and_the_keys(clip, tmp_path: Path) -> None:
    path, frames = clip
    k0 = write_key(tmp_path / "k0.png", paint(frames[0]))
    k15 = write_key(tmp_path / "k15.png", cv2.resize(paint(frames[15]), (W * 2, H * 2)))  # any size, same aspect
    out = tmp_path / "out.mkv"
    code, line = cli(path, "-o", out, "--keyframe", f"0={k0}", "--keyframe", f"15={k15}", "--codec", "ffv1")
    assert code == 0, line
    result = frames_of(out)
    assert len(result) == len(frames)
    assert psnr(result[0], paint(frames[0])) >= 40.0
    assert psnr(result[15], cv2.resize(cv2.resize(paint(frames[15]), (W * 2, H * 2)), (W, H),
                                       interpolation=cv2.INTER_AREA)) >= 40.0
    with VideoReader(out) as r, VideoReader(path) as s:
        assert [f.pts * f.time_base for f in r] == [f.pts * f.time_base for f in s]
    import av

    with av.open(str(out)) as c:
        assert len(c.streams.audio) == 1


def keys_and_left_matte(frames: list[np.ndarray], folder: Path) -> list[str]:
    """Painted keys on frames 0 and 15 and a matte sequence as long as the clip whose left half is inside
    (``folder/matte/m_%04d.png``); the render arguments of the keys."""
    k0 = write_key(folder / "k0.png", paint(frames[0]))
    k15 = write_key(folder / "k15.png", paint(frames[15]))
    matte = np.zeros((H, W), np.uint8)
    matte[:, : W // 2] = 255
    (folder / "matte").mkdir()
    for i in range(len(frames)):
        cv2.imwrite(str(folder / "matte" / f"m_{i:04d}.png"), matte)
    return ["--keyframe", f"0={k0}", "--keyframe", f"15={k15}", "--codec", "ffv1"]


def test_a_matte_region_shows_its_own_style_over_the_carried_keys(clip, tmp_path: Path) -> None:
    """``--matte`` with ``--matte-style none``: inside the matte (the left half) the frames as filmed, outside
    the pictures carried from the keys, exactly as the render without the matte shows them."""
    path, frames = clip
    keys = keys_and_left_matte(frames, tmp_path)
    code, line = cli(path, "-o", tmp_path / "keys.mkv", *keys)
    assert code == 0, line
    code, line = cli(path, "-o", tmp_path / "both.mkv", *keys, "--matte", tmp_path / "matte" / "m_%04d.png",
                     "--matte-style", "none")
    assert code == 0, line
    carried, both = frames_of(tmp_path / "keys.mkv"), frames_of(tmp_path / "both.mkv")
    assert len(both) == len(frames)
    inside, outside = slice(0, W // 2 - 2), slice(W // 2 + 2, W)  # the matte's edge is soft (feather)
    for i in (0, 7, 15):
        assert psnr(both[i][:, inside], frames[i][:, inside]) > 40
        assert psnr(both[i][:, outside], carried[i][:, outside]) > 40
        assert psnr(both[i][:, inside], carried[i][:, inside]) < 30  # not the keys there
    # A matte with no style of its own shows the keys on both sides.
    code, line = cli(path, "-o", tmp_path / "plain.mkv", *keys, "--matte", tmp_path / "matte" / "m_%04d.png")
    assert code == 0, line
    assert all(psnr(a, b) > 40 for a, b in zip(frames_of(tmp_path / "plain.mkv"), carried))
    # A bad matte: one line, nothing written.
    code, line = cli(path, "-o", tmp_path / "bad.mkv", *keys, "--matte", tmp_path / "missing.png")
    assert code == 1 and "missing.png" in line and not list(tmp_path.glob("bad.mkv*"))


def test_a_network_style_in_a_matte_gets_the_temporal_step_over_the_carried_keys(clip, tmp_path: Path) -> None:
    """``--matte-style 7`` over carried keys: inside the matte the network paints every frame, and with the
    render's temporal step (the default) its strokes follow the 1 px a frame pan more steadily than per frame
    (``--temporal none``); outside, the carried pictures either way, untouched by the step."""
    path, frames = clip
    keys = keys_and_left_matte(frames, tmp_path)
    code, line = cli(path, "-o", tmp_path / "keys.mkv", *keys)
    assert code == 0, line
    runs = {}
    for mode in ("flow", "none"):
        out = tmp_path / f"{mode}.mkv"
        code, line = cli(path, "-o", out, *keys, "--matte", tmp_path / "matte" / "m_%04d.png", "--matte-style", "7",
                         "--temporal", mode)
        assert code == 0, line
        runs[mode] = frames_of(out)
    carried = frames_of(tmp_path / "keys.mkv")
    inside, outside = slice(8, W // 2 - 8), slice(W // 2 + 2, W)

    def warp_error(video: list[np.ndarray]) -> float:
        # The pan moves the content 1 px left a frame: frame t at x is frame t-1 at x + 1.
        return float(np.mean([np.abs(video[t][8:-8, inside].astype(float)
                                     - video[t - 1][8:-8, 9:W // 2 - 7].astype(float)).mean()
                              for t in range(1, len(video))]))

    settled, per_frame = warp_error(runs["flow"]), warp_error(runs["none"])
    assert settled < 0.7 * per_frame, (settled, per_frame)

    def sharpness(video: list[np.ndarray]) -> float:  # steadier, not smeared: the Laplacian energy is kept
        return float(np.mean([cv2.Laplacian(cv2.cvtColor(f[8:-8, inside], cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()
                              for f in video[4:]]))

    assert 0.8 < sharpness(runs["flow"]) / sharpness(runs["none"]) < 1.2
    for video in runs.values():
        assert len(video) == len(frames)
        assert all(psnr(video[i][:, outside], carried[i][:, outside]) > 40 for i in (0, 7, 15))
        assert psnr(video[7][:, inside], carried[7][:, inside]) < 30  # the network's style there, not the keys


def test_keys_in_the_range_only_and_a_range_render(clip, tmp_path: Path) -> None:
    path, frames = clip
    k4 = write_key(tmp_path / "k4.png", paint(frames[4]))
    out = tmp_path / "range.mkv"
    code, line = cli(path, "-o", out, "--in", "4", "--out", "12", "--keyframe", f"4={k4}", "--codec", "ffv1")
    assert code == 0, line
    result = frames_of(out)
    assert len(result) == 8
    assert psnr(result[0], paint(frames[4])) >= 40.0


def keyed_and_per_frame(path: Path, folder: Path, every: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``path`` in style 7 (fp32, lossless) with keys every ``every`` frames carried, and per-frame: their frames."""
    out, per_frame = folder / "every.mkv", folder / "perframe.mkv"
    size, lossless = SizePolicy(), EncodeOptions(codec="ffv1")
    render(path, out, RenderConfig(style=StyleOptions(style="7"), size=size, encode=lossless, precision="fp32",
                                   painted=PaintedKeyOptions(every=every)))
    render(path, per_frame, RenderConfig(style=StyleOptions(style="7"), size=size, encode=lossless, precision="fp32",
                                         temporal=TemporalOptions(mode="none")))
    return frames_of(out), frames_of(per_frame)


def test_keyframes_every_paints_keys_with_the_style(clip, tmp_path: Path) -> None:
    path, _ = clip
    out, per_frame = tmp_path / "every.mkv", tmp_path / "perframe.mkv"
    size, lossless = SizePolicy(), EncodeOptions(codec="ffv1")
    a, b = keyed_and_per_frame(path, tmp_path, 5)
    for k in (0, 5, 10, 15):  # the keys are the style's own frames there
        assert psnr(a[k], b[k]) >= 40.0, k
    assert psnr(a[7], b[7]) < 60.0  # between keys: carried, not repainted

    # Style keys set the style each painted key gets at its time (frame 15 is 0.6 s: style 16).
    keys = KeyframeOptions(("0=7", "0.6s=16"), interpolation="linear")
    render(path, out, RenderConfig(style=StyleOptions(style="7"), size=size, encode=lossless, precision="fp32",
                                   keys=keys, painted=PaintedKeyOptions(every=5)), overwrite=True)
    render(path, per_frame, RenderConfig(style=StyleOptions(style="7"), size=size, encode=lossless, precision="fp32",
                                         keys=keys, temporal=TemporalOptions(mode="none")), overwrite=True)
    a, c = frames_of(out), frames_of(per_frame)
    for k in (0, 5, 10, 15):
        assert psnr(a[k], c[k]) >= 40.0, k
    assert psnr(c[15], b[15]) < 30.0  # the style keys did change the style there


def test_keys_a_network_paints_get_its_painting_where_the_flow_cannot_carry_them(tmp_path: Path) -> None:
    """New content between two keys the network painted is the network's painting of it, not copies of the
    keys (a person running in between two keys: a mosaic of the keys' strokes)."""
    frames = with_visitor(moving(13, 1.0), 4, 8)
    path = write_clip(tmp_path / "visitor.mkv", list(range(13)), Fraction(1, 24), size=(W, H), rate=Fraction(24),
                      frames=frames, codec="ffv1", pix_fmt="yuv444p")
    a, b = keyed_and_per_frame(path, tmp_path, 12)
    square = (slice(40, 56), slice(64, 80))
    for i in (5, 6, 7):
        same = float((np.abs(a[i][square].astype(int) - b[i][square]).max(axis=2) <= 8).mean())
        assert same > 0.5, (i, same)
    background = (slice(8, 28), slice(8, 40))
    assert psnr(a[6][background], b[6][background]) < 45.0  # the rest is carried, not repainted


@pytest.mark.parametrize("args, line", [
    (["--keyframe", "0=missing.png"], "missing.png: no such file"),
    (["--keyframe", "0=notimage.png"], "notimage.png: not a readable image"),
    (["--keyframe", "0=square.png"], "does not have the clip's aspect"),
    (["--keyframe", "99=k.png"], "after the clip's last frame (15)"),
    (["--keyframe", "3=k.png", "--in", "5"], "outside the frames rendered (5 to the end)"),
    (["--keyframe", "3=k.png", "--keyframe", "3=k2.png"], "two keys on frame 3"),
    (["--keyframe", "3"], "is not FRAME=FILE"),
    (["--keyframes-every", "0"], "--keyframes-every: must be 1 or more frames, got 0"),
    (["--keyframe", "0=k.png", "--style-at", "0=7"], "set the style of the keys flowstyle paints"),
])
def test_bad_keys_are_one_line_and_write_nothing(clip, tmp_path: Path, monkeypatch, args: list[str], line: str) -> None:
    path, frames = clip
    monkeypatch.chdir(tmp_path)
    write_key(tmp_path / "k.png", paint(frames[0]))
    write_key(tmp_path / "k2.png", paint(frames[0]))
    write_key(tmp_path / "square.png", cv2.resize(paint(frames[0]), (H, H)))
    (tmp_path / "notimage.png").write_text("not a picture")
    out = tmp_path / "out.mp4"
    code, said = cli(path, "-o", out, *args)
    assert code != 0 and line in said, said
    assert "\n" not in said
    assert not out.exists() and not list(tmp_path.glob("*.part*")) and not list(tmp_path.glob(".out*"))


def test_a_shot_without_a_key_is_refused_unless_a_style_paints_it(tmp_path: Path) -> None:
    path = write_moving_clip(tmp_path / "cut.mkv", n=24, cut_at=12)
    frames = frames_of(path)
    k0 = write_key(tmp_path / "k0.png", paint(frames[0]))
    out = tmp_path / "out.mkv"
    code, line = cli(path, "-o", out, "--keyframe", f"0={k0}")
    assert code != 0 and "the shot of frames 12 to 23 has no key" in line, line
    assert not out.exists()
    code, line = cli(path, "-o", out, "--keyframe", f"0={k0}", "--style", "7", "--codec", "ffv1")
    assert code == 0, line
    result = frames_of(out)
    assert len(result) == 24
    assert psnr(result[0], paint(frames[0])) >= 40.0
    # The second shot is painted by style 7, not carried from the first shot's key across the cut.
    assert psnr(result[12], paint(frames[12])) < 20.0


def test_real_clip_keys_at_640(media: Path, tmp_path: Path) -> None:
    """chaplin at 640 px, two oil-painted keys 20 frames apart: the keys come back at >= 40 dB and
    the frames between keep the keys' sharpness."""
    src = media / "videos" / "chaplin.mp4"
    keys = tmp_path / "keys"
    code = CliRunner().invoke(app, ["frames", str(src), "--at", "0,20", "--max-width", "640", "-o", str(keys)])
    assert code.exit_code == 0, code.stdout
    painted = {}
    for n in (0, 20):
        rgb = cv2.cvtColor(cv2.imread(str(keys / f"{n:04d}.png")), cv2.COLOR_BGR2RGB)
        painted[n] = cv2.cvtColor(cv2.xphoto.oilPainting(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 5, 1), cv2.COLOR_BGR2RGB)
        write_key(keys / f"{n:04d}_oil.png", painted[n])
    out = tmp_path / "chaplin.mkv"
    code, line = cli(src, "-o", out, "--max-width", "640", "--out", "21", "--codec", "ffv1",
                     "--keyframe", f"0={keys / '0000_oil.png'}", "--keyframe", f"20={keys / '0020_oil.png'}")
    assert code == 0, line
    result = frames_of(out)
    assert len(result) == 21
    assert psnr(result[0], painted[0]) >= 40.0 and psnr(result[20], painted[20]) >= 40.0
    keys_sharp = (laplacian_variance(painted[0]) + laplacian_variance(painted[20])) / 2
    ratios = [laplacian_variance(f) / keys_sharp for f in result[1:20]]
    assert 0.8 < min(ratios) and max(ratios) < 1.3, ratios


def test_propagation_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="sampling"):
        PropagationOptions(sampling="bogus")
    with pytest.raises(ConfigError, match="flow"):
        PropagationOptions(flow="bogus")


def test_gatys_keys_set_the_style_loss_the_frames_between_stop_at(media: Path, clip, tmp_path: Path) -> None:
    """--method gatys --keyframes-every 4: the first key is the temporal render's own cold start, a later
    key gets its budget, and each frame between stops at its budget or once its picture as written has
    a style loss within the tolerance of its key's; fewer iterations than the temporal render in all,
    and an interrupted render resumes to the same pictures (the bar is measured again on the saved key)."""
    import dataclasses

    import torch

    from flowstyle.gatys import GatysConfig, GatysOptions
    from flowstyle.gatys.keys import MIN_ITERATIONS
    from flowstyle.gatys.objective import StyleTarget
    from flowstyle.gatys.stylizer import FrameStylizer
    from flowstyle.gatys.workdir import work_path
    from flowstyle.io.media import RangeOptions
    from flowstyle.losses import load_vgg16
    from flowstyle.progress import Progress
    from flowstyle.render import render_gatys
    from flowstyle.stylize.paintings import parse_paintings

    path, _ = clip
    budget = 40
    options = GatysOptions(style=str(media / "styles" / "starry_night.jpg"), first_iterations=30, iterations=budget,
                           key_iterations=20, key_tolerance=0.1, pyramid=1, seed=0)
    config = GatysConfig(options, encode=EncodeOptions(codec="ffv1"), size=SizePolicy(max_width=96), device="cpu",
                         precision="fp32", span=RangeOptions(out_point="8"), keep_work=True)
    keys = PaintedKeyOptions(every=4)

    def render_counting(out: Path, painted: PaintedKeyOptions = PaintedKeyOptions()) -> dict[int, int]:
        seen: list[Progress] = []
        render_gatys(path, out, config, progress=seen.append, painted=painted)
        return {i: max(p.iteration for p in seen if p.item == i) for i in {p.item for p in seen if p.iteration}}

    def pictures(out: Path) -> list[np.ndarray]:  # the checkpoints: the pictures exactly as written
        return [cv2.imread(str(work_path(out) / f"{i:06d}.png"))[..., ::-1].copy() for i in range(8)]

    keyed, plain = tmp_path / "keyed.mkv", tmp_path / "plain.mkv"
    its, plain_its = render_counting(keyed, keys), render_counting(plain)
    a, b = pictures(keyed), pictures(plain)
    assert np.array_equal(a[0], b[0])  # the same cold start
    assert its[0] == plain_its[0] and its[4] <= 20
    vgg = load_vgg16()
    frames = FrameStylizer(options, StyleTarget(parse_paintings(options.style), 1.0, vgg), vgg, torch.device("cpu"))
    loss = [frames.style_loss(p) for p in a]
    between = [1, 2, 3, 5, 6, 7]
    for i in between:
        bar = loss[i - i % 4] * (1 + options.key_tolerance)
        assert its[i] == budget or (its[i] >= MIN_ITERATIONS and loss[i] <= bar), (i, its[i], loss[i], bar)
    assert any(its[i] < budget for i in between), its  # the bar, not the budget, ended frames
    assert sum(its.values()) < 0.7 * sum(plain_its.values()), (its, plain_its)

    resumed = tmp_path / "resumed.mkv"

    def stop_after_six(p: Progress) -> None:
        if p.done == 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_gatys(path, resumed, config, progress=stop_after_six, painted=keys)
    render_gatys(path, resumed, config, painted=keys)
    assert all(np.array_equal(x, y) for x, y in zip(a, pictures(resumed), strict=True))
    changed = dataclasses.replace(config, gatys=dataclasses.replace(options, key_tolerance=0.5))
    with pytest.raises(FlowstyleError, match="key_tolerance"):  # checkpoints of other keys' settings are not mixed in
        render_gatys(path, resumed, changed, overwrite=True, painted=keys)


@pytest.mark.parametrize("size", [(180, 320), (97, 131), (16, 16)])
def test_copies_for_new_pixels_at_any_frame_size(size: tuple[int, int]) -> None:
    """Frame sides that are not multiples of the copy's block size (320x180 renders, odd sizes): every new
    pixel gets a place inside the key."""
    from flowstyle.temporal.propagate import KeyIndex

    h, w = size
    frame = cv2.resize(texture(), (w, h), interpolation=cv2.INTER_AREA)
    index = KeyIndex(frame, PropagationOptions())
    mask = np.zeros((h, w), bool)
    mask[h // 2:, w // 2:] = True  # the bottom-right quarter, up to the last row and column
    mask[0, 0] = True
    cx, cy = index.match(frame, mask)
    assert cx.shape == (int(mask.sum()),)
    assert (cx >= -1).all() and (cx <= w).all() and (cy >= -1).all() and (cy <= h).all()
