"""The networks ``learn-style`` trains: what is trainable, where it starts, what is saved.

- ``base="arbitrary"`` (the default): the arbitrary-style network of Ghiasi et al.
  2017 with its weights frozen; the trained parameter is the 100-d style vector that
  the predictor would otherwise compute from the painting, started from that
  prediction. The network already keeps content well (relu4_2 content loss 42 on
  held-out bigbuckbunny frames against 54-60 for the nearest built-in style), so the
  vector only has to move toward the painting's Gram matrices: in 3 minutes (content
  weight 50) the style loss fell to 0.30x (udnie) and 0.15x (starry night) the
  predicted vector's at 1.09x and 0.98x its content loss, where training the multi-style network's norm row
  reached 0.34x style only at 1.40x content (first runs of scripts/bench_learn.py).
  Training the 13 norms' scales and shifts directly did a little better (0.22x at
  1.07x) but would give a style that blends, keys and scales unlike a painting;
  the vector is used exactly as a painting's is.
- ``base="multistyle"``: one row of the multi-style network's conditional instance
  norms (Dumoulin et al. 2017), started from the nearest built-in style; with
  ``train="all"`` the convolutions too (the style then carries its own network).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import StyleError
from ..losses import STYLE_LAYERS, style_loss
from ..models.arbitrary import ArbitraryTransformer
from ..models.multistyle import NUM_STYLES, SIZE_MULTIPLE, MultiStyleNet, style_rows
from ..models.vgg import VGG16Features
from ..stylize.arbitrary import load_predictor, load_transformer, predict_style
from ..stylize.feedforward import multistyle_state
from ..stylize.learned import LearnedStyle
from ..stylize.network import pad_to_multiple
from ..stylize.styles import resolve_style
from .options import LearnOptions

log = logging.getLogger(__name__)


class VectorStudent(nn.Module):
    """The frozen arbitrary-style network driven by one trainable style vector.

    Called as the multi-style student is, ``net(x, weights)`` (the weights are ignored),
    so the objective trains either.
    """

    def __init__(self, transformer: ArbitraryTransformer, vector: Tensor) -> None:
        super().__init__()
        self.vector = nn.Parameter(vector.detach().clone().float())
        # Not a submodule: the checkpoint and the learned style hold the vector only.
        object.__setattr__(self, "transformer", transformer.requires_grad_(False))

    def forward(self, x: Tensor, weights: Tensor | None = None) -> Tensor:
        padded, (h, w) = pad_to_multiple(x, SIZE_MULTIPLE)
        return self.transformer(padded, self.transformer.norm_params(self.vector))[..., :h, :w]


Student = MultiStyleNet | VectorStudent


def to_tensor(batch: np.ndarray, device: torch.device) -> Tensor:
    """uint8 (N, H, W, 3) -> float (N, 3, H, W) in [0, 1]."""
    return torch.from_numpy(batch).to(device).permute(0, 3, 1, 2).float().div_(255.0)


def student_network(options: LearnOptions, painting: np.ndarray, grams: dict[str, Tensor], vgg: VGG16Features,
                    probe: np.ndarray, device: torch.device, autocast: torch.dtype | None) -> tuple[Student, str]:
    """The network to train and a word on where it started."""
    if options.base == "arbitrary":
        vector = predict_style(load_predictor(), painting, options.style_scale)
        log.info("starting from the style vector the arbitrary network predicts for the painting")
        return VectorStudent(load_transformer(device, torch.float32), vector), "predicted"
    return multistyle_student(options.init, grams, vgg, probe, device, autocast)


def multistyle_student(init: str, grams: dict[str, Tensor], vgg: VGG16Features, probe: np.ndarray,
                       device: torch.device, autocast: torch.dtype | None) -> tuple[MultiStyleNet, str]:
    """A one-style multi-style network started from ``init`` (``nearest``: the best-matching built-in style)."""
    if init == "nearest":
        base = MultiStyleNet().to(device)
        base.load_state_dict(multistyle_state())
        x = to_tensor(probe, device)
        scores = []
        with torch.no_grad(), torch.autocast(device.type, dtype=autocast or torch.float32, enabled=autocast is not None):
            for i in range(NUM_STYLES):
                w = torch.zeros(NUM_STYLES, device=device)
                w[i] = 1.0
                scores.append(float(style_loss(vgg(base(x, w), STYLE_LAYERS), grams).mean()))
        index = int(np.argmin(scores))
        log.info("starting from built-in style %d (nearest the painting: style loss %.4g)", index, scores[index])
        init = str(index)
    mix = resolve_style(init)
    if int((mix.weights > 0).sum()) != 1:
        raise StyleError(f"--init must name one style, not a blend: '{init}'")
    state = multistyle_state(mix)
    index = int(mix.weights.argmax())
    student = MultiStyleNet(num_styles=1)
    student.load_state_dict({k: (v[index:index + 1] if k.endswith((".gamma", ".beta")) else v) for k, v in state.items()})
    return student.to(device), init


def resumed_student(options: LearnOptions, state: dict[str, Tensor], device: torch.device) -> Student:
    """The student of a checkpoint (its trained state ``state``)."""
    if options.base == "arbitrary":
        net: Student = VectorStudent(load_transformer(device, torch.float32), state["vector"])
    else:
        net = MultiStyleNet(num_styles=1).to(device)
    net.load_state_dict(state)
    return net.to(device)


def trainable(net: Student, train: str) -> tuple[list[Tensor], list[Tensor]]:
    """(style parameters, conv parameters to train); everything else is frozen."""
    if isinstance(net, VectorStudent):
        return [net.vector], []
    norms, convs = [], []
    for name, p in net.named_parameters():
        is_norm = name.endswith((".gamma", ".beta"))
        p.requires_grad_(is_norm or train == "all")
        (norms if is_norm else convs).append(p)
    return norms, (convs if train == "all" else [])


def learned_style_of(name: str, net: Student, options: LearnOptions, key: dict, init: str, step: int,
                     losses: dict[str, float], painting: Path) -> LearnedStyle:
    """What a training run saves: the vector, or the trained rows (and for ``train="all"`` the network)."""
    info = {"painting": painting.name, "painting_sha256": key["painting_sha256"], "init": init, "steps": step,
            "losses": losses, "settings": dataclasses.asdict(options), "base_sha256": key["base_sha256"],
            "created": time.strftime("%Y-%m-%d %H:%M:%S")}
    if isinstance(net, VectorStudent):
        return LearnedStyle(name, {}, None, info, net.vector.detach().cpu().float().clone())
    net = net.cpu()
    rows = style_rows(net, 0)
    network = None
    if options.train == "all":
        trained = net.state_dict()
        network = {k: (v if k.endswith((".gamma", ".beta")) else trained[k].detach().clone())
                   for k, v in multistyle_state().items()}
    return LearnedStyle(name, rows, network, info)
