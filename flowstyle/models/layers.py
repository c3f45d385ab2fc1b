"""Layers shared by the feed-forward stylization networks (multi-style and arbitrary-style).

Both are the transformer network of Johnson et al. 2016 as Magenta builds it:
reflect padding, nearest x2 upsampling then convolution (against the checkerboard
of transposed convolutions; Odena et al. 2016), and conditional instance norm
(Dumoulin et al. 2017; Ghiasi et al. 2017 predict its parameters from a painting).
"""

from __future__ import annotations

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


def reflect_conv(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int = 1, upsample: bool = False) -> Tensor:
    """(Nearest x2 upsampling ->) reflect padding of ``kernel // 2`` -> convolution.

    Returns the output in the memory format the following instance norm is fastest in.
    ``weight`` may also be a callable stand-in with this function's signature: an int8
    conv or a calibration observer (:mod:`flowstyle.models.quantize`, issue #17).

    On the CPU at inference, two layers run in an equivalent form with fewer FLOPs or
    better shapes for oneDNN (issue #17; exact up to float rounding, tests/test_model.py):
    upsample + 3x3 conv as one conv on the small map (:func:`upsampled_conv3`), and the
    9x9 output conv to 3 channels on a space-to-depth map (:func:`space_to_depth_conv`).
    """
    if not isinstance(weight, Tensor):
        return weight(x, bias, stride, upsample)
    cpu_inference = x.device.type == "cpu" and not torch.is_grad_enabled()
    k = weight.shape[-1]
    if upsample and cpu_inference and k == 3 and stride == 1:
        return upsampled_conv3(x, weight, bias)
    if upsample:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
    pad = k // 2
    x = F.pad(x, (pad,) * 4, mode="reflect")
    if cpu_inference and stride == 1 and k >= 5 and weight.shape[0] <= 4 and x.shape[-2] % 2 == 0 and x.shape[-1] % 2 == 0:
        return space_to_depth_conv(x, weight, bias)
    # Memory formats chosen per layer from measurements (bf16, 640x360, 2 threads):
    # oneDNN convolutions are 1.7-2.7x faster in channels_last, but batch norm on
    # channels_last maps with few channels is 30x slower (4.9 ms vs 0.14 ms for
    # 4x360x640), so maps of <= 8 channels are normalised in NCHW.
    x = F.conv2d(x.contiguous(memory_format=torch.channels_last), weight, bias, stride=stride)
    return x.contiguous() if x.shape[1] <= 8 else x


def _phase_bias(bias: Tensor | None) -> Tensor | None:
    # pixel_shuffle reads channel o * 4 + phase: each output channel's bias four times.
    return None if bias is None else bias.repeat_interleave(4)


def _upsample_taps(dtype: torch.dtype, device: torch.device) -> Tensor:
    # taps[p, r, d]: for output phase p (even/odd row of the doubled map), the 3x3 kernel's
    # tap d reads row r of the replicate-padded small map (r = 0, 1, 2 for rows m-1, m, m+1).
    # Phase 0 (row 2m) reads doubled rows 2m-1, 2m, 2m+1 = small rows m-1, m, m; phase 1
    # (row 2m+1) reads doubled rows 2m, 2m+1, 2m+2 = small rows m, m, m+1.
    return torch.tensor([[[1, 0, 0], [0, 1, 1], [0, 0, 0]],
                         [[0, 0, 0], [1, 1, 0], [0, 0, 1]]], dtype=dtype, device=device)


def upsampled_conv3(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Nearest x2 upsampling, reflect padding of 1 and a 3x3 conv, computed on the small map.

    Each of the four output phases (even/odd row x even/odd column) is a 3x3 conv of the
    small map, replicate padded by 1 (reflect padding of a doubled map by 1 pixel repeats
    the edge pixel, which replicate padding of the small map reproduces). The four convs
    are one conv with ``4 * Cout`` outputs, interleaved by ``pixel_shuffle``. This skips
    doubling the input and padding the big map: the 32->8 layer at 640x360 takes 5 ms
    instead of 15 ms (fp32, AVX2, one thread).
    """
    wide = torch.promote_types(weight.dtype, torch.float32)
    taps = _upsample_taps(wide, weight.device)
    cout, cin = weight.shape[:2]
    # kernel[o, py, px, c, r, s] = sum over (dy, dx) of taps[py, r, dy] * taps[px, s, dx] * weight[o, c, dy, dx],
    # summed in at least float32 and rounded once to the weight's dtype (bf16, fp16).
    kernel = torch.einsum("prd,ocde,qse->opqcrs", taps, weight.to(wide), taps).reshape(cout * 4, cin, 3, 3).to(weight.dtype)
    x = F.pad(x, (1,) * 4, mode="replicate").contiguous(memory_format=torch.channels_last)
    y = F.conv2d(x, kernel, _phase_bias(bias))
    out = F.pixel_shuffle(y.contiguous(), 2)
    return out if cout <= 8 else out.contiguous(memory_format=torch.channels_last)


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


def space_to_depth_conv(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """A stride-1 conv (no padding) of an even-sized map, computed on its 2x2 space-to-depth.

    A ``Cout x Cin x k x k`` kernel becomes a ``4Cout x 4Cin x (k//2+1)^2`` one on the
    half-size map. For the 9x9 output conv (4 or 8 channels to 3) oneDNN's kernel is
    starved by 3 output channels (28 GFLOP/s); the rearranged conv has 12 and 16-32,
    and runs 2x faster despite 23% more multiply-adds (issue #17).
    """
    cout, cin, k, _ = weight.shape
    taps = _space_to_depth_taps(k, weight.dtype, weight.device)  # a rearrangement: no sums, exact in any dtype
    t = taps.shape[2]
    kernel = torch.einsum("aytd,bxse,ocde->oabcyxts", taps, taps, weight).reshape(cout * 4, cin * 4, t, t)
    x = F.pixel_unshuffle(x, 2).contiguous(memory_format=torch.channels_last)
    return F.pixel_shuffle(F.conv2d(x, kernel, _phase_bias(bias)).contiguous(), 2)
