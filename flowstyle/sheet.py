"""Contact sheet: every built-in style (or each given painting) applied to one picture, labelled, to help pick a style
(or, with several networks, to compare their versions: original and stable side by side)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .device import resolve_device, resolve_precision
from .errors import OutputError
from .io.images import load_rgb
from .models.multistyle import NUM_STYLES
from .stylize.learned import learned_names
from .stylize.options import StyleOptions
from .stylize.painter import make_stylizers
from .stylize.resolve import resolve_track
from .stylize.styles import BUILTIN_NAMES
from .stylize.track import ORIGINAL


def contact_sheet(image: Path, out: Path, tile: int = 256, columns: int = 7, device: str = "auto",
                  paintings: list[Path] | None = None, networks: Sequence[str] = (ORIGINAL,)) -> Path:
    """Write a PNG grid: the picture, then style 0 ... 25 labelled with index and name and the
    learned styles by name, or,
    with ``paintings``, the picture in the style of each painting (its thumbnail inset).

    With several ``networks`` (e.g. ``("original", "stable")``: ``StyleOptions.network``), each style is
    drawn by each of them, side by side on one row and labelled with the network; ``columns`` is then
    rounded down to a multiple of their number (at least one style a row)."""
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise OutputError(out, "contact sheet must be .png, .jpg or .webp")
    rgb = load_rgb(image)
    pic = Image.fromarray(rgb)
    pic.thumbnail((tile, tile), Image.LANCZOS)
    dev = resolve_device(device)
    dtype = resolve_precision("auto", dev)
    x = torch.from_numpy(np.array(pic)).to(dev).permute(2, 0, 1)[None].float() / 255.0
    to_image = lambda t: Image.fromarray(t[0].mul(255).round().clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy())  # noqa: E731
    tiles = [("original", pic)]
    specs = [str(p) for p in paintings] if paintings else [str(i) for i in range(NUM_STYLES)] + learned_names()
    # One painter for every tile: the networks load once (docs/architecture.md, "The style value").
    stylizers = iter(make_stylizers([resolve_track(StyleOptions(style=spec, network=net))
                                     for spec in specs for net in networks], dev, dtype))
    k = len(networks)
    if k > 1:  # the picture alone on its pair of places, so that each style's versions share a row
        tiles += [("", Image.new("RGB", pic.size, "white"))] * (k - 1)
        columns = max(k, columns - columns % k)
    labels = ([p.name for p in paintings] if paintings else
              [f"{i} {BUILTIN_NAMES[i]}" for i in range(NUM_STYLES)] + specs[NUM_STYLES:])
    for n, name in enumerate(labels):
        for net in networks:
            styled = to_image(next(stylizers)(x))
            if paintings:
                inset = Image.fromarray(load_rgb(paintings[n]))
                inset.thumbnail((max(16, tile // 4), max(16, tile // 4)), Image.LANCZOS)
                styled.paste(inset, (styled.width - inset.width, styled.height - inset.height))
            tiles.append((f"{name} ({net})" if k > 1 else name, styled))
    tw, th = pic.size
    pad, label = 6, 14
    columns = min(columns, len(tiles))
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
