"""Names of the 26 built-in styles of the multi-style network.

The shipped Magenta network came without style names, so these describe how each
style looks on a photo (see ``flowstyle styles --contact-sheet``). A module of its
own so that both the style parser and the learned-style store can read them
without importing each other (docs/architecture.md, "Layers").
"""

from __future__ import annotations

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
