"""MediaPipe selfie segmentation as a native PyTorch module (docs/regions.md).

The graph of ``selfie_segmentation.tflite`` (256x256 input) and
``selfie_segmentation_landscape.tflite`` (144x256) from ``mediapipe==0.10.21``
(Apache-2.0), rebuilt layer by layer from the TFLite op list: a MobileNet-v3
style encoder (hard-swish, squeeze-and-excite; Howard et al. 2019) down to 1/16,
an LR-ASPP-like gated head, and a decoder that upsamples x2 three times, each
time adding an attention-weighted skip connection, then a 2x2 stride-2
transposed convolution and a sigmoid give the person probability at input size.
The two files share this architecture; the portrait one pools with fixed-size
AVERAGE_POOL_2D, the landscape one with MEAN, which are the same global mean.

Padding is TensorFlow's 'SAME' (the odd pixel bottom/right), resizes are
bilinear with half-pixel centres (``align_corners=False``), as the TFLite ops
state; weights are the file's float16 constants read as float32
(``flowstyle.models.convert.selfie_state_dict_from_tflite``).

Input: RGB (B, 3, H, W) float in [0, 1] at the model's size (MediaPipe stretches
the frame to it). Output: (B, 1, H, W) person probability in [0, 1].
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .arbitrary import same_pad

PORTRAIT_SIZE = (256, 256)  # (H, W) of selfie_segmentation.tflite
LANDSCAPE_SIZE = (144, 256)  # (H, W) of selfie_segmentation_landscape.tflite


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(same_pad(x, self.kernel_size[0], self.stride[0]))


def depthwise(channels: int, kernel: int, stride: int = 1) -> SameConv:
    return SameConv(channels, channels, kernel, stride, groups=channels)


class Gate(nn.Module):
    """Squeeze-and-excite gate: global mean -> 1x1 + ReLU -> 1x1 + sigmoid, a (B, C, 1, 1) weight."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.expand = nn.Conv2d(hidden, channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.expand(F.relu(self.reduce(x.mean((2, 3), keepdim=True)))).sigmoid()


class Bottleneck(nn.Module):
    """MobileNet-v3 block: 1x1 expand + act, kxk depthwise + act, optional SE gate, 1x1 linear projection (+ input)."""

    def __init__(self, cin: int, hidden: int, cout: int, kernel: int, stride: int, hswish: bool,
                 se: int | None, residual: bool) -> None:
        super().__init__()
        self.expand = nn.Conv2d(cin, hidden, 1)
        self.depthwise = depthwise(hidden, kernel, stride)
        self.gate = Gate(hidden, se) if se else None
        self.project = nn.Conv2d(hidden, cout, 1)
        self.act = F.hardswish if hswish else F.relu
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:
        h = self.act(self.depthwise(self.act(self.expand(x))))
        if self.gate is not None:
            h = h * self.gate(h)
        h = self.project(h)
        return x + h if self.residual else h


class DecoderStage(nn.Module):
    """x2 bilinear upsampling, 1x1 to the skip's width, gated skip sum, then 1x1 + ReLU and a residual 3x3 depthwise + ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.up = nn.Conv2d(cin, cout, 1)
        self.gate = Gate(cout, cout)
        self.mix = nn.Conv2d(cout, cout, 1)
        self.depthwise = depthwise(cout, 3)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        u = self.up(F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False))
        h = skip * self.gate(skip + u) + u
        r = F.relu(self.mix(h))
        return r + F.relu(self.depthwise(r))


class SelfieSegmenter(nn.Module):
    """Person probability (B, 1, H, W) from RGB (B, 3, H, W) in [0, 1]; H, W divisible by 16 is not required
    (SAME padding), but the model was trained at 256x256 (portrait) or 144x256 (landscape)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = SameConv(3, 16, 3, 2)
        self.encoder = nn.ModuleList([
            Bottleneck(16, 16, 16, 3, 2, hswish=False, se=8, residual=False),    # 1/4
            Bottleneck(16, 72, 24, 3, 2, hswish=False, se=None, residual=False),  # 1/8
            Bottleneck(24, 88, 24, 3, 1, hswish=False, se=None, residual=True),
            Bottleneck(24, 96, 32, 5, 2, hswish=True, se=24, residual=False),     # 1/16
            Bottleneck(32, 128, 32, 5, 1, hswish=True, se=32, residual=True),
            Bottleneck(32, 128, 32, 5, 1, hswish=True, se=32, residual=True),
            Bottleneck(32, 96, 32, 5, 1, hswish=True, se=24, residual=True),
            Bottleneck(32, 96, 32, 5, 1, hswish=True, se=24, residual=True),
        ])
        self.head = nn.Conv2d(32, 128, 1)
        self.head_gate = nn.Conv2d(32, 128, 1)
        self.decoder = nn.ModuleList([DecoderStage(128, 24), DecoderStage(24, 16), DecoderStage(16, 16)])
        self.segment = nn.ConvTranspose2d(16, 1, 2, stride=2)

    def forward(self, x: Tensor) -> Tensor:
        s2 = F.hardswish(self.stem(x))
        s4 = self.encoder[0](s2)
        s8 = self.encoder[2](self.encoder[1](s4))
        h = s8
        for block in self.encoder[3:]:
            h = block(h)
        h = F.relu(self.head(h)) * self.head_gate(h.mean((2, 3), keepdim=True)).sigmoid()
        for stage, skip in zip(self.decoder, (s8, s4, s2)):
            h = stage(h, skip)
        # Logits below -60 would give probabilities in float32's denormal range (< 1.2e-38),
        # where CPU arithmetic on the mask (resize, warp, blur) runs many times slower;
        # clamping changes them by < 1e-26.
        return self.segment(h).clamp(min=-60.0).sigmoid()


def keras_layer_names(net: SelfieSegmenter) -> dict[str, str]:
    """Module path -> Keras layer name in the .tflite (``conv2d_7``, ``depthwise_conv2d_3``, ``segment``).

    Keras numbered the layers in the order they were created, which is the order
    the modules above are declared in (per block: expand, depthwise, gate, project;
    per decoder stage: up, gate, mix, depthwise).
    """
    names: dict[str, str] = {}
    convs = dws = 0
    for path, module in net.named_modules():
        if isinstance(module, nn.ConvTranspose2d):
            names[path] = "segment"
        elif isinstance(module, nn.Conv2d):
            if module.groups > 1:
                names[path] = "depthwise_conv2d" + (f"_{dws}" if dws else "")
                dws += 1
            else:
                names[path] = "conv2d" + (f"_{convs}" if convs else "")
                convs += 1
    return names
