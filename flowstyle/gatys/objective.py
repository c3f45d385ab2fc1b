"""The loss a Gatys frame minimises, built from the small functions in ``flowstyle.losses``.

Style targets (Gram matrices of the painting) are computed once per scale; content
targets and temporal priors once per frame; :meth:`FrameObjective.__call__` is the
only thing evaluated per iteration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ..io.images import load_rgb
from ..losses import (CONTENT_LAYER, STYLE_LAYERS, content_loss, out_of_range, picture_grams, style_loss,
                      temporal_loss, total_variation)
from ..models.vgg import VGG16Features
from .options import GatysOptions

LAYERS = (*STYLE_LAYERS, CONTENT_LAYER)
# Weight of the out-of-range penalty (counted with TV in the logs). The optimiser works on the
# unclamped image and the picture written is clamped, so whatever style the optimiser finds with
# pixels outside [0, 1] never reaches the output. At 1e5 (chaplin.mp4, 160 px, starry_night.jpg) a
# frame 60 L-BFGS iterations from the warped previous output had a style loss of 42 to the optimiser
# and 120 as written; at 1e7, 45 and 46. The temporal render's written frames at 1e7 against 1e5:
# style loss 0.56x (relu1_1 0.08x, relu2_1 0.31x, relu3_1-relu5_1 0.95-0.99x), sharpness 1.01x,
# time 1.06x (49 frames, within the timing noise).
RANGE_WEIGHT = 1e7


class StyleTarget:
    """Gram matrices of one painting or a weighted blend, per frame width (cached).

    The painting is resized to ``style_scale`` x the frame width, keeping its aspect,
    so a larger scale shows the network larger marks (neural-style's -style_scale).
    A blend mixes the Gram matrices (Gatys et al. 2016, section on style mixing).
    """

    def __init__(self, paintings: Sequence[tuple[Path, float]], scale: float, vgg: VGG16Features) -> None:
        self._images = [(load_rgb(path), weight) for path, weight in paintings]
        self._scale = scale
        self._vgg = vgg
        self._cache: dict[int, dict[str, Tensor]] = {}

    def grams(self, frame_width: int, device: torch.device) -> dict[str, Tensor]:
        if frame_width not in self._cache:
            width = max(16, round(frame_width * self._scale))
            mixed: dict[str, Tensor] = {}
            for rgb, weight in self._images:
                for layer, g in picture_grams(self._vgg, rgb, width, device).items():
                    mixed[layer] = g * weight if layer not in mixed else mixed[layer] + g * weight
            self._cache[frame_width] = mixed
        return self._cache[frame_width]


def loss_autocast(like: Tensor, dtype: torch.dtype | None) -> torch.autocast:
    """The loss network in ``dtype`` (Gram matrices and losses stay float32: see ``flowstyle.losses``).

    bf16 on a CPU with native bf16 runs the VGG pass 1.6x faster (0.24 -> 0.15 s per
    forward+backward at 256x144 on this machine's AVX512-BF16 cores).
    """
    return torch.autocast(like.device.type, dtype=dtype or torch.float32, enabled=dtype is not None)


@dataclass
class Prior:
    """An earlier stylized frame warped onto this one, and its per-pixel weight (1, 1, H, W)."""

    warped: Tensor
    weight: Tensor


@dataclass
class LossParts:
    content: float
    style: float
    tv: float
    temporal: float

    @property
    def perceptual(self) -> float:
        """Weighted content + style loss: what per-frame and temporal renders are compared on."""
        return self.content + self.style


def weighted_style_loss(feats: dict[str, Tensor], grams: dict[str, Tensor], options: GatysOptions) -> Tensor:
    """The style term of the Gatys objective: ``style_weight`` x the weighted Gram loss over STYLE_LAYERS."""
    return options.style_weight * style_loss(feats, grams, STYLE_LAYERS, options.style_layer_weights).sum()


@dataclass
class FrameObjective:
    """Weighted content + style + TV + temporal loss of one frame at one size."""

    vgg: VGG16Features
    options: GatysOptions
    content: dict[str, Tensor]
    grams: dict[str, Tensor]
    priors: list[Prior] = field(default_factory=list)
    autocast: torch.dtype | None = None  # run the loss network in this dtype (bf16 where native)
    last: LossParts | None = None  # parts of the latest evaluation, for progress and benchmarks

    @classmethod
    def build(cls, vgg: VGG16Features, options: GatysOptions, frame: Tensor, grams: dict[str, Tensor],
              priors: Sequence[Prior] = (), autocast: torch.dtype | None = None) -> "FrameObjective":
        with torch.no_grad(), loss_autocast(frame, autocast):
            content = {CONTENT_LAYER: vgg(frame, (CONTENT_LAYER,))[CONTENT_LAYER].float()}
        return cls(vgg, options, content, grams, list(priors), autocast)

    def parts(self, image: Tensor) -> tuple[Tensor, LossParts]:
        """The total loss (differentiable) and its weighted parts (floats, for logs)."""
        o = self.options
        with loss_autocast(image, self.autocast):
            feats = self.vgg(image, LAYERS)
        c = o.content_weight * content_loss(feats, self.content).sum()
        s = weighted_style_loss(feats, self.grams, o)
        tv = o.tv_weight * total_variation(image).sum() + RANGE_WEIGHT * out_of_range(image).sum()
        t = image.new_zeros(())
        for prior in self.priors:
            t = t + o.temporal_weight * temporal_loss(image, prior.warped, prior.weight).sum()
        total = c + s + tv + t
        self.last = LossParts(*torch.stack((c, s, tv, t)).detach().tolist())  # one device sync, not four
        return total, self.last

    def __call__(self, image: Tensor) -> Tensor:
        return self.parts(image)[0]
