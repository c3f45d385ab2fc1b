"""The multi-style network's weights: the built-in network, with learned styles' rows appended
(Dumoulin et al. 2017: a style is one row of conditional-instance-norm scales and shifts).

It runs in :func:`flowstyle.stylize.painter.paint`, the one place the networks run.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.multistyle import MultiStyleNet, with_style_rows
from .network import load_network, network_weights, pad_to_multiple
from .styles import StyleMix
from .track import ORIGINAL

__all__ = ["load_multistyle", "load_network", "multistyle_state", "pad_to_multiple"]


def multistyle_state(mix: StyleMix | None = None, weights: str = ORIGINAL) -> dict[str, Tensor]:
    """State dict of the network ``mix`` renders with: built-in weights in version ``weights`` (or a learned
    style's own network) plus its learned rows."""
    base = (mix.network if mix is not None else None) or network_weights("multistyle26", weights)
    return with_style_rows(base, [s.rows for s in mix.learned] if mix is not None else [])


def load_multistyle(device: torch.device, dtype: torch.dtype, mix: StyleMix | None = None,
                    weights: str = ORIGINAL) -> MultiStyleNet:
    """The converted multi-style network in version ``weights`` (with ``mix``'s learned styles appended), in
    eval mode, on ``device`` in ``dtype``, channels_last."""
    state = multistyle_state(mix, weights)
    # An anti-aliased network's blurs are folded into its kernels once, here (models/multistyle.py).
    return load_network(MultiStyleNet.for_state(state), state, device, dtype).fold_antialias()
