"""Optical flow, warping and reliability on inputs with known answers: a
translated texture has a known flow; a square moving over a still background
reveals a known region; Sintel frames come with ground-truth flow."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from flowstyle.flow import FLOW_METHODS, make_flow_backend, reliability_mask, warp
from flowstyle.temporal.stabilizer import OCCLUSION_CHECKS, estimate_motion
from flowstyle.flow.warp import inside_frame


def texture(h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = cv2.GaussianBlur(rng.random((h, w, 3)).astype(np.float32), (0, 0), 2.0)
    img = (img - img.min()) / (img.max() - img.min())
    return (img * 255).astype(np.uint8)


def shifted(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``img`` moved by (dx, dy): out(x, y) = img(x - dx, y - dy)."""
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(img, xs - dx, ys - dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def to_t(flow: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(flow).permute(2, 0, 1)[None]


@pytest.mark.parametrize("method", list(FLOW_METHODS))
def test_translation_has_the_known_flow(method: str) -> None:
    a = texture()
    b = shifted(a, 3.0, -2.0)
    flow = make_flow_backend(method)(a, b)  # a -> b: a(x) = b(x + flow)
    inner = flow[16:-16, 16:-16].reshape(-1, 2)
    np.testing.assert_allclose(np.median(inner, axis=0), (3.0, -2.0), atol=0.3)


def test_reduced_resolution_flow_is_rescaled() -> None:
    a = texture(128, 160)
    b = shifted(a, 4.0, 2.0)
    flow = make_flow_backend("dis-medium", scale=0.5)(a, b)
    assert flow.shape == (128, 160, 2)
    np.testing.assert_allclose(np.median(flow[20:-20, 20:-20].reshape(-1, 2), axis=0), (4.0, 2.0), atol=0.4)


def test_photometric_check_at_working_scale_matches_full_size() -> None:
    """The temporal mode checks occlusion on the reduced frames the flow was computed on;
    with the boundary threshold stated in full-frame pixels it marks the same regions."""
    h, w = 120, 160
    bg = texture(h, w, seed=1)
    square = texture(40, 40, seed=2)
    prev, cur = bg.copy(), bg.copy()
    prev[40:80, 30:70] = square
    cur[40:80, 42:82] = square  # moved 12 px right: columns 30..41 revealed
    full = estimate_motion(prev, cur, make_flow_backend("dis-medium"), occlusion="photometric").mask
    small = estimate_motion(prev, cur, make_flow_backend("dis-medium", 0.5), occlusion="photometric")
    assert small.mask.shape == (h, w) and small.flow_bwd.shape == (h, w, 2)
    for mask in (full, small.mask):
        assert mask[5:30, 10:150].mean() > 0.9  # background above the square
        assert mask[46:74, 31:40].mean() < 0.5  # revealed
    assert np.abs(full - small.mask)[5:-5, 5:-5].mean() < 0.15  # 0.11 measured: the edges of the moving square differ


def test_warp_convention_integer_shift() -> None:
    img = torch.rand(1, 3, 20, 30)
    flow = torch.zeros(1, 2, 20, 30)
    flow[:, 0], flow[:, 1] = 2.0, -1.0
    out = warp(img, flow)
    # out[y, x] = img[y - 1, x + 2]
    torch.testing.assert_close(out[..., 1:, :-2], img[..., :-1, 2:])
    assert inside_frame(flow)[0, 0, 0].sum() == 0  # row 0 samples row -1
    assert inside_frame(flow)[0, 0, 5, -2:].sum() == 0  # last columns sample past the edge


def test_warp_is_differentiable() -> None:
    img = torch.rand(1, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    flow = (torch.rand(1, 2, 8, 8, dtype=torch.float64) - 0.5).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda i, f: warp(i, f), (img, flow), eps=1e-6, atol=1e-4)


def test_reliability_marks_disocclusion_and_frame_edges() -> None:
    h, w = 80, 100
    bg = texture(h, w, seed=1)
    square = texture(24, 24, seed=2)
    prev, cur = bg.copy(), bg.copy()
    prev[30:54, 20:44] = square
    cur[30:54, 28:52] = square  # moved 8 px right: columns 20..27 are revealed in cur
    backend = make_flow_backend("dis-medium")
    pan = shifted(bg, 5.0, 0.0)
    for check in OCCLUSION_CHECKS:
        mask = estimate_motion(prev, cur, backend, occlusion=check).mask
        assert mask[5:25, 10:90].mean() > 0.9, check  # still background
        assert mask[34:50, 21:26].mean() < 0.5, check  # revealed behind the square
        # A pure pan: columns whose source lies outside the previous frame are unreliable.
        mask = estimate_motion(bg, pan, backend, occlusion=check).mask
        assert mask[10:-10, :4].mean() < 0.2 and mask[10:-10, 20:-20].mean() > 0.9, check


def test_forward_backward_check_follows_ruder_thresholds() -> None:
    """Ruder et al.'s inequality on constructed flows: a consistent pair passes, a
    backward flow whose forward partner disagrees by more than the tolerance fails,
    and a step in the flow (motion boundary) fails on both sides of the step."""
    h, w = 20, 30
    bwd = np.zeros((h, w, 2), np.float32)
    bwd[..., 0] = -2.0
    fwd = -bwd
    assert reliability_mask(bwd, fwd)[:, 3:].min() == 1.0  # columns 0-1 sample outside
    assert reliability_mask(bwd, fwd)[:, :2].max() == 0.0
    off = fwd.copy()
    off[5:10, 10:20, 1] = 0.8  # |w + w^|^2 = 0.64 > 0.01 * 8.64 + 0.5
    assert reliability_mask(bwd, off)[6:9, 13:19].max() == 0.0
    off[5:10, 10:20, 1] = 0.6  # 0.36 < 0.5 + 0.01 * 8.36: within tolerance
    assert reliability_mask(bwd, off)[6:9, 13:19].min() == 1.0
    step = bwd.copy()
    step[:, 15:, 0] = -6.0  # a moving object's edge
    m = reliability_mask(step, -step, motion_boundaries=True)
    assert m[:, 14:16].max() == 0.0 and m[:, 8:12].min() == 1.0
    assert reliability_mask(step, -step, motion_boundaries=False)[:, 14].min() == 1.0


def read_flo(path: Path) -> np.ndarray:
    data = np.fromfile(path, np.float32)
    assert data[0] == np.float32(202021.25)
    w, h = data[1:3].view(np.int32)
    return data[3:].reshape(h, w, 2)


@pytest.mark.parametrize("seq,max_epe", [("alley_1", 0.6), ("cave_2", 3.0)])
def test_sintel_end_point_error(media: Path, seq: str, max_epe: float) -> None:
    root = media / "sintel_flow" / seq
    a = np.asarray(Image.open(root / "clean" / "frame_0002.png").convert("RGB"))
    b = np.asarray(Image.open(root / "clean" / "frame_0003.png").convert("RGB"))
    gt = read_flo(root / "flow" / "frame_0002.flo")
    invalid = np.asarray(Image.open(root / "invalid" / "frame_0002.png")) > 0
    flow = make_flow_backend("dis-medium")(a, b)
    epe = np.linalg.norm(flow - gt, axis=-1)[~invalid].mean()
    assert epe < max_epe  # measured 0.34 and 1.64 px
