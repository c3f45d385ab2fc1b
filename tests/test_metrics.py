"""The metrics measure what they claim: a video scores ~0 against itself moved by
a known flow, temporal smoothing lowers E_warp, per-frame noise raises it, a
brightness ramp shows as drift; and ``flowstyle eval`` reports it all."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from flowstyle.metrics import drift, evaluate
from synth import write_clip

H, W, N = 72, 96, 12


def texture() -> np.ndarray:
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.random((H, W + 4 * N, 3)).astype(np.float32), (0, 0), 2.0)
    return (big - big.min()) / (big.max() - big.min())


def clip(path: Path, frames: list[np.ndarray]) -> Path:
    """Lossless (FFV1) so the metric sees exactly these frames."""
    rgb = [np.clip(f * 255 + 0.5, 0, 255).astype(np.uint8) for f in frames]
    return write_clip(path, list(range(len(rgb))), Fraction(1, 25), size=(W, H), codec="ffv1", pix_fmt="yuv444p", frames=rgb)


@pytest.fixture(scope="module")
def panning(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[np.ndarray]]:
    """A texture panning 2 px a frame (a known flow)."""
    tex = texture()
    frames = [np.ascontiguousarray(tex[:, 2 * t:2 * t + W]) for t in range(N)]
    return clip(tmp_path_factory.mktemp("m") / "pan.mkv", frames), frames


def test_video_against_itself_moved_by_known_flow_scores_zero(panning) -> None:
    path, _ = panning
    report = evaluate(path, path, loss_every=1000)
    assert report.ewarp < 2e-4 and report.ewarp_original < 2e-4
    assert report.frames == N and report.timing["max_pts_difference_s"] == 0


def test_noise_raises_and_temporal_smoothing_lowers_ewarp(panning, tmp_path: Path) -> None:
    path, frames = panning
    rng = np.random.default_rng(1)
    noisy = [np.clip(f + rng.normal(0, 0.05, f.shape), 0, 1).astype(np.float32) for f in frames]
    # Temporal smoothing along the (known) motion: average with the previous frame moved into place.
    smooth = [noisy[0]] + [0.5 * noisy[t] + 0.5 * np.roll(noisy[t - 1], -2, axis=1) for t in range(1, N)]
    e_noisy = evaluate(path, clip(tmp_path / "noisy.mkv", noisy), loss_every=1000).ewarp
    e_smooth = evaluate(path, clip(tmp_path / "smooth.mkv", smooth), loss_every=1000).ewarp
    e_clean = evaluate(path, path, loss_every=1000).ewarp
    assert e_clean < e_smooth < e_noisy
    assert e_noisy == pytest.approx(2 * 0.05**2, rel=0.35)  # two independent noise draws


def test_drift_of_a_brightness_ramp(tmp_path: Path) -> None:
    still = texture()[:, :W] * 0.5 + 0.2
    ramp = [still * (1 + 0.01 * t) for t in range(16)]
    report = evaluate(clip(tmp_path / "still.mkv", [still] * 16), clip(tmp_path / "ramp.mkv", ramp), loss_every=1000)
    assert report.drift_original < 0.005
    assert report.drift == pytest.approx(drift([1 + 0.01 * t for t in range(1, 16)]), rel=0.1)
    assert report.flicker == pytest.approx(0.01 * still.mean(), rel=0.3)


def test_eval_cli_with_style_reference_json_and_plot(media: Path, panning, tmp_path: Path) -> None:
    path, frames = panning
    rng = np.random.default_rng(2)
    other = clip(tmp_path / "other.mkv", [np.clip(f + rng.normal(0, 0.03, f.shape), 0, 1) for f in frames])
    out_json, out_png = tmp_path / "r.json", tmp_path / "r.png"
    proc = subprocess.run([sys.executable, "-m", "flowstyle", "eval", str(path), str(other), "--reference", str(path),
                           "--style", str(media / "styles" / "udnie.jpg"), "--json", str(out_json),
                           "--plot", str(out_png), "--loss-every", "4"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "E_warp" in proc.stdout and "style loss" in proc.stdout
    data = json.loads(out_json.read_text())
    assert data["ewarp"] > data["ewarp_reference"]
    assert data["style_loss"] > 0 and data["content_loss"] > 0 and data["content_loss_reference"] < data["content_loss"]
    assert len(data["per_frame"]["ewarp"]) == N - 1
    assert out_png.stat().st_size > 1000


def test_sharpness_is_the_luma_laplacian_variance(panning, tmp_path: Path) -> None:
    """Sharpness is bounded both ways against a reference: blur lowers it, seams raise it."""
    from flowstyle.metrics import laplacian_variance

    flat = np.full((H, W, 3), 128, np.uint8)
    assert laplacian_variance(flat) == 0.0
    stripes = flat.copy()
    stripes[:, ::2] = 138  # columns alternate 128/138: Laplacian +-20 inside the frame
    assert laplacian_variance(stripes) == pytest.approx(400.0, rel=0.05)
    path, frames = panning
    blurred = [cv2.GaussianBlur(f, (0, 0), 1.5) for f in frames]
    seams = [f.copy() for f in frames]
    for s in seams:
        s[::6] = 1.0 - s[::6]  # jagged bright/dark lines
    r_blur = evaluate(path, clip(tmp_path / "blur.mkv", blurred), reference=path, loss_every=0)
    r_seam = evaluate(path, clip(tmp_path / "seam.mkv", seams), reference=path, loss_every=0)
    assert r_blur.sharpness_ratio < 0.5 < 2.0 < r_seam.sharpness_ratio
    assert r_blur.style_loss is None  # loss_every=0 computes no VGG losses


def test_ewarp_can_be_scored_with_another_flow(panning) -> None:
    path, _ = panning
    for flow in ("dis-medium", "farneback"):
        report = evaluate(path, path, flow=flow, loss_every=0)
        assert report.flow == flow and report.ewarp < 5e-4


def test_eval_refuses_or_explains_clips_that_differ(panning, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from flowstyle.errors import FlowstyleError

    path, frames = panning
    with pytest.raises(FlowstyleError, match="unknown flow method 'magic'"):
        evaluate(path, path, flow="magic", loss_every=0)
    square = write_clip(tmp_path / "square.mkv", list(range(N)), Fraction(1, 25), size=(H, H), codec="ffv1",
                        pix_fmt="yuv444p", frames=[np.ascontiguousarray((f[:, :H] * 255).astype(np.uint8)) for f in frames])
    with pytest.raises(FlowstyleError, match=r"square\.mkv: original clip is 72x72 but pan\.mkv is 96x72: different shapes"):
        evaluate(square, path, loss_every=0)
    short = clip(tmp_path / "short.mkv", frames[:8])
    half = write_clip(tmp_path / "half.mkv", list(range(N)), Fraction(1, 50), rate=Fraction(50), size=(W // 2, H // 2), codec="ffv1",
                      pix_fmt="yuv444p", frames=[cv2.resize((f * 255).astype(np.uint8), (W // 2, H // 2),
                                                            interpolation=cv2.INTER_AREA) for f in frames])
    caplog.clear()
    report = evaluate(half, short, loss_every=0)
    assert report.frames == 8
    said = [r.getMessage() for r in caplog.records]
    assert any("original clip is 48x36, short.mkv is 96x72: scaled to 96x72" in m for m in said), said
    assert any("half.mkv: frame 2 of the original clip is shown at 0.040 s, of short.mkv at 0.080 s: frames are "
               "paired by index, not by time" in m for m in said), said
    assert any("more frames than the others" in m and "(8 compared)" in m for m in said), said


def test_eval_pairs_by_time_not_by_declared_rate(panning, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A clip declared at one rate whose decoded frames are spaced otherwise (an AVI with empty,
    dropped frames, like tree.avi: 15 f/s declared, 2.28 f/s decoded) and its render, which keeps
    the frames' times: the same pictures at the same times, so no warning."""
    from flowstyle.io.reader import VideoReader

    _, frames = panning
    rgb = [np.clip(f * 255 + 0.5, 0, 255).astype(np.uint8) for f in frames]
    sparse = write_clip(tmp_path / "sparse.mkv", [6 * i for i in range(N)], Fraction(1, 150), rate=Fraction(150),
                        size=(W, H), codec="ffv1", pix_fmt="yuv444p", frames=rgb)
    dense = write_clip(tmp_path / "dense.mkv", list(range(N)), Fraction(1, 25), size=(W, H), codec="ffv1",
                       pix_fmt="yuv444p", frames=rgb)
    with VideoReader(sparse) as a, VideoReader(dense) as b:
        assert a.rate != b.rate  # what the old check compared and warned on
        assert [f.time for f in a] == pytest.approx([f.time for f in b], abs=1e-6)
    caplog.clear()
    report = evaluate(sparse, dense, loss_every=0)
    assert report.frames == N and report.ewarp < 5e-4
    assert not [r.getMessage() for r in caplog.records if "paired by index" in r.getMessage()]


def test_gram_loss_per_layer_splits_the_style_loss(media: Path, panning, tmp_path: Path) -> None:
    """Each layer's Gram term, (B,) per layer, sums to the style loss; evaluate reports them and their
    ratios to the reference, so a render that keeps the shapes but loses the finest texture shows it."""
    import torch

    from flowstyle.losses import STYLE_LAYERS, gram, style_loss
    from flowstyle.metrics import gram_loss_per_layer

    g = torch.Generator().manual_seed(0)
    feats = {layer: torch.rand(2, 4 + i, 6, 8, generator=g) for i, layer in enumerate(STYLE_LAYERS)}
    target = {layer: gram(torch.rand(1, 4 + i, 5, 5, generator=g)) for i, layer in enumerate(STYLE_LAYERS)}
    by_layer = gram_loss_per_layer(feats, target)
    assert list(by_layer) == list(STYLE_LAYERS) and all(v.shape == (2,) for v in by_layer.values())
    torch.testing.assert_close(sum(by_layer.values()), style_loss(feats, target))
    assert list(gram_loss_per_layer(feats, target, ["relu2_1"])) == ["relu2_1"]
    path, frames = panning
    blurred = clip(tmp_path / "blur.mkv", [cv2.GaussianBlur(f, (0, 0), 2.0) for f in frames])
    report = evaluate(path, blurred, style_image=media / "styles" / "udnie.jpg", reference=path, loss_every=1000)
    assert list(report.style_layers) == list(STYLE_LAYERS) == list(report.style_layers_reference)
    assert sum(report.style_layers.values()) == pytest.approx(report.style_loss, rel=1e-5)
    assert report.layer_ratio("relu1_1") == pytest.approx(report.style_layers["relu1_1"]
                                                          / report.style_layers_reference["relu1_1"])
    assert report.layer_ratio("relu9_9") is None
