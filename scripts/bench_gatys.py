"""Benchmark for issue #4: temporal Gatys against per-frame Gatys.

On 12 frames of a real clip at 256 px wide with a painting (both in ../shared/media):
  (a) per-frame Gatys from the content image, N iterations a frame (no early stop);
  (b) temporal Gatys with the defaults (warped init, short+long-term temporal loss).
Reports E_warp of both (flowstyle eval: flow from the original frames), style loss,
how many iterations frames 2..12 of (b) need to reach the content+style loss (a)
reached after N, seconds per iteration at 256 and 512 px, and peak memory.

Usage: python scripts/bench_gatys.py [--iterations 300] [--frames 12] [--clip bikes.mp4]
Targets: E_warp(b) <= 0.3 x E_warp(a); frames 2..12 of (b) reach (a)'s loss within
<= 25% of N iterations on average; style loss(b) <= 1.15 x style loss(a).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"

from benchclips import cut_clip  # noqa: E402
from flowstyle.gatys import GatysConfig, GatysOptions
from flowstyle.progress import Progress
from flowstyle.render import render_gatys  # noqa: E402
from flowstyle.gatys.objective import StyleTarget  # noqa: E402
from flowstyle.tensors import rgb_to_tensor  # noqa: E402
from flowstyle.gatys.optimize import optimize  # noqa: E402
from flowstyle.gatys.objective import FrameObjective  # noqa: E402
from flowstyle.device import loss_network_dtype  # noqa: E402
from flowstyle.device import resolve_device  # noqa: E402
from flowstyle.io.reader import SizePolicy, VideoReader  # noqa: E402
from flowstyle.io.writer import EncodeOptions  # noqa: E402
from flowstyle.metrics import evaluate  # noqa: E402
from flowstyle.losses import load_vgg16  # noqa: E402
from flowstyle.stylize.paintings import parse_paintings  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402


def run(clip: Path, out: Path, options: GatysOptions) -> tuple[list[list[float]], float]:
    """Render; per frame, the content+style loss after each iteration; and wall seconds."""
    curves: dict[int, list[float]] = {}

    def progress(p: Progress) -> None:
        if p.iteration:
            curves.setdefault(p.item, []).append(p.values["perceptual"])

    t = time.perf_counter()
    render_gatys(clip, out, GatysConfig(options, encode=EncodeOptions(crf=0)), overwrite=True, progress=progress)
    return [curves[i] for i in sorted(curves)], time.perf_counter() - t


def seconds_per_iteration(width: int, style: str, precision: str, device: torch.device, iterations: int = 12) -> float:
    vgg = load_vgg16(device)
    for p in vgg.parameters():
        p.requires_grad_(False)
    opts = GatysOptions(style=style, stop_tolerance=0.0)
    with VideoReader(MEDIA / "videos" / "bigbuckbunny.mp4", SizePolicy(width=width)) as reader:
        rgb = next(iter(reader)).rgb
    frame = rgb_to_tensor(rgb, device)
    grams = StyleTarget(parse_paintings(style), 1.0, vgg).grams(width, device)
    objective = FrameObjective.build(vgg, opts, frame, grams, autocast=loss_network_dtype(precision, device))
    optimize(objective, frame, 2, opts)  # warm-up
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    result = optimize(objective, frame, iterations, opts)
    sync()
    return (time.perf_counter() - t) / result.iterations


def report(n: int, frames: int, label: str, curves_a, curves_b, secs_b: float, ev_a, ev_b) -> None:
    reached, never = [], 0
    for a, b in zip(curves_a[1:], curves_b[1:]):
        goal = a[-1]
        hit = next((i + 1 for i, v in enumerate(b) if v <= goal), None)
        if hit is None:
            never += 1
            hit = max(n, len(b))  # counted as the whole per-frame budget
        reached.append(hit)
    print(f"  (b) temporal, {label}: E_warp {ev_b.ewarp:.5f}  style {ev_b.style_loss:.4g}  "
          f"content {ev_b.content_loss:.4g}  {sum(map(len, curves_b))} iterations, {secs_b:.0f} s  "
          f"(per frame {[len(c) for c in curves_b]})")
    print(f"    E_warp(b)/E_warp(a)   = {ev_b.ewarp / ev_a.ewarp:.3f}  (target <= 0.30)")
    print(f"    iterations of (b) to reach (a)'s content+style loss, frames 2..{frames}: mean {statistics.mean(reached):.1f} "
          f"= {statistics.mean(reached) / n:.1%} of N (target <= 25%); {never} never reached; per frame {reached}")
    print(f"    (b)'s content+style loss at its first iteration / (a)'s final, frames 2..{frames}: "
          f"{[round(b[0] / a[-1], 2) for a, b in zip(curves_a[1:], curves_b[1:])]}")
    print(f"    style loss (b)/(a)    = {ev_b.style_loss / ev_a.style_loss:.3f}  (target <= 1.15);  "
          f"content loss (b)/(a) = {ev_b.content_loss / ev_a.content_loss:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=300, help="N: per-frame iterations of (a)")
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--clip", default="bikes.mp4")
    ap.add_argument("--style", default=str(MEDIA / "styles" / "starry_night.jpg"))
    ap.add_argument("--temporal-weight", type=float, nargs="*", default=[],
                    help="(b) with these temporal weights instead of the default (one render each)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a GatysOptions field of (b), e.g. --set iterations=50 (repeatable); "
                         "content/style/tv weights and style scale apply to (a) too")
    ap.add_argument("--variant", action="append", default=[], metavar="FIELD=VALUE[;FIELD=VALUE]",
                    help="render (b) once more with these overrides (repeatable), e.g. --variant 'pyramid=1'")
    ap.add_argument("--skip-timing", action="store_true")
    args = ap.parse_args()
    print(bench_header(loss_network=True))
    torch.manual_seed(0)
    n = args.iterations
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        clip = cut_clip(MEDIA / "videos" / args.clip, tmp / "clip.mkv", 0, args.frames, SizePolicy(width=args.width))
        overrides = {k: ast.literal_eval(v) for k, v in (item.split("=", 1) for item in args.set)}
        shared = {k: v for k, v in overrides.items() if k in ("content_weight", "style_weight", "tv_weight", "style_scale")}
        per_frame = GatysOptions(style=args.style, init="content", temporal_weight=0.0, pyramid=1,
                                 first_iterations=n, iterations=n, stop_tolerance=0.0, **shared)
        curves_a, secs_a = run(clip, tmp / "a.mp4", per_frame)
        ev_a = evaluate(clip, tmp / "a.mp4", args.style, loss_every=1)
        print(f"\n{args.clip}: {args.frames} frames at {args.width} px, style {Path(args.style).name}, N = {n}")
        print(f"  (a) per-frame  : E_warp {ev_a.ewarp:.5f}  style {ev_a.style_loss:.4g}  content {ev_a.content_loss:.4g}  "
              f"{sum(map(len, curves_a))} iterations, {secs_a:.0f} s;  original clip E_warp {ev_a.ewarp_original:.5f}")
        default = GatysOptions(style=args.style, first_iterations=n, **overrides)
        if overrides:
            print(f"  (b) overrides: {overrides}")
        runs = [(dataclasses.replace(default, temporal_weight=w), f"weight {w:g}")
                for w in args.temporal_weight or [default.temporal_weight]]
        for variant in args.variant:
            extra = {k: ast.literal_eval(v) for k, v in (item.split("=", 1) for item in variant.split(";"))}
            runs.append((dataclasses.replace(default, **extra), variant))
        for temporal, label in runs:
            curves_b, secs_b = run(clip, tmp / "b.mp4", temporal)
            ev_b = evaluate(clip, tmp / "b.mp4", args.style, loss_every=1)
            report(n, args.frames, label, curves_a, curves_b, secs_b, ev_a, ev_b)
    if not args.skip_timing:
        device = resolve_device("auto")
        where = f"{torch.get_num_threads()} CPU threads" if device.type == "cpu" else torch.cuda.get_device_name()
        for w in (256, 512):
            for precision in ("auto", "fp32"):
                dtype = loss_network_dtype(precision, device)
                print(f"  seconds per iteration at {w} px wide, loss network {str(dtype or torch.float32)[6:]}: "
                      f"{seconds_per_iteration(w, args.style, precision, device):.4f}  ({where})")
    print(f"  peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if torch.cuda.is_available():
        print(f"  peak GPU memory: {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
