"""Feed-forward stylization with any painting: the arbitrary-style network.

The style vector of each painting is predicted once per stylizer (per render), and
the transformer's norm parameters are computed from it once, so a frame costs one
transformer pass. Strength follows Magenta: the style vector is interpolated toward
the content's own style vector, which here is predicted once, from the first
frame stylized (a per-frame vector would make the style itself flicker).
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import torch
from torch import Tensor

from ..device import INT8
from ..models.arbitrary import STYLE_SIZE, ArbitraryTransformer, StylePredictor
from ..models.multistyle import SIZE_MULTIPLE
from ..registry import load_state_dict
from ..io.images import load_rgb
from ..tensors import tensor_to_rgb
from .colour import preserve_colour
from .network import load_network, pad_to_multiple
from .options import StyleOptions
from .int8 import to_int8
from .learned import LearnedStyle
from .paintings import parse_arbitrary, style_crop

log = logging.getLogger(__name__)


def load_predictor() -> StylePredictor:
    """The converted style predictor (float32, CPU: it runs once or twice a render)."""
    net = StylePredictor()
    net.load_state_dict(load_state_dict("arbitrary_predict"))
    return net.eval().requires_grad_(False)


def load_transformer(device: torch.device, dtype: torch.dtype) -> ArbitraryTransformer:
    """The converted transformer network on ``device`` in ``dtype``, channels_last (faster convs)."""
    return load_network(ArbitraryTransformer(), "arbitrary_transform", device, dtype)


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


class ArbitraryStylizer:
    """Stylize RGB frames (B, 3, H, W) in [0, 1] with a painting or a blend of paintings."""

    def __init__(self, options: StyleOptions, device: torch.device, dtype: torch.dtype) -> None:
        self.options = options
        self.device = device
        self.dtype = dtype
        self.predictor = load_predictor()
        self.net = load_transformer(device, dtype)
        self.style_vector = style_vector(self.predictor, options.style, options.style_scale)
        if dtype == INT8:  # issue #17; calibrated with the full-strength style (strength moves it a little)
            params = self._norm_params(self.style_vector)
            self.net, self.dtype = to_int8(self.net, lambda net, x: net(pad_to_multiple(x, SIZE_MULTIPLE)[0], params),
                                     [self.style_vector], "arbitrary-style")
        self._params: list[tuple[Tensor, Tensor]] | None = None
        self._lock = threading.Lock()
        if options.strength >= 1.0:
            self._params = self._norm_params(self.style_vector)

    def _norm_params(self, vector: Tensor) -> list[tuple[Tensor, Tensor]]:
        with torch.inference_mode():
            # INT8 is a marker, not a tensor dtype: its network is float32 around int8 convolutions.
            dtype = torch.float32 if self.dtype == INT8 else self.dtype
            return [(g.to(self.device), b.to(self.device)) for g, b in self.net.norm_params(vector.to(self.device, dtype))]

    def _params_for(self, frames: Tensor) -> list[tuple[Tensor, Tensor]]:
        with self._lock:  # render workers share the stylizer; the first frame fixes the content vector
            if self._params is None:
                rgb = tensor_to_rgb(frames[:1])
                own = predict_style(self.predictor, rgb)
                s = self.options.strength
                self._params = self._norm_params(s * self.style_vector + (1.0 - s) * own)
            return self._params

    @torch.inference_mode()
    def __call__(self, frames: Tensor) -> Tensor:
        """Stylize ``frames`` (B, 3, H, W) float in [0, 1] on this stylizer's device; returns float32."""
        params = self._params if self._params is not None else self._params_for(frames)
        padded, (h, w) = pad_to_multiple(frames, SIZE_MULTIPLE)
        out = self.net(padded, params)[..., :h, :w]
        if self.options.preserve_colour:
            out = preserve_colour(out, frames.float())
        return out
