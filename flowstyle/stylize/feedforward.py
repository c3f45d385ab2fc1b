"""The multi-style network's weights: the built-in network, with learned styles' rows appended
(Dumoulin et al. 2017: a style is one row of conditional-instance-norm scales and shifts).

It runs in :func:`flowstyle.stylize.painter.paint`, the one place the networks run.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..models.multistyle import MultiStyleNet, with_style_rows
from ..registry import load_state_dict
from .network import load_network, pad_to_multiple
from .styles import StyleMix

__all__ = ["load_multistyle", "load_network", "multistyle_state", "pad_to_multiple"]


def multistyle_state(mix: StyleMix | None = None) -> dict[str, Tensor]:
    """State dict of the network ``mix`` renders with: built-in (or a learned style's own) weights plus its learned rows."""
    base = (mix.network if mix is not None else None) or load_state_dict("multistyle26")
    return with_style_rows(base, [s.rows for s in mix.learned] if mix is not None else [])


def load_multistyle(device: torch.device, dtype: torch.dtype, mix: StyleMix | None = None) -> MultiStyleNet:
    """The converted multi-style network (with ``mix``'s learned styles appended), in eval mode,
    on ``device`` in ``dtype``, channels_last."""
    state = multistyle_state(mix)
    return load_network(MultiStyleNet(state["contract.0.gamma"].shape[0]), state, device, dtype)
