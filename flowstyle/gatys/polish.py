"""A few Gatys iterations on the pictures carried from Gatys keys (``--method gatys --keyframes-every N``).

Carrying a key along the flow keeps its strokes, but not the statistics of its finest texture:
Gatys textures are noise-like, every resampling and every blend of two keys moves them, and the
style loss of a carried frame sits almost all in the two finest Gram layers (chaplin.mp4, 49 frames
at 160 px, keys every 12, against the temporal Gatys render of the same frames: relu1_1 3.4x,
relu2_1 10.1x, relu3_1-relu5_1 0.9-1.2x; docs/keyframes.md). So each carried frame is polished with
Adam on those two layers alone, which needs the loss network only up to relu2_1 (a fifth of a full pass), held to
the carried picture (an anchor) and to the previous polished frame warped by the flow (Ruder et al.
2016's temporal loss, as the temporal render's frames are), so the polish does not flicker.

Measured (``scripts/bench_keys.py --gatys``, 160 px, against the temporal Gatys render of the same
frames): 20 iterations bring the style loss of keys every 12 from 4.06x to 2.07x on chaplin.mp4
(49 frames) and from 3.15x to 0.85x on bigbuckbunny.mp4 (25 frames), at 0.05x of the temporal
render's time; E_warp 0.85x -> 1.17x and 0.75x -> 1.35x (the temporal term's weight: below).
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import torch
from torch import Tensor

from ..flow import FlowBackend
from ..io.frames import Frame
from ..losses import STYLE_LAYERS, style_loss, temporal_loss
from ..models.vgg import VGG16Features
from ..stylize.base import Stylizer
from ..tensors import rgb_to_tensor, tensor_to_rgb
from .objective import StyleTarget, loss_autocast
from .optimize import optimize
from .options import GatysOptions
from .priors import ShotHistory, build_priors

log = logging.getLogger(__name__)

POLISH_LAYERS = STYLE_LAYERS[:2]  # relu1_1, relu2_1: where a carried Gatys texture loses its statistics
# Weights of the anchor to the carried picture and of the temporal term (images in [0, 1], as the Gatys
# objective's temporal weight). Chaplin, 25 frames at 160 px: the temporal term at the temporal render's
# own weight (3e3) changed nothing in 20 iterations; 1e5 held E_warp at 1.15x the temporal render's
# (1.32x without) at the same style loss; 1e6 held it no better and kept less of the style (3.0x).
ANCHOR_WEIGHT = 1e4
TEMPORAL_WEIGHT = 1e5


@dataclasses.dataclass
class PolishObjective:
    """Style loss at POLISH_LAYERS + anchor to the carried picture + temporal loss to the previous frame."""

    vgg: VGG16Features
    style_weight: float
    layer_weights: tuple[float, ...]
    grams: dict[str, Tensor]
    carried: Tensor
    previous: Tensor | None = None  # the previous polished frame warped onto this one
    trust: Tensor | None = None  # (1, 1, H, W) weight of the temporal term per pixel
    autocast: torch.dtype | None = None

    def __call__(self, image: Tensor) -> Tensor:
        with loss_autocast(image, self.autocast):
            feats = self.vgg(image, POLISH_LAYERS)
        loss = self.style_weight * style_loss(feats, self.grams, POLISH_LAYERS, self.layer_weights).sum()
        loss = loss + ANCHOR_WEIGHT * (image - self.carried).pow(2).mean()
        if self.previous is not None and self.trust is not None:
            loss = loss + TEMPORAL_WEIGHT * temporal_loss(image, self.previous, self.trust).sum()
        return loss


class Polisher:
    """Polishes carried pictures in frame order (a sequential :class:`~flowstyle.stylize.base.Stylizer`):
    ``carried`` gives the propagated picture of a frame as filmed; key frames (``keys``) are shown as
    painted, so the output is the key there; ``starts`` are the shots' first frames."""

    sequential = True

    def __init__(self, carried: Stylizer, keys: frozenset[int], starts: frozenset[int], options: GatysOptions,
                 target: StyleTarget, vgg: VGG16Features, backend: FlowBackend, device: torch.device,
                 autocast: torch.dtype | None = None) -> None:
        self.carried = carried
        self.keys = keys
        self.starts = starts
        self.options = dataclasses.replace(options, optimizer="adam")  # L-BFGS from a near-minimum diverges
        self.target = target
        self.vgg = vgg
        self.backend = backend
        self.device = device
        self.autocast = autocast
        self.history = ShotHistory(1)

    def stylize(self, frame: Frame, shot_start: bool) -> np.ndarray:
        if shot_start or frame.index in self.starts:  # nothing to warp across a cut
            self.history.clear()
        picture = self.carried.stylize(frame, shot_start)
        out = picture if frame.index in self.keys else self.polish(frame.rgb, picture)
        self.history.push(frame.rgb, out)
        return out

    def polish(self, rgb: np.ndarray, picture: np.ndarray) -> np.ndarray:
        """``picture`` (uint8, carried onto the frame ``rgb``) after the polish."""
        o = self.options
        carried = rgb_to_tensor(picture, self.device)
        priors = build_priors(rgb, self.history, (1,), self.backend, self.device)
        prior = priors.priors[0] if priors.priors else None
        grams = self.target.grams(picture.shape[1], self.device)
        objective = PolishObjective(self.vgg, o.style_weight, o.style_layer_weights[:len(POLISH_LAYERS)],
                                    {k: grams[k] for k in POLISH_LAYERS}, carried,
                                    prior.warped if prior is not None else None,
                                    prior.weight if prior is not None else None, self.autocast)
        result = optimize(objective, carried, o.polish_iterations, o)
        log.debug("polished a carried frame: loss %.4g -> %.4g", result.losses[0], result.loss)
        return tensor_to_rgb(result.image)
