"""Benchmark of painted keys carried along the flow (``render --keyframe``), on the real clips of ../shared/media.

For each clip (its first ``--frames`` frames at 640 px, as a lossless copy; up to its first cut, since a key
belongs to its shot) two keys are painted on its
first and last frame by a filter no network made (``oil``: OpenCV's oil painting, ``stylization``:
OpenCV's edge-preserving stylization), and rendered three ways:

  K  --keyframe 0=keyA --keyframe N=keyB     the propagation (lossless FFV1, so the keys are measured, not x264)
  P  --style keyA --temporal none            the arbitrary network with the key as its style picture, per-frame
  T  --style keyA                            the same in the default temporal mode

and measured: PSNR of K's key frames to the keys; sharpness (luma Laplacian variance) of every frame of K
against the keys' own (min and max over the frames between); the Gram loss (relu1_1, relu2_1, relu3_1) of
each frame of K against its nearest key, as a ratio to the loss of one key against the other; E_warp of K
as a ratio to P's and to T's, scored with DIS-medium and with Farneback (a flow the propagation did not
follow: the render's own is dis-balanced), with K's Laplacian energy over P's and T's beside them (E_warp is
not normalised by how much texture a picture carries: a painted key keeps more than the network's version),
and the least E_warp K's own texture could score with each flow however it were carried (E_warp's bilinear
warp against a band-limited move of the same picture: ``measure.carried_floor``) over P's. Crop strips
(original | P | K) go to eval/results.

Targets (docs/keyframes.md): PSNR >= 40 dB at the keys, sharpness 0.85-1.20x, Gram <= 1.3x, E_warp <= 0.3x P
and <= 1.0x T.

Usage: python eval/run_keys.py [--clips bikes.mp4 ...] [--frames 49] [--looks oil stylization] [--out eval/results]
Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import CLIPS, ROOT, carried_floor, clip_source, crop_strip, f3, markdown_table  # noqa: E402

from flowstyle import RenderConfig, render  # noqa: E402
from flowstyle.io.reader import SizePolicy, VideoReader  # noqa: E402
from flowstyle.io.writer import EncodeOptions  # noqa: E402
from flowstyle.keyed.options import PaintedKeyOptions  # noqa: E402
from flowstyle.losses import gram, load_vgg16  # noqa: E402
from flowstyle.metrics import evaluate, laplacian_variance  # noqa: E402
from flowstyle.scenes import CutDetector  # noqa: E402
from flowstyle.stylize.options import StyleOptions  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402
from flowstyle.temporal import TemporalOptions  # noqa: E402

GRAM_LAYERS = ("relu1_1", "relu2_1", "relu3_1")
TARGETS = {"psnr": 40.0, "sharp_min": 0.85, "sharp_max": 1.20, "gram": 1.3, "ewarp_p": 0.3, "ewarp_t": 1.0}


def paint(look: str, rgb: np.ndarray) -> np.ndarray:
    """A key in a look no network made (OpenCV's non-photorealistic filters, on BGR)."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if look == "oil":
        out = cv2.xphoto.oilPainting(bgr, 7, 1)
    elif look == "stylization":
        out = cv2.stylization(bgr, sigma_s=60, sigma_r=0.45)
    else:
        raise SystemExit(f"run_keys: unknown look '{look}'")
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)


def read_all(path: Path) -> list[np.ndarray]:
    with VideoReader(path) as r:
        return [f.rgb for f in r]


def first_cut(frames: list[np.ndarray]) -> int | None:
    """Where the render's own cut detector starts a second shot, or None."""
    detector = CutDetector()
    return next((i for i, f in enumerate(frames) if detector.is_cut(f, i) and i > 0), None)


class Grams:
    """Gram loss (GRAM_LAYERS) of pictures against a target picture's Grams, VGG16 on the CPU."""

    def __init__(self) -> None:
        self.vgg = load_vgg16(torch.device("cpu"))

    def feats(self, rgb: np.ndarray) -> dict[str, torch.Tensor]:
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            return {k: gram(v.float()) for k, v in self.vgg(x, GRAM_LAYERS).items()}

    @staticmethod
    def loss(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
        return float(sum((a[k] - b[k]).pow(2).mean() for k in GRAM_LAYERS))


def measure_clip(name: str, look: str, frames: int, out: Path, grams: Grams) -> tuple[dict, list[Path]]:
    src = clip_source(name, out, frames, 640)
    originals = read_all(src)
    cut = first_cut(originals)
    if cut is not None:  # keys belong to one shot: measure the first shot only
        src = clip_source(name, out, cut, 640)
        originals = originals[:cut]
    n = len(originals)
    stem = f"keys_{Path(name).stem}_{look}"
    key_a, key_b = paint(look, originals[0]), paint(look, originals[-1])
    paths = [out / f"{stem}_key{i:04d}.png" for i in (0, n - 1)]
    for p, k in zip(paths, (key_a, key_b)):
        cv2.imwrite(str(p), cv2.cvtColor(k, cv2.COLOR_RGB2BGR))
    size = SizePolicy(max_width=640)
    keyed = PaintedKeyOptions(keyframes=(f"0={paths[0]}", f"{n - 1}={paths[1]}"))
    t = time.perf_counter()
    k_path = out / f"{stem}_K.mkv"
    render(src, k_path, RenderConfig(painted=keyed, size=size, encode=EncodeOptions(codec="ffv1")), overwrite=True)
    k_seconds = time.perf_counter() - t
    p_path, t_path = out / f"{stem}_P.mp4", out / f"{stem}_T.mp4"
    style = StyleOptions(style=str(paths[0]))
    render(src, p_path, RenderConfig(style=style, size=size, temporal=TemporalOptions(mode="none")), overwrite=True)
    render(src, t_path, RenderConfig(style=style, size=size), overwrite=True)

    result = read_all(k_path)
    psnr = min(cv2.PSNR(result[0], key_a), cv2.PSNR(result[-1], key_b))
    key_sharp = (laplacian_variance(key_a) + laplacian_variance(key_b)) / 2
    sharp = [laplacian_variance(f) / key_sharp for f in result[1:-1]]
    ga, gb = grams.feats(key_a), grams.feats(key_b)
    between = grams.loss(ga, gb)
    gram_ratio = [grams.loss(grams.feats(f), ga if i < n / 2 else gb) / between
                  for i, f in enumerate(result) if 0 < i < n - 1 and i % 4 == 0]
    row = {"clip": name, "look": look, "frames": n, "psnr": psnr, "sharp_min": min(sharp), "sharp_max": max(sharp),
           "gram": max(gram_ratio), "gram_mean": float(np.mean(gram_ratio)), "fps_whole": n / k_seconds}
    for flow, tag in (("dis-medium", "dis"), ("farneback", "farneback")):
        for ref, name in ((p_path, "p"), (t_path, "t")):
            e = evaluate(src, k_path, reference=ref, flow=flow, loss_every=0)
            row[f"ewarp_{name}_{tag}"] = e.ratio("ewarp")
            row[f"energy_{name}"] = e.sharpness_ratio  # K's Laplacian energy over the reference's
            if name == "p":
                # The least E_warp K's texture can score with this flow however it is carried, over P's.
                row[f"floor_p_{tag}"] = carried_floor(src, k_path, flow) / e.ewarp_reference
    row["ewarp_p"] = max(row["ewarp_p_dis"], row["ewarp_p_farneback"])
    row["ewarp_t"] = max(row["ewarp_t_dis"], row["ewarp_t_farneback"])
    row["missed"] = [k for k, v in TARGETS.items()
                     if (row[k] < v if k in ("psnr", "sharp_min") else row[k] > v)]
    return row, [src, p_path, k_path]


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "eval" / "results")
    ap.add_argument("--clips", nargs="*", default=CLIPS)
    ap.add_argument("--looks", nargs="*", default=["oil", "stylization"])
    ap.add_argument("--frames", type=int, default=49, help="frames of each clip (keys on the first and the last)")
    args = ap.parse_args(argv)
    print(bench_header(), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    grams = Grams()
    rows = []
    for name in args.clips:
        groups = []
        for look in args.looks:
            row, renders = measure_clip(name, look, args.frames, args.out, grams)
            rows.append(row)
            groups.append((renders, row["frames"]))
            print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
        crop_strip(groups, args.out / f"keys_crops_{Path(name).stem}.png", labels=["original", "per-frame (P)", "keys (K)"])
    head = ["clip", "look", "frames", "PSNR at keys", "sharpness min-max", "Gram max (mean)", "E_warp / P DIS, Farneback",
            "E_warp / T DIS, Farneback", "Laplacian energy K / P, K / T", "E_warp floor / P DIS, Farneback",
            "whole render f/s", "targets"]
    cells = [[r["clip"], r["look"], str(r["frames"]), "exact" if r["psnr"] > 100 else f"{r['psnr']:.1f}", f"{r['sharp_min']:.2f}-{r['sharp_max']:.2f}",
              f"{r['gram']:.2f} ({r['gram_mean']:.2f})", f"{f3(r['ewarp_p_dis'])}, {f3(r['ewarp_p_farneback'])}",
              f"{f3(r['ewarp_t_dis'])}, {f3(r['ewarp_t_farneback'])}", f"{f3(r['energy_p'])}, {f3(r['energy_t'])}",
              f"{f3(r['floor_p_dis'])}, {f3(r['floor_p_farneback'])}", f"{r['fps_whole']:.1f}",
              "met" if not r["missed"] else "MISSED " + ", ".join(r["missed"])] for r in rows]
    table = markdown_table(head, cells)
    (args.out / "keys.md").write_text(f"{bench_header()}\n\n{table}\n")
    (args.out / "keys.json").write_text(json.dumps(rows, indent=1))
    print(table, flush=True)
    return 0 if all(not r["missed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
