"""The arbitrary-style network's pieces (Ghiasi et al. 2017): loading it, and style vectors of paintings.

A painting's style vector is predicted once, when its track is resolved
(:mod:`flowstyle.stylize.resolve`); the network runs in
:func:`flowstyle.stylize.painter.paint`, which computes the norm parameters once per
vector in use, so a frame costs one transformer pass.
"""

from __future__ import annotations

import functools
import logging

import numpy as np
import torch
from torch import Tensor

from ..models.arbitrary import STYLE_SIZE, ArbitraryTransformer, StylePredictor
from ..registry import load_state_dict
from ..io.images import load_rgb
from .network import load_network, network_weights
from .track import ORIGINAL
from .learned import LearnedStyle
from .paintings import parse_arbitrary, style_crop

log = logging.getLogger(__name__)


def load_predictor() -> StylePredictor:
    """The converted style predictor (float32, CPU: it runs once or twice a render)."""
    net = StylePredictor()
    net.load_state_dict(load_state_dict("arbitrary_predict"))
    return net.eval().requires_grad_(False)


@functools.lru_cache(maxsize=1)
def shared_predictor() -> StylePredictor:
    """One predictor per process: it only runs inference (thread-safe), and resolving a
    track and a painter's content vector would otherwise each load it."""
    return load_predictor()


def load_transformer(device: torch.device, dtype: torch.dtype, weights: str = ORIGINAL) -> ArbitraryTransformer:
    """The converted transformer network in version ``weights`` on ``device`` in ``dtype``, channels_last (faster convs)."""
    state = network_weights("arbitrary_transform", weights)
    # An anti-aliased network's blurs are folded into its kernels once, here (models/arbitrary.py).
    return load_network(ArbitraryTransformer.for_state(state), state, device, dtype).fold_antialias()


def predict_style(predictor: StylePredictor, rgb: np.ndarray, scale: float = 1.0) -> Tensor:
    """Style vector (100,) of a uint8 RGB picture (its centre square at 256x256)."""
    square = style_crop(rgb, STYLE_SIZE, scale)
    x = torch.from_numpy(square).permute(2, 0, 1)[None].float() / 255.0
    with torch.inference_mode():
        return predictor(x)[0]


def style_vector(predictor: StylePredictor, spec: str, scale: float = 1.0) -> Tensor:
    """The (100,) style vector of ``spec``: each painting's predicted vector, or a learned style's
    trained one, mixed by the blend's weights (Ghiasi et al. 2017 blend style vectors)."""
    items = parse_arbitrary(spec)
    vectors = [w * (item.vector.float() if isinstance(item, LearnedStyle) else predict_style(predictor, load_rgb(item), scale))
               for item, w in items]
    log.info("style vector from %s", ", ".join(f"{item.name} x{w:.2f}" for item, w in items))
    return torch.stack(vectors).sum(0)
