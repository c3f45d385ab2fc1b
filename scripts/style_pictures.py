"""Painterly style pictures for training the stable arbitrary network, made from what ships.

The arbitrary network must stay stable for the style vectors of paintings, but the only paintings
in ../shared/media are the two it is evaluated with (starry_night.jpg, udnie.jpg), which stay out
of training. The 26 built-in styles of the multi-style network are paintings' looks learned by
Magenta (Dumoulin et al. 2017, Apache-2.0); rendering two of scikit-image's sample photos in each
gives 52 pictures with painted texture and colour, whose style vectors (Ghiasi et al. 2017: the
predictor takes any image) lie where paintings' do. They are committed (weights/stable/style_pictures/)
so a training run reads the same pixels on every CPU; this script says how they were made.

    python scripts/style_pictures.py [--out weights/stable/style_pictures] [--size 384]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowstyle.io.images import load_rgb  # noqa: E402
from flowstyle.models.multistyle import NUM_STYLES  # noqa: E402
from flowstyle.stylize.feedforward import load_multistyle  # noqa: E402
from flowstyle.train.pictures import skimage_pictures  # noqa: E402

PHOTOS = ("chelsea.png", "astronaut.png")


def square(rgb: np.ndarray, size: int) -> np.ndarray:
    """The centre square of ``rgb``, resized to ``size`` (area filter: a downscale)."""
    h, w = rgb.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    return cv2.resize(rgb[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "weights" / "stable" / "style_pictures")
    ap.add_argument("--size", type=int, default=384)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    # fp32 on the CPU: the pictures must not depend on the instruction set (bf16 or not).
    net = load_multistyle(torch.device("cpu"), torch.float32)
    args.out.mkdir(parents=True, exist_ok=True)
    folder = skimage_pictures()
    for photo in PHOTOS:
        rgb = square(load_rgb(folder / photo), args.size)
        x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
        for style in range(NUM_STYLES):
            weights = torch.zeros(1, NUM_STYLES)
            weights[0, style] = 1.0
            with torch.inference_mode():
                out = net(x.contiguous(memory_format=torch.channels_last), weights)
            img = (out[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.uint8)
            path = args.out / f"{Path(photo).stem}_{style:02d}.jpg"
            cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    print(f"wrote {len(PHOTOS) * NUM_STYLES} pictures to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
