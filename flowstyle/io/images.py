"""Still pictures (paintings, photos) as uint8 RGB arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError


def load_rgb(path: Path) -> np.ndarray:
    """Any picture Pillow reads, EXIF-rotated upright, as uint8 RGB (H, W, 3).

    A writable copy: ``np.asarray`` of a Pillow image is read-only, and ``torch.from_numpy``
    warns on (and may not write to) such arrays."""
    try:
        with Image.open(path) as im:
            return np.array(ImageOps.exif_transpose(im).convert("RGB"))
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(path, f"not a readable image ({exc})") from None
