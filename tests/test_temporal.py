"""Temporal steps on inputs with known answers, and temporal renders of real clips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from flowstyle import RenderConfig, render
from flowstyle.io.reader import SizePolicy
from flowstyle.metrics import evaluate
from flowstyle.stylize.options import StyleOptions
from flowstyle.temporal import TemporalOptions
from flowstyle.temporal.anchors import TextureAnchors
from flowstyle.temporal.blind import BlindStabilizer, screened_poisson
from flowstyle.temporal.multiband import MultiBandPropagation
from synth import video_pts_seconds

H, W = 48, 64


def smooth_texture(seed: int, sigma: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(cv2.GaussianBlur(rng.random((H, W, 3)).astype(np.float32), (0, 0), sigma) * 2 - 0.5, 0, 1)


def u8(img: np.ndarray) -> np.ndarray:
    """Float image in [0, 1] -> uint8 frame, as the temporal steps take them."""
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def moved(img: np.ndarray, dx: float) -> np.ndarray:
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
    return cv2.remap(img, xs - dx, ys, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def pan_flow(dx: float) -> tuple[np.ndarray, np.ndarray]:
    flow = np.zeros((H, W, 2), np.float32)
    flow[..., 0] = -dx  # backward: each pixel came from dx to the left
    mask = np.ones((H, W), np.float32)
    mask[:, : int(np.ceil(dx)) + 1] = 0  # entered the frame
    return flow, mask


def test_anchors_carry_texture_exactly_with_the_flow() -> None:
    """Per-frame results that flicker (a new texture each frame) are replaced by the first
    frame's texture moving with the flow: sampled once, so it stays sharp."""
    base = smooth_texture(0)
    anchors = TextureAnchors(max_anchors=4, track_sigma=0)
    anchors.step(u8(base), None, None)
    for t in range(1, 30):
        flicker = u8(smooth_texture(100 + t))  # what a per-frame stylizer might paint instead
        flow, mask = pan_flow(0.37)
        out = anchors.step(flicker, flow, mask).astype(np.float32) / 255
    truth = moved(base, 0.37 * 29)
    inner = (slice(4, -4), slice(16, -4))
    assert np.abs(out - truth)[inner].mean() < 0.01
    # Detail kept: no accumulated interpolation blur after 29 sub-pixel moves.
    grad = lambda im: np.abs(np.diff(im[inner], axis=1)).mean()  # noqa: E731
    assert grad(out) > 0.95 * grad(truth)


def test_pixels_entering_the_frame_are_new_even_if_the_mask_trusts_them() -> None:
    """A pan brings in columns whose source lies outside the previous frame: they must
    take the current stylization, not repeat the edge column (streaks), even when a
    coarse mask calls them reliable."""
    anchors = TextureAnchors(track_sigma=0)
    anchors.step(u8(smooth_texture(0)), None, None)
    flow, _ = pan_flow(3.0)
    current = u8(smooth_texture(9))
    out = anchors.step(current, flow, np.ones((H, W), np.float32))
    np.testing.assert_array_equal(out[:, :3], current[:, :3])


def test_anchor_count_stays_bounded_and_output_valid() -> None:
    rng = np.random.default_rng(3)
    anchors = TextureAnchors(max_anchors=3, track_sigma=4)
    anchors.step(u8(smooth_texture(0)), None, None)
    for t in range(1, 40):
        flow = (rng.random((H, W, 2)).astype(np.float32) - 0.5) * 2
        flow[..., 1] += 0.45  # a steady vertical stretch: remainders add up, coordinates stay in their anchor
        mask = (rng.random((H, W)) > 0.2).astype(np.float32)  # new pixels every frame
        out = anchors.step(u8(smooth_texture(t)), flow, mask)
        assert out.shape == (H, W, 3) and out.dtype == np.uint8
        assert (anchors.cy >= -1).all() and (anchors.cy <= H).all()  # cubic taps stay in the anchor
        assert set(np.unique(anchors.slot)) <= set(np.flatnonzero(anchors.used))


def test_static_scene_does_not_drift_or_flicker() -> None:
    base = smooth_texture(5)
    anchors = TextureAnchors()
    outs = [anchors.step(u8(base), None, None)]
    rng = np.random.default_rng(1)
    for _ in range(120):
        noisy = u8(base + rng.normal(0, 0.05, base.shape).astype(np.float32))
        outs.append(anchors.step(noisy, np.zeros((H, W, 2), np.float32), np.ones((H, W), np.float32)))
    outs = np.stack(outs).astype(np.float32) / 255
    assert np.abs(np.diff(outs, axis=0)).mean() < 0.01  # input flickers at ~0.056 mean abs
    q = len(outs) // 4
    assert abs(outs[-q:].mean() - outs[:q].mean()) / outs[:q].mean() < 0.02


def test_anchors_follow_low_frequency_changes() -> None:
    """A fade (lighting change) in the per-frame results comes through; texture stays."""
    base = smooth_texture(7) * 0.5
    anchors = TextureAnchors(track_sigma=8)
    anchors.step(u8(base), None, None)
    for t in range(1, 20):
        out = anchors.step(u8(base + 0.02 * t), np.zeros((H, W, 2), np.float32), np.ones((H, W), np.float32))
    assert abs(out.mean() / 255 - (base.mean() + 0.38)) < 0.02


def test_screened_poisson_limits() -> None:
    p, w = smooth_texture(1), smooth_texture(2)
    np.testing.assert_allclose(screened_poisson(p, w, np.zeros((H, W), np.float32), 1.0), p, atol=1e-5)
    strong = screened_poisson(p, w, np.ones((H, W), np.float32), 1e4, iterations=50)
    assert np.abs(strong - w).mean() < 0.01


def test_blind_removes_brightness_flicker_keeps_gradients() -> None:
    base = smooth_texture(4) * 0.6 + 0.2
    stab = BlindStabilizer(lam=0.5, iterations=60)
    zero, ones = np.zeros((H, W, 2), np.float32), np.ones((H, W), np.float32)
    stab.step(u8(base), None, None)
    outs = [stab.step(u8(base + (0.08 if t % 2 else -0.08)), zero, ones).astype(np.float32) / 255 for t in range(1, 10)]
    assert np.abs(np.diff([o.mean() for o in outs])).max() < 0.02  # input jumps by 0.16
    np.testing.assert_allclose(np.diff(outs[-1], axis=1), np.diff(base, axis=1), atol=0.025)


def lapvar(img: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_32F).var())


def test_multiband_steadies_a_flickering_texture_without_losing_its_sharpness() -> None:
    """A static scene whose per-frame results are a new texture every frame: the output
    changes far less from frame to frame, and keeps the per-frame texture's sharpness
    (the energy of each band is restored; a plain average would halve it)."""
    step = MultiBandPropagation()
    zero, ones = np.zeros((H, W, 2), np.float32), np.ones((H, W), np.float32)
    frames = [u8(smooth_texture(100 + t, sigma=0.7)) for t in range(30)]
    outs = [step.step(frames[0], None, None)] + [step.step(f, zero, ones) for f in frames[1:]]
    per_frame_change = np.mean([np.abs(frames[t].astype(float) - frames[t - 1]).mean() for t in range(20, 30)])
    change = np.mean([np.abs(outs[t].astype(float) - outs[t - 1]).mean() for t in range(20, 30)])
    assert change < 0.5 * per_frame_change  # 0.42 measured: the finest band keeps only half of the past
    ratio = np.mean([lapvar(o) for o in outs[20:]]) / np.mean([lapvar(f) for f in frames[20:]])
    assert 0.85 <= ratio <= 1.2, ratio


def test_multiband_carries_texture_with_the_flow() -> None:
    """A pan of 1.5 px a frame with fresh per-frame noise: the output follows the motion
    (small error against its own previous frame moved by the flow) and stays sharp."""
    base = smooth_texture(7, sigma=1.0)
    rng = np.random.default_rng(0)
    step = MultiBandPropagation()
    flow, mask = pan_flow(1.5)
    outs, frames = [], []
    for t in range(16):
        frames.append(u8(moved(base, 1.5 * t) + rng.normal(0, 0.06, base.shape).astype(np.float32)))
        outs.append(step.step(frames[-1], None if t == 0 else flow, None if t == 0 else mask))
    inner = (slice(4, -4), slice(8, -4))
    err = lambda seq, t: np.abs(seq[t][inner].astype(float) - moved(seq[t - 1].astype(np.float32), 1.5)[inner]).mean()  # noqa: E731
    assert np.mean([err(outs, t) for t in range(8, 16)]) < 0.5 * np.mean([err(frames, t) for t in range(8, 16)])
    ratio = np.mean([lapvar(o) for o in outs[8:]]) / np.mean([lapvar(f) for f in frames[8:]])
    assert 0.85 <= ratio <= 1.2, ratio


def test_multiband_without_trust_is_the_per_frame_result_and_feathers_a_change_of_trust() -> None:
    a, b = u8(smooth_texture(11, sigma=0.7)), u8(smooth_texture(12, sigma=0.7))
    zero = np.zeros((H, W, 2), np.float32)
    step = MultiBandPropagation()
    step.step(a, None, None)
    assert np.abs(step.step(b, zero, np.zeros((H, W), np.float32)).astype(int) - b).max() <= 1
    step = MultiBandPropagation()
    step.step(a, None, None)
    half = np.zeros((H, W), np.float32)
    half[:, : W // 2] = 1.0
    out = step.step(b, zero, half)
    # No seam where the trust switches: the strip around it is no sharper than the per-frame frame there.
    strip = (slice(None), slice(W // 2 - 4, W // 2 + 4))
    assert lapvar(np.ascontiguousarray(out[strip])) <= 1.2 * lapvar(np.ascontiguousarray(b[strip]))
    assert np.abs(out[:, -8:].astype(int) - b[:, -8:]).mean() < 2.0  # untrusted side: the current frame


def test_multiband_drops_past_texture_the_present_does_not_paint() -> None:
    """A trusted flow that is wrong (issue #12: fast, blurred motion) drags the past's
    texture over a region the network paints flat now: the texture check takes the
    present there, while a past whose texture matches the present's is still blended."""
    h, w = 64, 256  # wide enough for the 16 px energy windows of the two halves not to mix
    rng = np.random.default_rng(0)
    texture = lambda: u8(cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 0.7) * 2 - 0.5)  # noqa: E731
    past, now = texture(), texture()
    now[:, : w // 2] = 128  # left half: painted flat now; right half: another texture of the same kind
    zero, ones = np.zeros((h, w, 2), np.float32), np.ones((h, w), np.float32)
    left, right = (slice(None), slice(0, w // 2 - 48)), (slice(None), slice(w // 2 + 48, None))
    step = MultiBandPropagation()
    step.step(past, None, None)
    out = step.step(now, zero, ones).astype(float)
    assert np.abs(out[left] - 128).mean() < 1.0  # no foreign texture: the flat present
    # Where both are textured the past still takes its share (the finest band's 0.5 and more below).
    share = np.abs(out[right] - now[right]).mean() / np.abs(past[right].astype(float) - now[right]).mean()
    assert 0.3 < share < 0.9, share
    # Without the check (ratios too high to act) the flat half would carry the past's texture.
    old = MultiBandPropagation(texture_ratio=(1e3, 2e3))
    old.step(past, None, None)
    assert np.abs(old.step(now, zero, ones).astype(float)[left] - 128).mean() > 10.0


def test_multiband_texture_keeps_the_per_frame_strength_when_that_flickers() -> None:
    """Issue #12, session 8: the energy gain is two-sided. A still texture whose strength the
    network varies frame to frame (0.6-1.4x at random) comes out at the mean strength, not
    pumped towards the strongest frames. Gained only upwards, each frame's boost was kept by
    the past and nothing took it back: 1.10x the per-frame mean here (two-sided: 1.02x)."""
    h, w = 96, 128
    y, x = np.mgrid[0:h, 0:w]
    pattern = np.sin(x * 1.1) * np.sin(y * 0.9) + 0.5 * np.sin(x * 0.45 + y * 0.3)  # both detail bands
    rng = np.random.default_rng(1)
    step, zero = MultiBandPropagation(), np.zeros((h, w, 2), np.float32)
    amplitudes, strengths = [], []
    for t in range(40):
        a = rng.uniform(0.6, 1.4)
        out = step.step(np.dstack([u8(0.5 + 40 / 255 * a * pattern)] * 3), None if t == 0 else zero, None)
        if t >= 20:  # after the recursion has settled
            amplitudes.append(a)
            strengths.append(out[..., 0].astype(float).std() / 40 / pattern.std())
    ratio = np.mean(strengths) / np.mean(amplitudes)
    assert 0.95 < ratio < 1.05, ratio


def finest_halves(x: np.ndarray) -> tuple[float, float]:
    """Luma energy of the finest Laplacian band's upper and lower halves (split at a Gaussian of 0.8 px)."""
    y = cv2.cvtColor(x.astype(np.float32), cv2.COLOR_RGB2GRAY)
    band = y - cv2.resize(cv2.pyrDown(y), (y.shape[1], y.shape[0]), interpolation=cv2.INTER_LINEAR)
    low = cv2.GaussianBlur(band, (0, 0), 0.8)
    return float(((band - low) ** 2).mean()), float((low ** 2).mean())


def test_multiband_does_not_raise_lasting_texture_to_make_up_for_changing_texture() -> None:
    """Issue #12, session 10: a still texture whose lower half of the finest band lasts while
    its upper half is repainted every frame (as a network repaints its finest strokes). The
    blend averages the changing half down, not the lasting one; one gain matched on the
    band's highest frequencies gave the lasting half 2.22x its energy in the per-frame frames
    (coarser strokes: Gram up on the udnie rows). Each half restored on its own
    (restore_spectrum): 1.54x, measured; the upper half stays near its own energy."""
    h, w = 96, 128
    rng = np.random.default_rng(3)
    blur = lambda x, s: cv2.GaussianBlur(x, (0, 0), s)  # noqa: E731
    n0 = rng.normal(size=(h, w)).astype(np.float32)
    lasting = blur(n0, 1.0) - blur(n0, 2.0)
    lasting *= 20 / lasting.std()
    zero, ones = np.zeros((h, w, 2), np.float32), np.ones((h, w), np.float32)
    step, highs, lows = MultiBandPropagation(), [], []
    for t in range(40):
        n = rng.normal(size=(h, w)).astype(np.float32)
        changing = n - blur(n, 0.8)
        changing *= 20 / changing.std()
        frame = np.dstack([np.clip(128 + lasting + changing, 0, 255)] * 3).astype(np.uint8)
        out = step.step(frame, None if t == 0 else zero, None if t == 0 else ones)
        if t >= 20:
            (ho, lo), (hf, lf) = finest_halves(out), finest_halves(frame)
            highs.append(ho / hf)
            lows.append(lo / lf)
    assert np.mean(lows) < 1.7, np.mean(lows)
    assert 0.9 < np.mean(highs) < 1.2, np.mean(highs)


def test_multiband_keeps_the_saturation_of_colours_that_flicker() -> None:
    """Issue #12, session 8: a still scene whose per-frame saturation swings 0.5-1.5x at
    random. The coarse band's blend of them is less saturated than their mean; its chroma is
    brought back to the present's (restore_chroma). Measured: 1.00x the per-frame mean with
    it, 0.94x without. Luma is untouched."""
    h, w = 64, 96
    zero, ones = np.zeros((h, w, 2), np.float32), np.ones((h, w), np.float32)
    rng = np.random.default_rng(0)
    tint = np.array([40.0, 0.0, -40.0])
    frames = [np.clip(128.0 + tint * rng.uniform(0.5, 1.5) + np.zeros((h, w, 1)), 0, 255).astype(np.uint8)
              for _ in range(80)]

    def saturation(x: np.ndarray) -> float:
        return float(x[..., 0].astype(float).mean() - x[..., 2].astype(float).mean())

    for chroma_rho, lo, hi in ((256.0, 0.98, 1.02), (None, 0.90, 0.96)):
        step = MultiBandPropagation(chroma_rho=chroma_rho)
        outs = [step.step(frames[0], None, None)] + [step.step(f, zero, ones, ones) for f in frames[1:]]
        ratio = np.mean([saturation(o) for o in outs[60:]]) / np.mean([saturation(f) for f in frames[60:]])
        assert lo < ratio < hi, (chroma_rho, ratio)
        luma = np.mean([o.astype(float) @ [0.299, 0.587, 0.114] for o in outs[60:]])
        ref = np.mean([f.astype(float) @ [0.299, 0.587, 0.114] for f in frames[60:]])
        assert abs(luma - ref) < 1.0, (luma, ref)


def test_multiband_lets_a_lasting_change_of_hue_through() -> None:
    """The chroma restoration acts only where the blend's hue agrees with the present's: a
    still scene that turns from orange to blue at the same luma (the photometric check sees
    nothing) reaches blue as it does without restoration. Restoring the blend's magnitude
    regardless held the orange for ever (measured: (153, 113, 73) after 110 frames)."""
    h, w = 64, 96
    zero, ones = np.zeros((h, w, 2), np.float32), np.ones((h, w), np.float32)
    orange, blue = np.array([40.0, 0.0, -40.0]), np.array([-40.0, 0.0, 40.0])
    frames = [np.clip(np.full((h, w, 3), 128.0) + (orange if t < 10 else blue), 0, 255).astype(np.uint8)
              for t in range(120)]
    step = MultiBandPropagation()
    outs = [step.step(frames[0], None, None)] + [step.step(f, zero, ones, ones) for f in frames[1:]]
    assert np.abs(outs[-1].astype(float) - frames[-1]).max() <= 2.0, outs[-1][0, 0]
    assert outs[40][0, 0, 2] > outs[40][0, 0, 0]  # blue by frame 40 (30 frames after the change)


def test_multiband_follows_lighting_and_does_not_drift() -> None:
    """The coarse band converges to the per-frame result: a lighting change comes through
    within a few dozen frames and a still scene settles exactly where the network puts it."""
    base = smooth_texture(5) * 0.5 + 0.2
    step = MultiBandPropagation()
    zero, ones = np.zeros((H, W, 2), np.float32), np.ones((H, W), np.float32)
    step.step(u8(base), None, None)
    for _ in range(150):
        out = step.step(u8(base + 0.2), zero, ones)
    assert abs(out.mean() / 255 - (base.mean() + 0.2)) < 0.01


def test_temporal_render_keeps_timing_and_lowers_ewarp(media: Path, tmp_path: Path) -> None:
    src = media / "videos" / "bigbuckbunny.mp4"
    results = {}
    for mode in ("none", "flow"):
        dst = tmp_path / f"{mode}.mp4"
        cfg = RenderConfig(style=StyleOptions(style="blue-brush"), size=SizePolicy(max_width=256),
                           temporal=TemporalOptions(mode=mode))
        render(src, dst, cfg)
        np.testing.assert_allclose(video_pts_seconds(dst), video_pts_seconds(src), atol=0.02)
        results[mode] = evaluate(src, dst, reference=tmp_path / "none.mp4" if mode != "none" else None, loss_every=0)
    flow = results["flow"]
    # 0.54 measured at 256 px, where the render sits at the original clip's own E_warp (its floor).
    assert flow.ewarp < 0.65 * results["none"].ewarp
    assert 0.85 <= flow.sharpness_ratio <= 1.2  # neither blurred nor torn (issue #12)
    assert flow.ratio("flicker") < 0.95  # 0.86 measured here; the texture anchors made static pixels flicker more (issue #12)


def test_unknown_mode_is_refused() -> None:
    from flowstyle.errors import FlowstyleError

    with pytest.raises(FlowstyleError, match="unknown temporal mode"):
        TemporalOptions(mode="magic")
    with pytest.raises(FlowstyleError, match="unknown flow method"):
        TemporalOptions(flow="nope")
