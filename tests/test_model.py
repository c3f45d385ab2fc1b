"""The network's building blocks against references: conditional instance norm
equals instance norm with per-sample affine parameters, and style blends are
linear in the norm parameters (Dumoulin et al. 2017)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flowstyle.models.layers import conditional_instance_norm
from flowstyle.models.multistyle import MultiStyleNet
from flowstyle.stylize.feedforward import load_multistyle, pad_to_multiple


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_conditional_instance_norm_matches_instance_norm(dtype: torch.dtype, tol: float, channels_last: bool) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 7, 9, generator=g, dtype=dtype) * 3 + 1
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    gamma = torch.randn(3, 5, generator=g, dtype=dtype)
    beta = torch.randn(3, 5, generator=g, dtype=dtype)
    out = conditional_instance_norm(x, gamma, beta)
    ref = F.instance_norm(x.contiguous(), eps=1e-5) * gamma[:, :, None, None] + beta[:, :, None, None]
    torch.testing.assert_close(out, ref, atol=tol, rtol=tol)


def test_blend_is_linear_in_norm_parameters() -> None:
    net = load_multistyle(torch.device("cpu"), torch.float64)
    layer = net.contract[0]
    w = torch.zeros(26, dtype=torch.float64)
    w[2], w[9] = 0.25, 0.75
    torch.testing.assert_close(w @ layer.gamma, 0.25 * layer.gamma[2] + 0.75 * layer.gamma[9])


def test_output_shape_range_and_batch_independence() -> None:
    net = load_multistyle(torch.device("cpu"), torch.float32)
    x = torch.rand(2, 3, 36, 52)
    w = torch.zeros(26)
    w[5] = 1
    with torch.inference_mode():
        both = net(x, w)
        first = net(x[:1], w)
    assert both.shape == (2, 3, 36, 52)
    assert both.min() >= 0 and both.max() <= 1
    torch.testing.assert_close(both[:1], first, atol=1e-5, rtol=1e-5)  # instance norm: no batch coupling


def test_pad_to_multiple_reflects_and_crops_back() -> None:
    x = torch.rand(1, 3, 37, 50)
    padded, (h, w) = pad_to_multiple(x)
    assert padded.shape[-2:] == (40, 52) and (h, w) == (37, 50)
    torch.testing.assert_close(padded[..., :37, :50], x)
    torch.testing.assert_close(padded[..., 37, :50], x[..., 35, :])  # reflection, not zeros


def test_parameter_count() -> None:
    assert sum(p.numel() for p in MultiStyleNet().parameters()) == 166104
