"""Resolve style options and keys into a :class:`~flowstyle.stylize.track.StyleTrack`, once per render.

This is where a style's names become what a network takes (docs/architecture.md,
"The style value"): built-in indices, names and blends (:mod:`flowstyle.stylize.styles`),
learned styles (:mod:`flowstyle.stylize.learned`), and paintings, whose style vectors
are predicted here, once (:mod:`flowstyle.stylize.arbitrary`). A bad style fails now,
in one line, before a frame is decoded.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..models.multistyle import NUM_STYLES
from .arbitrary import shared_predictor, style_vector
from .keyframes import Key, strength_values
from .options import StyleOptions
from .paintings import is_painting_spec
from .learned import LearnedStyle
from .styles import resolve_style
from .track import ARBITRARY, MULTISTYLE, Conditioning, StyleTrack


def embed_weights(weights: torch.Tensor, own: Sequence[LearnedStyle], rows: Sequence[LearnedStyle]) -> torch.Tensor:
    """``weights`` over the 26 built-in rows then ``own``'s, laid over the 26 rows then ``rows``'s (a superset)."""
    names = [s.name for s in rows]
    out = torch.zeros(NUM_STYLES + len(rows), dtype=weights.dtype, device=weights.device)
    out[:NUM_STYLES] = weights[:NUM_STYLES]
    for j, style in enumerate(own):
        out[NUM_STYLES + names.index(style.name)] = weights[NUM_STYLES + j]
    return out


def _mix(spec: str) -> tuple[torch.Tensor, tuple[LearnedStyle, ...]]:
    mix = resolve_style(spec)
    return mix.weights, mix.learned


def resolve_track(style: StyleOptions, keys: Sequence[Key] = (), strength_keys: Sequence[Key] = (),
                  interpolation: str = "smooth") -> StyleTrack:
    """The track of ``style`` (a constant style: one key at 0 s), or of the style ``keys`` with ``style``'s
    strength, colour and scale settings; ``strength_keys`` override the strength.

    Built-in keys share one weight layout (the 26 rows, then every learned style any key names),
    so two keys blend by mixing their weight vectors (Dumoulin et al. 2017); painting keys are
    style vectors (Ghiasi et al. 2017), each predicted once here.

    Raises:
        StyleError, InputError: an unknown style, a missing painting, styles that cannot be blended.
        ConfigError: (field ``strength_at``) a strength key that is not a number in [0, 1].
    """
    keys = tuple(keys) or (Key(0.0, style.style),)
    painting = [is_painting_spec(k.value) for k in keys]
    builtin = [k.value for k, p in zip(keys, painting) if not p]
    union = resolve_style(",".join(builtin)) if builtin else None  # refuses an own network blended with others
    rows = union.learned if union is not None else ()
    weights = style.network
    if union is not None and union.network is not None:
        weights = f"learned:{next(s.name for s in union.learned if s.network is not None)}"
    resolved = []
    for k, p in zip(keys, painting):
        if p:
            vector = style_vector(shared_predictor(), k.value, style.style_scale)
            resolved.append((k.time, Conditioning(ARBITRARY, vector, weights=style.network)))
        else:
            resolved.append((k.time, Conditioning(MULTISTYLE, embed_weights(*_mix(k.value), rows), rows, weights)))
    strengths = strength_values(tuple(strength_keys))  # numbers in [0, 1], or the field's one-line error
    return StyleTrack(tuple(resolved), tuple((k.time, v) for k, v in zip(strength_keys, strengths)), style.strength,
                      style.preserve_colour, interpolation)
