"""Helpers both feed-forward stylizers share: loading a converted network, padding frames to its size multiple."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..allocator import tune_malloc
from ..device import INT8
from ..errors import WeightsError
from ..models.multistyle import SIZE_MULTIPLE
from ..registry import has_weights, load_state_dict
from .track import ORIGINAL


def pad_to_multiple(x: Tensor, multiple: int = SIZE_MULTIPLE) -> tuple[Tensor, tuple[int, int]]:
    """Reflect-pad (B, C, H, W) at the bottom/right so H and W are multiples of ``multiple``.

    Returns the padded tensor and the original (H, W) to crop back to. Reflection
    (not zeros) keeps the instance-norm statistics and the border texture natural.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode="reflect")
    return x, (h, w)


def network_weights(base: str, weights: str = ORIGINAL) -> dict[str, Tensor]:
    """The state dict of network ``base`` (a manifest name) in version ``weights``: the shipped one, or e.g.
    ``stable`` (``BASE_stable`` in the manifest: fine-tuned weights kept in the repository, pinned by sha256)."""
    if weights == ORIGINAL:
        return load_state_dict(base)
    name = f"{base}_{weights}"
    if not has_weights(name):
        raise WeightsError(f"--network {weights}: this checkout has no {weights} version of the '{base}' network "
                           f"(no '{name}' in weights/manifest.toml); use --network {ORIGINAL}")
    return load_state_dict(name)


def load_network(net: nn.Module, weights: str | dict[str, Tensor], device: torch.device, dtype: torch.dtype) -> nn.Module:
    """``net`` with the converted ``weights`` (a manifest name or a state dict), in eval mode,
    on ``device`` in ``dtype``, channels_last."""
    if device.type == "cpu":
        tune_malloc()
    if dtype == INT8:  # int8 convolutions are put in by the stylizer, once the style is known (stylize/int8.py)
        dtype = torch.float32
    net.load_state_dict(load_state_dict(weights) if isinstance(weights, str) else weights)
    net.eval().requires_grad_(False)
    # channels_last: oneDNN's bf16 convolutions are 2-3x faster in NHWC (measured
    # 5.5 ms vs 15 ms for the 9x9 input conv at 640x360).
    return net.to(device=device, dtype=dtype, memory_format=torch.channels_last)
