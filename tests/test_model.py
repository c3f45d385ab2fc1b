"""The network's building blocks against references: conditional instance norm
equals instance norm with per-sample affine parameters, and style blends are
linear in the norm parameters (Dumoulin et al. 2017); the faster forms of the
upsampling and output convolutions (issue #17) compute the plain definition."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flowstyle.models.arbitrary import ArbitraryTransformer
from flowstyle.models.layers import (PHASE, PLAIN, SPACE_TO_DEPTH, conditional_instance_norm, conv_form, form_bias,
                                     form_input, form_kernel, form_output, reflect_conv)
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


def plain_reflect_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, stride: int,
                       upsample: bool) -> torch.Tensor:
    """The definition: nearest x2 upsampling, reflect padding of kernel // 2, convolution."""
    if upsample:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
    pad = weight.shape[-1] // 2
    return F.conv2d(F.pad(x, (pad,) * 4, mode="reflect"), weight, bias, stride=stride)


# (in, out, kernel, upsample, input size): the layers of both networks that take the faster
# forms, plus odd sizes and a bias; sizes stay small so float64 is quick.
SHAPES = [(32, 8, 3, True, (9, 16)), (8, 4, 3, True, (5, 7)), (16, 8, 3, True, (6, 10)), (32, 16, 3, True, (3, 4)),
          (4, 3, 9, False, (12, 20)), (8, 3, 9, False, (16, 12)), (3, 2, 5, False, (6, 8))]


def test_conv_form_only_where_it_is_exact_and_faster() -> None:
    assert conv_form((32, 32, 3, 3), 2, False, (90, 160)) == PLAIN  # stride 2
    assert conv_form((32, 3, 9, 9), 1, False, (360, 640)) == PLAIN  # 32 outputs: oneDNN is fine
    assert conv_form((3, 4, 9, 9), 1, False, (361, 640)) == PLAIN  # odd size: no 2x2 space-to-depth


@pytest.mark.parametrize("cin,cout,k,upsample,size", SHAPES)
@pytest.mark.parametrize("bias", [False, True])
def test_faster_conv_forms_compute_the_definition(cin: int, cout: int, k: int, upsample: bool,
                                                  size: tuple[int, int], bias: bool) -> None:
    g = torch.Generator().manual_seed(cin * 100 + k)
    x = torch.randn(2, cin, *size, generator=g, dtype=torch.float64)
    w = torch.randn(cout, cin, k, k, generator=g, dtype=torch.float64)
    b = torch.randn(cout, generator=g, dtype=torch.float64) if bias else None
    ref = plain_reflect_conv(x, w, b, 1, upsample)
    form = conv_form(w.shape, 1, upsample, size)
    assert form == (PHASE if upsample else SPACE_TO_DEPTH)
    fast = form_output(F.conv2d(form_input(x, form, k, upsample), form_kernel(w, form), form_bias(b, form)), form)
    assert fast.shape == ref.shape
    torch.testing.assert_close(fast, ref, atol=1e-10, rtol=1e-10)
    with torch.no_grad():  # reflect_conv picks the form itself at inference on the CPU
        torch.testing.assert_close(reflect_conv(x, w, b, 1, upsample), ref, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-5), (torch.bfloat16, 2e-2)])
def test_networks_give_the_same_frames_with_and_without_the_faster_forms(dtype: torch.dtype, tol: float) -> None:
    """Whole networks: with autograd on, reflect_conv takes the plain form (training
    keeps its measured behaviour); at inference the faster forms. The frames agree to
    float rounding (bf16: its own rounding of the summed upsampling kernels)."""
    torch.manual_seed(0)
    x = torch.rand(1, 3, 36, 52)
    multi = load_multistyle(torch.device("cpu"), dtype)
    style = torch.zeros(26)
    style[7] = 1.0
    arbitrary = ArbitraryTransformer().to(dtype)
    params = arbitrary.norm_params(torch.randn(100) * 0.1)
    for run in (lambda: multi(x, style), lambda: arbitrary(x, params)):
        with torch.enable_grad():
            plain = run().detach()
        with torch.no_grad():
            fast = run()
        torch.testing.assert_close(fast, plain, atol=tol, rtol=0)
