"""Layers shared by the feed-forward stylization networks (multi-style and arbitrary-style).

Both are the transformer network of Johnson et al. 2016 as Magenta builds it:
reflect padding, nearest x2 upsampling then convolution (against the checkerboard
of transposed convolutions; Odena et al. 2016), and conditional instance norm
(Dumoulin et al. 2017; Ghiasi et al. 2017 predict its parameters from a painting).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor


def conditional_instance_norm(x: Tensor, gamma: Tensor, beta: Tensor, eps: float = 1e-5) -> Tensor:
    """Instance-normalise ``x`` and apply a per-sample, per-channel scale and shift.

    Args:
        x: features, shape (B, C, H, W), any memory format.
        gamma: scale, shape (B, C) or (C,) shared by the batch.
        beta: shift, same shape as ``gamma``.
        eps: added to the biased variance, as in the ONNX graph (1e-5).

    Returns:
        Tensor of shape (B, C, H, W), in the memory format of ``x``.
    """
    # Batch norm in training mode over a batch of one IS instance norm, and unlike
    # F.instance_norm it keeps channels_last and fuses statistics and affine in two
    # passes (measured: 2.1 ms vs 4.5 ms on a 32x360x640 bf16 map, and F.instance_norm
    # drops channels_last, which costs a reorder before every following conv).
    if gamma.dim() == 1:
        gamma = gamma.expand(x.shape[0], -1)
        beta = beta.expand(x.shape[0], -1)
    outs = [
        F.batch_norm(x[i : i + 1], None, None, gamma[i].to(x.dtype), beta[i].to(x.dtype), training=True, eps=eps)
        for i in range(x.shape[0])
    ]
    return outs[0] if len(outs) == 1 else torch.cat(outs)


# How a conv layer is computed (docs/architecture.md, "Where speed comes from"): "plain" (upsample, pad, conv), "phase" (nearest x2
# upsampling + 3x3 conv as one conv of the small map) or "s2d" (a conv to <= 4 channels on the
# 2x2 space-to-depth map). The int8 convs (models/quantize.py) take the plain form through the
# same helpers: the other forms measured no faster in int8.
PLAIN, PHASE, SPACE_TO_DEPTH = "plain", "phase", "s2d"


def reflect_conv(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1, upsample: bool = False) -> Tensor:
    """(Nearest x2 upsampling ->) reflect padding of ``kernel // 2`` -> convolution.

    Returns the output in the memory format the following instance norm is fastest in.
    ``weight`` may also be a callable stand-in with this function's signature: an int8
    conv or a calibration observer (:mod:`flowstyle.models.quantize`, docs/int8.md).

    On the CPU at inference, two kinds of layer run in an equivalent form with fewer
    FLOPs or better shapes for oneDNN (:func:`conv_form`; exact to float rounding,
    tests/test_model.py). Training keeps the plain form.
    """
    if not isinstance(weight, Tensor):
        return weight(x, bias, stride, upsample)
    fast = x.device.type == "cpu" and not torch.is_grad_enabled()
    form = conv_form(weight.shape, stride, upsample, x.shape[-2:]) if fast else PLAIN
    x = form_input(x, form, weight.shape[-1], upsample)
    y = F.conv2d(x, form_kernel(weight, form), form_bias(bias, form), stride=stride)
    return form_output(y, form)


def conv_form(shape: tuple[int, ...], stride: int, upsample: bool, size: tuple[int, int]) -> str:
    """The form a conv of weight ``shape`` on an input of ``size`` (H, W) is computed in.

    - :data:`PHASE`: nearest x2 upsampling then a 3x3 conv. Each of the four output phases
      (even/odd row x even/odd column) is a 3x3 conv of the small map, replicate padded by
      1 (reflect padding of a doubled map by one pixel repeats the edge pixel, which
      replicate padding of the small map reproduces): one conv with ``4 * Cout`` outputs,
      interleaved by ``pixel_shuffle``. No doubled map is made or padded: the 32->8 layer
      at 640x360 takes 5 ms instead of 15 ms (fp32, AVX2, one thread).
    - :data:`SPACE_TO_DEPTH`: a stride-1 conv to <= 4 channels with a kernel of 5 or more
      (the 9x9 output conv), on the 2x2 space-to-depth map of the padded input: a
      ``4Cout x 4Cin x (k//2+1)^2`` kernel on the half-size map. oneDNN is starved by 3
      output channels (28 GFLOP/s); with 12 it runs 2x faster (16 -> 7 ms) despite 23%
      more multiply-adds. Needs an even padded size (inputs are multiples of 4).
    """
    cout, _, k, _ = shape
    if upsample and k in (3, 5) and stride == 1:
        return PHASE
    if not upsample and stride == 1 and k >= 5 and cout <= 4 and size[0] % 2 == 0 and size[1] % 2 == 0:
        return SPACE_TO_DEPTH
    return PLAIN


def form_input(x: Tensor, form: str, kernel: int, upsample: bool, upsampled: bool = False) -> Tensor:
    """The conv's input in ``form``: padded (upsampled, space-to-depth), channels_last. Works on uint8 maps too.

    An upsampling conv pads the doubled map by replicating its edge: for a 3x3 kernel that is
    what reflect padding gives (the doubled map's edge pixels come in pairs), and for the 5x5
    kernels of an anti-aliased network (:func:`antialias_kernel`) it is the doubled map of the
    replicate-padded small map, which the phase form reads. ``upsampled``: ``x`` is already
    the doubled map (the int8 convs double before quantising).
    """
    if form == PHASE:
        x = F.pad(x, (1,) * 4, mode="replicate")
    else:
        if upsample and not upsampled:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
        x = F.pad(x, (kernel // 2,) * 4, mode="replicate" if upsample else "reflect")
        if form == SPACE_TO_DEPTH:
            x = F.pixel_unshuffle(x, 2)
    return x.contiguous(memory_format=torch.channels_last)


def form_output(y: Tensor, form: str) -> Tensor:
    """The conv's output back in the plain layout, in the memory format its instance norm is fastest in.

    Memory formats chosen per layer from measurements (bf16, 640x360, 2 threads): oneDNN
    convolutions are 1.7-2.7x faster in channels_last, but batch norm on channels_last maps
    with few channels is 30x slower (4.9 ms vs 0.14 ms for 4x360x640), so maps of <= 8
    channels are normalised in NCHW.
    """
    if form != PLAIN:
        y = F.pixel_shuffle(y.contiguous(), 2)
    return y.contiguous() if y.shape[1] <= 8 else y.contiguous(memory_format=torch.channels_last)


def form_bias(bias: Tensor | None, form: str) -> Tensor | None:
    # pixel_shuffle reads channel o * 4 + phase: each output channel's bias four times.
    return bias if bias is None or form == PLAIN else bias.repeat_interleave(4)


def form_kernel(weight: Tensor, form: str) -> Tensor:
    """``weight`` (Cout, Cin, k, k) as the kernel of ``form``."""
    if form == PLAIN:
        return weight
    cout, cin, k, _ = weight.shape
    # Sums of taps in at least float32, rounded once to the weight's dtype (bf16, fp16).
    wide = torch.promote_types(weight.dtype, torch.float32)
    if form == PHASE:
        taps = _upsample_taps(k, wide, weight.device)
        # kernel[o, py, px, c, r, s] = sum over (dy, dx) of taps[py, r, dy] taps[px, s, dx] weight[o, c, dy, dx]
        kernel = torch.einsum("prd,ocde,qse->opqcrs", taps, weight.to(wide), taps).reshape(cout * 4, cin, 3, 3)
    else:
        taps = _space_to_depth_taps(k, wide, weight.device)
        t = taps.shape[2]
        kernel = torch.einsum("aytd,bxse,ocde->oabcyxts", taps, taps, weight.to(wide)).reshape(cout * 4, cin * 4, t, t)
    return kernel.to(weight.dtype)


@functools.lru_cache(maxsize=16)  # made once: every frame's kernels are built from the same taps
def _upsample_taps(kernel: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    # taps[p, r, d]: for output phase p (even/odd row of the doubled map), the kernel's
    # tap d reads row r of the replicate-padded small map (r = 0, 1, 2 for rows m-1, m, m+1).
    # 3x3: phase 0 (row 2m) reads doubled rows 2m-1, 2m, 2m+1 = small rows m-1, m, m; phase 1
    # (row 2m+1) reads doubled rows 2m, 2m+1, 2m+2 = small rows m, m, m+1.
    # 5x5: phase 0 reads doubled rows 2m-2 .. 2m+2 = small rows m-1, m-1, m, m, m+1; phase 1
    # reads 2m-1 .. 2m+3 = m-1, m, m, m+1, m+1: still three small rows, so one 3x3 conv.
    if kernel == 3:
        taps = [[[1, 0, 0], [0, 1, 1], [0, 0, 0]],
                [[0, 0, 0], [1, 1, 0], [0, 0, 1]]]
    else:
        taps = [[[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [0, 0, 0, 0, 1]],
                [[1, 0, 0, 0, 0], [0, 1, 1, 0, 0], [0, 0, 0, 1, 1]]]
    return torch.tensor(taps, dtype=dtype, device=device)


#: The low-pass filter of the anti-aliased networks: the binomial [1, 2, 1] / 4 in each
#: direction (Zhang, "Making Convolutional Networks Shift-Invariant Again", ICML 2019).
BINOMIAL = (0.25, 0.5, 0.25)


def antialias_kernel(weight: Tensor) -> Tensor:
    """``weight`` (Cout, Cin, k, k) after the 3x3 binomial blur: the (k + 2)-square kernel of "blur, then conv".

    Before a stride-2 conv it low-passes the map it subsamples; after a nearest x2 upsampling,
    nearest followed by the binomial IS bilinear interpolation, so the layer no longer paints
    the small map's grid into the picture. Either way content moved by 1-3 px keeps its strokes
    (the shipped network, equivariant to 4 px shifts only, does not: docs/stable.md). Folded into
    one kernel the blur costs nothing at inference (a 5x5 stride-2 conv measured as fast as the
    3x3 in bf16; the upsampling convs keep their phase form). Differentiable: training folds it
    on every step, the weights stay 3x3.
    """
    cout, cin, k, _ = weight.shape
    taps = torch.tensor(BINOMIAL, dtype=torch.promote_types(weight.dtype, torch.float32), device=weight.device)
    blur = (taps[:, None] * taps[None, :])[None, None]
    # conv2d is a correlation and the binomial is symmetric: correlating the zero-padded
    # kernel with it is the full convolution, i.e. the kernel of blur-then-conv.
    wide = F.pad(weight.reshape(cout * cin, 1, k, k).to(blur.dtype), (2, 2, 2, 2))
    return F.conv2d(wide, blur).reshape(cout, cin, k + 2, k + 2).to(weight.dtype)


@functools.lru_cache(maxsize=16)
def _space_to_depth_taps(kernel: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    # taps[p, q, t, d] = 1 where output phase p reads, through input phase q at offset t
    # of the half-size map, the kernel's tap d: 2t + q = p + d.
    t = kernel // 2 + 1
    taps = torch.zeros(2, 2, t, kernel, dtype=dtype, device=device)
    for p in range(2):
        for q in range(2):
            for i in range(t):
                d = 2 * i + q - p
                if 0 <= d < kernel:
                    taps[p, q, i, d] = 1
    return taps


def folded_kernel(weight: Tensor) -> Tensor:
    """:func:`antialias_kernel` of a trained weight, once, for inference: detached, in its memory format."""
    folded = antialias_kernel(weight.detach())
    if weight.is_contiguous(memory_format=torch.channels_last):
        folded = folded.contiguous(memory_format=torch.channels_last)
    return folded
