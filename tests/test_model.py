"""The network's building blocks against references: conditional instance norm
equals instance norm with per-sample affine parameters, and style blends are
linear in the norm parameters (Dumoulin et al. 2017); the faster forms of the
upsampling and output convolutions (issue #17) compute the plain definition."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from flowstyle.models.arbitrary import ArbitraryTransformer
from flowstyle.models.layers import (PHASE, PLAIN, SPACE_TO_DEPTH, antialias_kernel, conditional_instance_norm, conv_form,
                                     form_bias, form_input, form_kernel, form_output, reflect_conv)
from flowstyle.models.multistyle import MultiStyleNet
from flowstyle.registry import load_state_dict
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
    """The definition: nearest x2 upsampling, padding of kernel // 2 (the doubled map's edge
    replicated: for 3x3 kernels the same as reflecting it), convolution."""
    if upsample:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
    pad = weight.shape[-1] // 2
    if upsample and pad == 1:
        torch.testing.assert_close(F.pad(x, (1,) * 4, mode="reflect"), F.pad(x, (1,) * 4, mode="replicate"))
    return F.conv2d(F.pad(x, (pad,) * 4, mode="replicate" if upsample else "reflect"), weight, bias, stride=stride)


# (in, out, kernel, upsample, input size): the layers of both networks that take the faster
# forms, plus odd sizes and a bias; sizes stay small so float64 is quick.
SHAPES = [(32, 8, 3, True, (9, 16)), (8, 4, 3, True, (5, 7)), (16, 8, 3, True, (6, 10)), (32, 16, 3, True, (3, 4)),
          (32, 8, 5, True, (9, 16)), (8, 4, 5, True, (5, 7)),  # the anti-aliased network's folded kernels
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
    aa = antialiased_shipped().to(dtype)
    for run in (lambda: multi(x, style), lambda: arbitrary(x, params), lambda: aa(x, style)):
        with torch.enable_grad():
            plain = run().detach()
        with torch.no_grad():
            fast = run()
        torch.testing.assert_close(fast, plain, atol=tol, rtol=0)


def antialiased_shipped(cls=MultiStyleNet, name: str = "multistyle26", fold: bool = False):
    """The shipped weights ``name`` in the anti-aliased form of network ``cls`` (blurs added, nothing trained),
    as training starts it; ``fold``: with the blurs folded into the kernels, as inference loads it."""
    state = {**load_state_dict(name), "antialias": torch.ones(())}
    net = cls.for_state(state)
    net.load_state_dict(state)
    return net.eval().fold_antialias() if fold else net.eval()


def test_antialias_kernel_is_blur_then_conv() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 4, 20, 24, generator=g, dtype=torch.float64)
    w = torch.randn(5, 4, 3, 3, generator=g, dtype=torch.float64)
    taps = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    blur = (taps[:, None] * taps[None, :]).expand(4, 1, 3, 3)
    ref = F.conv2d(F.conv2d(x, blur, groups=4), w, stride=2)  # valid convs: no border in the comparison
    folded = antialias_kernel(w)
    assert folded.shape == (5, 4, 5, 5)
    torch.testing.assert_close(F.conv2d(x, folded, stride=2), ref, atol=1e-12, rtol=1e-12)
    # After a nearest x2 upsampling the binomial makes it bilinear (align_corners=False) away from the edges.
    small = torch.randn(1, 1, 8, 8, generator=g, dtype=torch.float64)
    up = F.conv2d(F.interpolate(small, scale_factor=2.0, mode="nearest"), blur[:1])
    torch.testing.assert_close(up, F.interpolate(small, scale_factor=2.0, mode="bilinear")[..., 1:-1, 1:-1])


def test_antialiased_network_folds_and_moves_its_strokes_with_the_content() -> None:
    """The anti-aliased form (training folds its blurs each step, inference once at load) gives the
    same frames both ways, its weights say what they are, and content moved by 2 px (half the
    shipped network's 4 px grid) keeps its strokes better than the shipped network's do."""
    net = antialiased_shipped()
    shipped = load_multistyle(torch.device("cpu"), torch.float32)
    state = net.state_dict()
    assert "antialias" in state and MultiStyleNet.for_state(state).contract[1].antialias
    assert not MultiStyleNet.for_state(load_state_dict("multistyle26")).contract[1].antialias
    with pytest.raises(RuntimeError):  # plain weights do not load into the anti-aliased network silently
        MultiStyleNet(antialias=True).load_state_dict(load_state_dict("multistyle26"))
    style = torch.zeros(26)
    style[7] = 1.0
    x = torch.from_numpy(real_crop()).permute(2, 0, 1)[None].float() / 255.0
    with torch.enable_grad():
        trained_form = net(x, style).detach()
    folded = antialiased_shipped(fold=True)
    assert folded.contract[1].w.shape[-1] == 5 and folded.expand[0].w.shape[-1] == 5
    with torch.no_grad():
        torch.testing.assert_close(folded(x, style), trained_form, atol=2e-5, rtol=0)
    assert shift_error(lambda y: folded(y, style), x) < 0.7 * shift_error(lambda y: shipped(y, style), x)


def shift_error(run, x: torch.Tensor) -> float:
    """Mean squared difference of the outputs of ``x`` and of ``x`` moved by 2 px, on the part both see."""
    with torch.no_grad():
        a, b = run(x[..., :, :-2]), run(x[..., :, 2:])
    return float((a[..., 16:-16, 18:-16] - b[..., 16:-16, 16:-18]).pow(2).mean())


def real_crop():
    """A 96x132 crop of a real frame (a moved test picture needs real texture, not noise)."""
    import cv2

    from flowstyle.train.pictures import registry_pictures

    picture = cv2.imread(str(registry_pictures()[0] / "astronaut.png"))
    assert picture is not None
    h, w = picture.shape[:2]
    return cv2.cvtColor(picture[h // 2 - 48:h // 2 + 48, w // 2 - 66:w // 2 + 66], cv2.COLOR_BGR2RGB)


def test_antialiased_arbitrary_network_folds_and_moves_its_strokes_with_the_content() -> None:
    """The same for the arbitrary-style transformer (its stride-2 convs have biases; nothing trained)."""
    from flowstyle.stylize.arbitrary import load_transformer

    net = antialiased_shipped(ArbitraryTransformer, "arbitrary_transform")
    shipped = load_transformer(torch.device("cpu"), torch.float32)
    params = shipped.norm_params(torch.randn(100, generator=torch.Generator().manual_seed(5)) * 0.5)
    x = torch.from_numpy(real_crop()).permute(2, 0, 1)[None].float() / 255.0
    with torch.enable_grad():
        trained_form = net(x, params).detach()
    folded = antialiased_shipped(ArbitraryTransformer, "arbitrary_transform", fold=True)
    assert folded.contract[1].weight.shape[-1] == 5 and folded.expand[1].weight.shape[-1] == 5
    assert folded.contract[0].weight.shape[-1] == 9 and folded.residual[0][0].weight.shape[-1] == 3
    with torch.no_grad():
        torch.testing.assert_close(folded(x, params), trained_form, atol=2e-5, rtol=0)
    assert shift_error(lambda y: folded(y, params), x) < 0.7 * shift_error(lambda y: shipped(y, params), x)
