"""Style specifications: ``3``, ``blue-brush``, ``3:0.6,17:0.4`` -> a weight vector.

The shipped Magenta network came without style names, so the built-in names
below describe how each style looks on a photo (see ``flowstyle styles
--contact-sheet``); indices are always accepted.
"""

from __future__ import annotations

import torch

from ..errors import StyleError
from ..models.multistyle import NUM_STYLES

BUILTIN_NAMES: tuple[str, ...] = (
    "ochre-wash", "yellow-bold-lines", "pale-sketch", "swirl-abstract", "warm-pastel",
    "autumn-oil", "indigo-cells", "night-gold", "white-pastel", "teal-pattern",
    "sepia-brown", "ink-cream", "lilac-wash", "green-mosaic", "pale-blue",
    "stained-glass", "blue-brush", "red-grid", "sepia-woodcut", "blue-crosshatch",
    "red-cubist", "pop-pastel", "ink-poster", "dark-green", "cream-etching",
    "gold-mosaic",
)
assert len(BUILTIN_NAMES) == NUM_STYLES


def style_index(token: str) -> int:
    """Index of one style given by number or name."""
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


def parse_style(spec: str | int) -> torch.Tensor:
    """Parse ``7``, ``blue-brush`` or a blend ``3:0.6,blue-brush:0.4`` into normalised weights (26,).

    Weights are non-negative and renormalised to sum to 1, so ``3:3,17:1`` is a 75/25 blend.
    """
    weights = torch.zeros(NUM_STYLES, dtype=torch.float32)
    parts = [p for p in str(spec).split(",") if p.strip()]
    if not parts:
        raise StyleError("empty style specification; use e.g. 7, blue-brush or 3:0.6,17:0.4")
    for part in parts:
        name, sep, amount = part.partition(":")
        weights[style_index(name)] += blend_weight(amount if sep else "", spec, "3:0.6,17:0.4")
    total = float(weights.sum())
    if total <= 0.0:
        raise StyleError(f"style '{spec}' has all-zero weights")
    return weights / total
