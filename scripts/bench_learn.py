"""Benchmark for issue #5: learn a painting as a new style, and train it to be stable.

Held out: frames 96..131 of bigbuckbunny.mp4 (36 consecutive frames at 256 px wide);
the style is learned at 256 px crops from the photos, bikes.mp4, tree.avi, the
Sintel frames and bigbuckbunny's frames 0..89 (the user's own footage, as
``--on CLIP`` would: the held-out frames themselves are never seen).

1. ``learn_style`` of a painting not among the 26 (default udnie.jpg) within a
   time budget (default 14 minutes of training; the whole call is timed).
   On 12 of the held-out frames (every third), style and content loss (the
   metric of ``flowstyle eval``: painting at the frame width, Grams relu1_1..5_1,
   content relu4_2) of: the learned style; Gatys per frame, 300 L-BFGS iterations
   from the frame, no early stop, same loss weights; every built-in style (the
   nearest = the lowest style loss).
   Targets: learned style loss <= 1.5 x Gatys's at content <= 1.2 x Gatys's; learned
   style loss < nearest built-in's.
2. Temporal training: the learned style fine-tuned with the output temporal loss
   on neighbouring real frames (convolutions and norms), against the style of
   step 1. Both stylize all 36 held-out frames per frame (no post-process), at
   256 and at 512 px wide; E_warp as ``flowstyle eval`` measures it (flow of the
   original frames, forward-backward mask), on the frames before encoding.
   Target: E_warp ratio <= 0.6 at style loss <= 1.1x.

Usage: python scripts/bench_learn.py [--painting udnie.jpg] [--minutes 14] [--temporal-steps 300]
       [--skip-gatys] [--reuse]   (--reuse keeps styles learned by an earlier run in --home)
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"

from benchclips import cut_clip  # noqa: E402
from flowstyle.device import loss_network_dtype  # noqa: E402
from flowstyle.gatys import GatysOptions  # noqa: E402
from flowstyle.gatys.objective import FrameObjective  # noqa: E402
from flowstyle.gatys.optimize import optimize  # noqa: E402
from flowstyle.io.images import load_rgb  # noqa: E402
from flowstyle.io.reader import SizePolicy, VideoReader  # noqa: E402
from flowstyle.losses import CONTENT_LAYER, STYLE_LAYERS, content_loss, picture_grams, style_loss  # noqa: E402
from flowstyle.flow import make_flow_backend  # noqa: E402
from flowstyle.flow.remap import remap_flow  # noqa: E402
from flowstyle.metrics import EVAL_FLOW, masked_mse, mean_gradient  # noqa: E402
from flowstyle.temporal import estimate_motion  # noqa: E402
from flowstyle.losses import load_vgg16  # noqa: E402
from flowstyle.render import rgb_to_tensor, tensor_to_rgb  # noqa: E402
from flowstyle.stylize.feedforward import FeedForwardStylizer, StyleOptions  # noqa: E402
from flowstyle.stylize.learned import style_path  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402
from flowstyle.train import LearnOptions, learn_style  # noqa: E402

CLIP = MEDIA / "videos" / "bigbuckbunny.mp4"
TRAIN_END, HELD_START = 90, 96  # frames [0, 90) train; [96, 132) held out


def frames_of(clip: Path) -> list[np.ndarray]:
    with VideoReader(clip) as reader:
        return [f.rgb for f in reader]


class Losses:
    """The style/content metric of ``flowstyle eval`` on uint8 frames."""

    def __init__(self, painting: Path, width: int) -> None:
        self.vgg = load_vgg16()
        self.grams = picture_grams(self.vgg, load_rgb(painting), width)

    @torch.inference_mode()
    def __call__(self, outputs: list[np.ndarray], originals: list[np.ndarray]) -> tuple[float, float]:
        s, c = [], []
        for out, orig in zip(outputs, originals):
            feats = self.vgg(rgb_to_tensor(out, torch.device("cpu")), (*STYLE_LAYERS, CONTENT_LAYER))
            target = self.vgg(rgb_to_tensor(orig, torch.device("cpu")), (CONTENT_LAYER,))
            s.append(float(style_loss(feats, self.grams)))
            c.append(float(content_loss(feats, target)))
        return float(np.mean(s)), float(np.mean(c))


def stylize(style: str, frames: list[np.ndarray]) -> list[np.ndarray]:
    st = FeedForwardStylizer(StyleOptions(style=style), torch.device("cpu"), torch.float32)
    return [tensor_to_rgb(st(rgb_to_tensor(f, torch.device("cpu")))) for f in frames]


def gatys(painting: Path, frames: list[np.ndarray], iterations: int, grams) -> tuple[list[np.ndarray], float]:
    """Per-frame Gatys (``--method gatys --temporal-weight 0``'s optimiser), from each frame, no early stop."""
    vgg = load_vgg16()
    opts = GatysOptions(style=str(painting), init="content", temporal_weight=0.0, pyramid=1,
                        first_iterations=iterations, iterations=iterations, stop_tolerance=0.0)
    dtype = loss_network_dtype("auto", torch.device("cpu"))
    out, t = [], time.perf_counter()
    for rgb in frames:
        x = rgb_to_tensor(rgb, torch.device("cpu"))
        result = optimize(FrameObjective.build(vgg, opts, x, grams, autocast=dtype), x, iterations, opts)
        out.append(tensor_to_rgb(result.image))
    return out, time.perf_counter() - t


def ewarp(outputs: list[np.ndarray], originals: list[np.ndarray]) -> tuple[float, float]:
    """Mean E_warp of ``outputs`` and of the originals (its floor), as ``flowstyle eval`` measures it
    (Lai et al. 2018: DIS flow of the original frames, forward-backward mask), on the frames
    themselves rather than on an encoded file, so no codec noise enters either figure."""
    backend = make_flow_backend(EVAL_FLOW)
    out, orig = [], []
    for t in range(1, len(outputs)):
        motion = estimate_motion(originals[t - 1], originals[t], backend)
        for series, frames in ((out, outputs), (orig, originals)):
            a, b = (f.astype(np.float32) / 255 for f in (frames[t], frames[t - 1]))
            series.append(masked_mse(a, remap_flow(b, motion.flow_bwd), motion.mask))
    return float(np.mean(out)), float(np.mean(orig))


def detail(frames: list[np.ndarray]) -> float:
    return float(np.mean([mean_gradient(f.astype(np.float32) / 255) for f in frames]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--painting", default=str(MEDIA / "styles" / "udnie.jpg"))
    ap.add_argument("--minutes", type=float, default=14.0, help="training budget of step 1")
    ap.add_argument("--iterations", type=int, default=300, help="Gatys iterations per frame")
    ap.add_argument("--temporal-steps", type=int, default=300)
    ap.add_argument("--temporal-weight", type=float, default=None, help="default 1e7")
    ap.add_argument("--temporal-style-weight", type=float, default=None, help="style weight of the temporal fine-tuning")
    ap.add_argument("--home", default=None, help="FLOWSTYLE_HOME for the learned styles (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="reuse styles an earlier run left in --home")
    ap.add_argument("--skip-gatys", action="store_true")
    ap.add_argument("--skip-temporal", action="store_true")
    args = ap.parse_args()
    print(bench_header(loss_network=True))  # learn-style's defaults: device and precision auto
    painting = Path(args.painting)
    home = Path(args.home or tempfile.mkdtemp(prefix="flowstyle-bench-"))
    os.environ["FLOWSTYLE_HOME"] = str(home)
    work = Path(tempfile.mkdtemp(prefix="flowstyle-bench-clips-"))
    train_part = cut_clip(CLIP, work / "bbb_train.mkv", 0, TRAIN_END, SizePolicy(height=288))
    held = cut_clip(CLIP, work / "bbb_heldout.mkv", HELD_START, 132, SizePolicy(width=256))
    held_frames = frames_of(held)
    loss_frames = held_frames[::3][:12]
    sources = tuple(str(p) for p in (MEDIA / "photos", MEDIA / "videos" / "bikes.mp4", MEDIA / "videos" / "tree.avi",
                                     MEDIA / "sintel_raft_demo", train_part))
    name = "bench-" + painting.stem.replace("_", "-").lower()
    print(f"{painting.name}; held out: {CLIP.name} frames {HELD_START}..131 at {held_frames[0].shape[1]}x"
          f"{held_frames[0].shape[0]}; {torch.get_num_threads()} threads")

    # 1. learn the style
    options = LearnOptions(painting=str(painting), name=name, sources=sources, minutes=args.minutes, steps=10**6)
    if not (args.reuse and style_path(name).exists()):
        t = time.perf_counter()
        report = learn_style(options, restart=True, overwrite=True)
        wall = time.perf_counter() - t
        print(f"  learn-style: {report.steps} steps of {options.batch} crops of {options.crop} px in {report.seconds:.0f} s of "
              f"training, {wall:.0f} s for the whole call ({wall / 60:.1f} min; target <= 15 min); started from "
              f"built-in {report.init}")
    measure = Losses(painting, held_frames[0].shape[1])
    learned = measure(stylize(name, loss_frames), loss_frames)
    builtins = [(measure(stylize(str(i), loss_frames), loss_frames), i) for i in range(26)]
    (near_s, near_c), near_i = min(builtins)
    print(f"  learned style        : style {learned[0]:.4g}  content {learned[1]:.4g}")
    print(f"  nearest built-in ({near_i:2d}): style {near_s:.4g}  content {near_c:.4g}   "
          f"learned/nearest style = {learned[0] / near_s:.3f} (target < 1)")
    if not args.skip_gatys:
        out, secs = gatys(painting, loss_frames, args.iterations, measure.grams)
        g = measure(out, loss_frames)
        print(f"  Gatys {args.iterations} iterations : style {g[0]:.4g}  content {g[1]:.4g}  ({secs:.0f} s for 12 frames)")
        print(f"    learned/Gatys: style {learned[0] / g[0]:.3f} (target <= 1.5)  content {learned[1] / g[1]:.3f} (target <= 1.2)")

    # 2. temporal training
    if not args.skip_temporal:
        stable = name + "-stable"
        extra = {} if args.temporal_weight is None else {"temporal_weight": args.temporal_weight}
        if args.temporal_style_weight is not None:
            extra["style_weight"] = args.temporal_style_weight
        t_opts = LearnOptions(painting=str(painting), name=stable, sources=sources, steps=args.temporal_steps,
                              init=name, train="all", **{"temporal_weight": 1e7, **extra})
        if not (args.reuse and style_path(stable).exists()):
            r = learn_style(t_opts, restart=True, overwrite=True)
            print(f"  temporal training: {r.steps} steps (weight {t_opts.temporal_weight:g}, convolutions and norms) "
                  f"in {r.seconds:.0f} s")
        for width in (256, 512):
            frames = held_frames if width == held_frames[0].shape[1] else frames_of(
                cut_clip(CLIP, work / f"bbb_heldout_{width}.mkv", HELD_START, 132, SizePolicy(width=width)))
            plain, stable_out = stylize(name, frames), stylize(stable, frames)
            (e_plain, floor), (e_stable, _) = ewarp(plain, frames), ewarp(stable_out, frames)
            m = measure if width == held_frames[0].shape[1] else Losses(painting, width)
            (s_plain, c_plain), (s_stable, c_stable) = m(plain[::3][:12], frames[::3][:12]), m(stable_out[::3][:12], frames[::3][:12])
            print(f"  {width}x{frames[0].shape[0]}: per-frame E_warp on the 36 held-out frames: untrained {e_plain:.6f}, "
                  f"temporal {e_stable:.6f} (original clip {floor:.6f}): ratio {e_stable / e_plain:.3f} (target <= 0.6)")
            print(f"    style loss temporal/untrained (12 frames) {s_stable / s_plain:.3f} (target <= 1.1); content "
                  f"{c_stable / c_plain:.3f}; detail {detail(stable_out) / detail(plain):.3f}")
    print(f"  peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; styles in {home}")


if __name__ == "__main__":
    main()
