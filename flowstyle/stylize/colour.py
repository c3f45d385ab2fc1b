"""Colour and strength controls applied after stylization (pure functions).

Tensors are RGB float in [0, 1], shape (B, 3, H, W).
"""

from __future__ import annotations

import kornia.color
import torch
from torch import Tensor


def preserve_colour(stylized: Tensor, original: Tensor) -> Tensor:
    """Keep the original's chroma and take the stylized luminance.

    Luminance-only transfer (Gatys et al. 2016, "Preserving Color in Neural
    Artistic Style Transfer"): convert both to YCbCr, combine Y of the stylized
    image with Cb/Cr of the original, convert back.
    """
    y = kornia.color.rgb_to_ycbcr(stylized)[:, :1]
    cbcr = kornia.color.rgb_to_ycbcr(original)[:, 1:]
    return kornia.color.ycbcr_to_rgb(torch.cat([y, cbcr], dim=1)).clamp_(0.0, 1.0)


def mix_strength(stylized: Tensor, original: Tensor, strength: float) -> Tensor:
    """Linear mix: ``strength`` 1 is fully stylized, 0 the original."""
    if strength >= 1.0:
        return stylized
    return original.lerp(stylized, strength)

