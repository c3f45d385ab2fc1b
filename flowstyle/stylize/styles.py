"""Style specifications: ``3``, ``blue-brush``, ``3:0.6,my-udnie:0.4`` -> a weight vector.

The shipped Magenta network came without style names, so the built-in names
below describe how each style looks on a photo (see ``flowstyle styles
--contact-sheet``); indices are always accepted. Styles learned with
``flowstyle learn-style`` are named only (see :mod:`flowstyle.stylize.learned`);
they take the rows after the 26 built-in ones, in the order the spec names them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import StyleError
from ..models.multistyle import NUM_STYLES
from .builtin import BUILTIN_NAMES
from .learned import LearnedStyle, load_learned



def style_index(token: str) -> int:
    """Index of one built-in style given by number or name."""
    token = token.strip()
    if token.isdigit():
        idx = int(token)
        if not 0 <= idx < NUM_STYLES:
            raise StyleError(f"unknown style {idx}: built-in styles are 0 to {NUM_STYLES - 1} (see `flowstyle styles`)")
        return idx
    try:
        return BUILTIN_NAMES.index(token.lower())
    except ValueError:
        raise StyleError(f"unknown style '{token}' (see `flowstyle styles` for the names)") from None


def blend_weight(amount: str, spec: str, example: str) -> float:
    """The weight after ``name:`` in a blend (1 when absent): finite and non-negative."""
    try:
        w = float(amount) if amount else 1.0
    except ValueError:
        raise StyleError(f"bad blend weight '{amount}' in style '{spec}'; use e.g. {example}") from None
    if not w >= 0.0 or w == float("inf"):
        raise StyleError(f"blend weights must be finite and non-negative, got '{amount}' in '{spec}'")
    return w


@dataclass(frozen=True)
class StyleMix:
    """A parsed style: weights over the 26 built-in rows then ``learned``'s rows.

    ``network`` is the state dict to render with when a learned style brought its
    own convolutions (temporal training), else None (the built-in network).
    """

    weights: Tensor
    learned: tuple[LearnedStyle, ...] = ()

    @property
    def network(self) -> dict[str, Tensor] | None:
        return next((s.network for s in self.learned if s.network is not None), None)


def resolve_style(spec: str | int) -> StyleMix:
    """Parse ``7``, ``blue-brush``, a learned name, or a blend ``3:0.6,my-style:0.4``.

    Weights are non-negative and renormalised to sum to 1, so ``3:3,17:1`` is a 75/25 blend.
    """
    parts = [p for p in str(spec).split(",") if p.strip()]
    if not parts:
        raise StyleError("empty style specification; use e.g. 7, blue-brush or 3:0.6,17:0.4")
    amounts: dict[int, float] = {}
    learned: list[LearnedStyle] = []
    names: list[str] = []  # of ``learned``, in order
    for part in parts:
        name, sep, amount = part.partition(":")
        name = name.strip()
        try:
            idx = style_index(name)
        except StyleError:
            if name.isdigit():
                raise
            key = name.lower()
            if key not in names:
                style = load_learned(key)
                if style.vector is not None:
                    raise StyleError(f"style '{key}' was learned on the arbitrary-style network: it blends with "
                                     f"paintings (e.g. {key}:0.5,starry.jpg:0.5), not with built-in styles")
                learned.append(style)
                names.append(key)
            idx = NUM_STYLES + names.index(key)
        amounts[idx] = amounts.get(idx, 0.0) + blend_weight(amount if sep else "", spec, "3:0.6,17:0.4")
    own = [s.name for s in learned if s.network is not None]
    if own and len(amounts) > 1:
        raise StyleError(f"style '{own[0]}' was trained with its own network (temporal training) "
                         f"and cannot be blended with other styles")
    weights = torch.zeros(NUM_STYLES + len(learned), dtype=torch.float32)
    for idx, w in amounts.items():
        weights[idx] += w
    total = float(weights.sum())
    if total <= 0.0:
        raise StyleError(f"style '{spec}' has all-zero weights")
    return StyleMix(weights / total, tuple(learned))


def parse_style(spec: str | int) -> Tensor:
    """The normalised weight vector of ``spec`` (26 built-in rows, then any learned styles it names)."""
    return resolve_style(spec).weights
