"""Feed-forward stylization of frames with the multi-style network.

A thin, stateless wrapper: it holds the network (in the chosen device, dtype and
memory format, converted once), the style weight vector and the colour options,
and maps a batch of RGB frames to stylized frames.
"""

from __future__ import annotations

import logging

import torch
from torch import Tensor

from ..device import INT8
from ..models.multistyle import MultiStyleNet, with_style_rows
from ..registry import load_state_dict
from .arbitrary import ArbitraryStylizer
from .int8 import to_int8
from .colour import mix_strength, preserve_colour
from .network import load_network, pad_to_multiple
from .options import StyleOptions
from .styles import StyleMix, resolve_style

__all__ = ["FeedForwardStylizer", "StyleOptions", "load_multistyle", "load_network", "make_stylizer",
           "multistyle_state", "pad_to_multiple"]

log = logging.getLogger(__name__)


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


def make_stylizer(options: StyleOptions, device: torch.device, dtype: torch.dtype) -> FeedForwardStylizer | ArbitraryStylizer:
    """The stylizer for ``options``: the multi-style network, or the arbitrary-style one for paintings.

    Files and weights are resolved here, when the pipeline is built, not in the
    (pure-data) options: an unknown style or a missing painting fails now.
    """
    if options.is_painting:
        return ArbitraryStylizer(options, device, dtype)
    return FeedForwardStylizer(options, device, dtype)
