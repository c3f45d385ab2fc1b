"""Perceptual losses as small typed functions (Gatys, Ecker & Bethge 2016).

Features come from :class:`flowstyle.models.vgg.VGG16Features`. Content loss is
the mean squared difference of relu4_2 activations; style loss compares Gram
matrices normalised by the number of entries of the feature map
(C x H x W), so it does not depend on the image size and a style image of any
size can be compared with frames of any size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

from .allocator import tune_malloc
from .models.vgg import VGG16Features
from .registry import load_state_dict

STYLE_LAYERS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"


def _at_least_f32(x: Tensor) -> Tensor:
    """bf16/fp16 features (autocast loss network) -> float32; float64 stays float64 (gradcheck)."""
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def gram(features: Tensor) -> Tensor:
    """Gram matrix (B, C, C) of (B, C, H, W) features, divided by C*H*W."""
    b, c, h, w = features.shape
    f = features.reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def picture_grams(vgg: torch.nn.Module, rgb: np.ndarray, width: int,
                  device: torch.device | str = "cpu") -> dict[str, Tensor]:
    """Gram matrices (STYLE_LAYERS) of a uint8 RGB picture resized to ``width``, aspect kept.

    A painting's style target, for the Gatys objective and the style-loss metric
    alike, so the metric measures what the optimiser minimises. Area-averaged when
    shrinking, cubic when enlarging.
    """
    h = max(16, round(rgb.shape[0] * width / rgb.shape[1]))
    interp = cv2.INTER_AREA if width < rgb.shape[1] else cv2.INTER_CUBIC
    small = np.ascontiguousarray(cv2.resize(rgb, (width, h), interpolation=interp))
    x = torch.from_numpy(small).to(device).permute(2, 0, 1)[None].float().div_(255.0)
    with torch.no_grad():
        feats = vgg(x, STYLE_LAYERS)
    return {layer: gram(f) for layer, f in feats.items()}


def style_loss(features: Mapping[str, Tensor], target_grams: Mapping[str, Tensor],
               layers: Sequence[str] = STYLE_LAYERS, weights: Sequence[float] | None = None) -> Tensor:
    """Sum over ``layers`` of w_l * mean squared Gram difference; per batch item, shape (B,).

    ``target_grams[l]`` is (1, C, C) (one style image) or (B, C, C).
    """
    weights = weights or [1.0] * len(layers)
    total = None
    for layer, w in zip(layers, weights):
        g = gram(_at_least_f32(features[layer]))
        d = (g - _at_least_f32(target_grams[layer])).pow(2).mean(dim=(1, 2)) * w
        total = d if total is None else total + d
    return total


def content_loss(features: Mapping[str, Tensor], target: Mapping[str, Tensor], layer: str = CONTENT_LAYER) -> Tensor:
    """Mean squared difference of ``layer`` activations; per batch item, shape (B,)."""
    return (_at_least_f32(features[layer]) - _at_least_f32(target[layer])).pow(2).mean(dim=(1, 2, 3))


def total_variation(image: Tensor) -> Tensor:
    """Mean squared difference of neighbouring pixels, per batch item (B,)."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).pow(2).mean(dim=(1, 2, 3))
    dy = (image[..., 1:, :] - image[..., :-1, :]).pow(2).mean(dim=(1, 2, 3))
    return dx + dy


def out_of_range(image: Tensor) -> Tensor:
    """Mean squared distance of the pixels from [0, 1], per batch item (B,).

    A smooth penalty rather than clamping between iterations: projecting L-BFGS's
    iterate breaks its curvature pairs (it diverged on bikes at 128 px), while an
    unconstrained optimum puts many pixels outside [0, 1], and clamping only the
    result then raised a converged frame's style loss from ~50 to ~950.
    """
    return (image.clamp(max=0.0).pow(2) + (image - 1.0).clamp(min=0.0).pow(2)).mean(dim=(1, 2, 3))


def temporal_loss(image: Tensor, warped: Tensor, weight: Tensor) -> Tensor:
    """Ruder et al. 2016, eq. 7: (1/D) sum c * (x - warp(prev))^2, per batch item (B,).

    ``warped`` is an earlier stylized frame warped onto this one, ``weight`` (B, 1, H, W)
    the per-pixel weight c in [0, 1] (0 where the flow is unreliable, so those pixels
    are free), and D = C * H * W, so the loss does not depend on the frame size.
    """
    return (weight * (image - warped).pow(2)).mean(dim=(1, 2, 3))


def long_term_weights(masks: Sequence[Tensor]) -> list[Tensor]:
    """Per-pixel weights of the long-term temporal terms (Ruder et al. 2018, eq. 9).

    ``masks`` are the reliability masks of the earlier frames, nearest first
    (e.g. 1, 2, 4 frames back). A pixel is pulled toward the nearest earlier frame
    that sees it reliably and not counted again for the frames further back. The
    paper subtracts the raw masks of the nearer frames; this subtracts the weight
    already given, which is the same for binary masks and keeps the sum of the
    weights at max_j c_j <= 1 for soft masks too.
    """
    weights: list[Tensor] = []
    given: Tensor | None = None
    for mask in masks:
        w = mask if given is None else (mask - given).clamp(min=0.0)
        weights.append(w)
        given = w if given is None else given + w
    return weights


def load_vgg16(device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> VGG16Features:
    """The converted loss network, frozen, in eval mode, on ``device`` in ``dtype``.

    Here rather than in ``models/vgg.py`` so that the models stay below the weight
    registry (which imports their converters): docs/architecture.md, "Layers".
    """
    if torch.device(device).type == "cpu":
        # Gatys and learn-style allocate the same large activations every iteration; in a
        # Dask worker (whose nanny sets MALLOC_TRIM_THRESHOLD_, which pins glibc's mmap
        # threshold) each one was a fresh mmap: a Gatys shot task ran 2.3x slower than the
        # same render in one process.
        tune_malloc()
    state = {k: v for k, v in load_state_dict("vgg16_hed").items() if k.startswith("convs.")}
    net = VGG16Features()
    net.load_state_dict(state)
    return net.eval().requires_grad_(False).to(device=device, dtype=dtype)
