"""Feed-forward stylization of frames with the multi-style network.

A thin, stateless wrapper: it holds the network (in the chosen device, dtype and
memory format, converted once), the style weight vector and the colour options,
and maps a batch of RGB frames to stylized frames.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..allocator import tune_malloc
from ..device import INT8
from ..models.multistyle import SIZE_MULTIPLE, MultiStyleNet, with_style_rows
from ..registry import load_state_dict
from .int8 import to_int8
from .colour import mix_strength, preserve_colour
from .paintings import is_painting_spec, parse_paintings
from .styles import StyleMix, resolve_style

if TYPE_CHECKING:
    from .arbitrary import ArbitraryStylizer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StyleOptions:
    """How frames are stylized.

    Attributes:
        style: built-in style index or name, or a blend ``3:0.6,17:0.4``; or a
            painting file, or a blend of paintings ``a.jpg:0.6,b.png:0.4`` (the
            arbitrary-style network).
        strength: 1 fully stylized, 0 the input unchanged (built-in styles: linear
            mix; paintings: the style vector moves toward the content's own).
        preserve_colour: keep the input's colours, take the stylized luminance.
        style_scale: paintings only: > 1 paints larger strokes, < 1 smaller (0.25-4).
    """

    style: str = "blue-brush"
    strength: float = 1.0
    preserve_colour: bool = False
    style_scale: float = 1.0

    def __post_init__(self) -> None:
        from ..errors import StyleError

        if not 0.0 <= self.strength <= 1.0:
            raise StyleError(f"strength must be between 0 and 1, got {self.strength}")
        if not 0.25 <= self.style_scale <= 4.0:
            raise StyleError(f"style scale must be between 0.25 and 4, got {self.style_scale}")
        if self.is_painting:
            parse_paintings(self.style)  # fail early: missing files, bad weights
        else:
            resolve_style(self.style)

    @property
    def is_painting(self) -> bool:
        """True when the style names painting files (the arbitrary-style network)."""
        return is_painting_spec(self.style)


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


def multistyle_state(mix: StyleMix | None = None) -> dict[str, Tensor]:
    """State dict of the network ``mix`` renders with: built-in (or a learned style's own) weights plus its learned rows."""
    base = (mix.network if mix is not None else None) or load_state_dict("multistyle26")
    return with_style_rows(base, [s.rows for s in mix.learned] if mix is not None else [])


def load_multistyle(device: torch.device, dtype: torch.dtype, mix: StyleMix | None = None) -> MultiStyleNet:
    """The converted multi-style network (with ``mix``'s learned styles appended), in eval mode,
    on ``device`` in ``dtype``, channels_last."""
    state = multistyle_state(mix)
    return load_network(MultiStyleNet(state["contract.0.gamma"].shape[0]), state, device, dtype)


class FeedForwardStylizer:
    """Stylize RGB frames (B, 3, H, W) in [0, 1] with a built-in style or blend."""

    def __init__(self, options: StyleOptions, device: torch.device, dtype: torch.dtype) -> None:
        self.options = options
        self.device = device
        self.dtype = dtype
        mix = resolve_style(options.style)
        self.net = load_multistyle(device, dtype, mix)
        self.style_weights = mix.weights.to(device)
        if dtype == INT8:  # issue #17
            self.net, self.dtype = to_int8(self.net, lambda net, x: net(pad_to_multiple(x)[0], self.style_weights),
                                     [self.style_weights], "multi-style")

    @torch.inference_mode()
    def __call__(self, frames: Tensor) -> Tensor:
        """Stylize ``frames`` (B, 3, H, W) float in [0, 1] on this stylizer's device; returns float32."""
        padded, (h, w) = pad_to_multiple(frames)
        out = self.net(padded, self.style_weights)[..., :h, :w]
        if self.options.preserve_colour:
            out = preserve_colour(out, frames.float())
        return mix_strength(out, frames.float(), self.options.strength)


def make_stylizer(options: StyleOptions, device: torch.device, dtype: torch.dtype) -> "FeedForwardStylizer | ArbitraryStylizer":
    """The stylizer for ``options``: the multi-style network, or the arbitrary-style one for paintings."""
    if options.is_painting:
        from .arbitrary import ArbitraryStylizer

        return ArbitraryStylizer(options, device, dtype)
    return FeedForwardStylizer(options, device, dtype)
