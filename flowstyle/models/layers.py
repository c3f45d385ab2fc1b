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
    """
    if not isinstance(weight, Tensor):
        return weight(x, bias, stride, upsample)
    if upsample:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")
    pad = weight.shape[-1] // 2
    x = F.pad(x, (pad,) * 4, mode="reflect")
    # Memory formats chosen per layer from measurements (bf16, 640x360, 2 threads):
    # oneDNN convolutions are 1.7-2.7x faster in channels_last, but batch norm on
    # channels_last maps with few channels is 30x slower (4.9 ms vs 0.14 ms for
    # 4x360x640), so maps of <= 8 channels are normalised in NCHW.
    x = F.conv2d(x.contiguous(memory_format=torch.channels_last), weight, bias, stride=stride)
    return x.contiguous() if x.shape[1] <= 8 else x
