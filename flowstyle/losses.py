"""Perceptual losses as small typed functions (Gatys, Ecker & Bethge 2016).

Features come from :class:`flowstyle.models.vgg.VGG16Features`. Content loss is
the mean squared difference of relu4_2 activations; style loss compares Gram
matrices normalised by the number of entries of the feature map
(C x H x W), so it does not depend on the image size and a style image of any
size can be compared with frames of any size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


def gram(features: Tensor) -> Tensor:
    """Gram matrix (B, C, C) of (B, C, H, W) features, divided by C*H*W."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def style_loss(features: Mapping[str, Tensor], target_grams: Mapping[str, Tensor],
               layers: Sequence[str] = STYLE_LAYERS, weights: Sequence[float] | None = None) -> Tensor:
    """Sum over ``layers`` of w_l * mean squared Gram difference; per batch item, shape (B,).

    ``target_grams[l]`` is (1, C, C) (one style image) or (B, C, C).
    """
    weights = weights or [1.0] * len(layers)
    total = None
    for layer, w in zip(layers, weights):
        g = gram(features[layer].float())
        d = (g - target_grams[layer].float()).pow(2).mean(dim=(1, 2)) * w
        total = d if total is None else total + d
    return total


def content_loss(features: Mapping[str, Tensor], target: Mapping[str, Tensor], layer: str = CONTENT_LAYER) -> Tensor:
    """Mean squared difference of ``layer`` activations; per batch item, shape (B,)."""
    return (features[layer].float() - target[layer].float()).pow(2).mean(dim=(1, 2, 3))


def total_variation(image: Tensor) -> Tensor:
    """Mean squared difference of neighbouring pixels, per batch item (B,)."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).pow(2).mean(dim=(1, 2, 3))
    dy = (image[..., 1:, :] - image[..., :-1, :]).pow(2).mean(dim=(1, 2, 3))
    return dx + dy
