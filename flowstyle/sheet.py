"""Contact sheet: every built-in style applied to one picture, labelled, to help pick a style."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from .device import resolve_device, resolve_precision
from .errors import InputError, OutputError
from .models.multistyle import NUM_STYLES
from .stylize.feedforward import FeedForwardStylizer, StyleOptions
from .stylize.styles import BUILTIN_NAMES


def load_rgb(path: Path) -> np.ndarray:
    """Any picture Pillow reads, EXIF-rotated upright, as uint8 RGB (H, W, 3)."""
    try:
        with Image.open(path) as im:
            return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(path, f"not a readable image ({exc})") from None


def contact_sheet(image: Path, out: Path, tile: int = 256, columns: int = 7, device: str = "auto") -> Path:
    """Write a PNG grid: the picture, then style 0 ... 25, each labelled with index and name."""
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise OutputError(out, "contact sheet must be .png, .jpg or .webp")
    rgb = load_rgb(image)
    pic = Image.fromarray(rgb)
    pic.thumbnail((tile, tile), Image.LANCZOS)
    dev = resolve_device(device)
    dtype = resolve_precision("auto", dev)
    x = torch.from_numpy(np.array(pic)).to(dev).permute(2, 0, 1)[None].float() / 255.0
    stylizer = FeedForwardStylizer(StyleOptions(style="0"), dev, dtype)
    tiles = [("original", pic)]
    for i in range(NUM_STYLES):
        w = torch.zeros(NUM_STYLES, device=dev)
        w[i] = 1.0
        stylizer.style_weights = w
        y = stylizer(x)[0].mul(255).round().clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()
        tiles.append((f"{i} {BUILTIN_NAMES[i]}", Image.fromarray(y)))
    tw, th = pic.size
    pad, label = 6, 14
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * (tw + pad) + pad, rows * (th + label + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    for n, (name, im) in enumerate(tiles):
        r, c = divmod(n, columns)
        x0, y0 = pad + c * (tw + pad), pad + r * (th + label + pad)
        sheet.paste(im, (x0, y0 + label))
        draw.text((x0 + 2, y0 + 1), name, fill="black")
    try:
        sheet.save(out)
    except OSError as exc:
        raise OutputError(out, f"cannot write ({exc.strerror or exc})") from None
    return out
