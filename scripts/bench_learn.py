"""Benchmark for issue #17 (learn-style, re-scoped): a learned style against the arbitrary network.

Held out: frames 96..131 of bigbuckbunny.mp4 (36 consecutive frames at 256 px wide);
styles are learned at 256 px crops from the photos, bikes.mp4, tree.avi, the Sintel
frames and bigbuckbunny's frames 0..89 (the user's own footage, as ``--on CLIP``
would: the held-out frames themselves are never seen).

For each painting (default udnie.jpg and starry_night.jpg), ``learn_style`` with the
default settings in a time budget (default ``--minutes 15``; the whole call is timed,
and steps per minute printed). On 12 of the held-out frames (every third), the style
and content loss (the metric of ``flowstyle eval``: painting at the frame width, Grams
relu1_1..5_1, content relu4_2) of: the learned style; the arbitrary network given the
painting (what a user with a new painting has without training); every built-in style
(the nearest = the lowest style loss); with ``--multistyle``, a style learned as a row
of the multi-style network in the same budget.
Targets: learned style loss <= 0.5x the arbitrary network's, at content loss <= 1.1x.

Two-sided checks that the numbers are not bought with a broken picture: detail (mean
gradient) and E_warp of per-frame renders of all 36 frames, learned against arbitrary
(E_warp as ``flowstyle eval`` measures it, on the frames before encoding), and a PNG of
crops (original | arbitrary | learned | nearest built-in) for each painting.

Usage: python scripts/bench_learn.py [--painting udnie.jpg starry_night.jpg] [--minutes 15]
       [--multistyle] [--crops DIR] [--reuse --home DIR]
       [--temporal-steps 300]  (issue #5's temporal fine-tuning of a multi-style row; 0: skip)
To simulate an AVX2 machine: ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"

from benchclips import cut_clip  # noqa: E402
from flowstyle.io.images import load_rgb  # noqa: E402
from flowstyle.io.reader import SizePolicy, VideoReader  # noqa: E402
from flowstyle.losses import CONTENT_LAYER, STYLE_LAYERS, content_loss, picture_grams, style_loss  # noqa: E402
from flowstyle.flow import make_flow_backend  # noqa: E402
from flowstyle.flow.remap import remap_flow  # noqa: E402
from flowstyle.metrics import EVAL_FLOW, masked_mse, mean_gradient  # noqa: E402
from flowstyle.temporal import estimate_motion  # noqa: E402
from flowstyle.losses import load_vgg16  # noqa: E402
from flowstyle.render import rgb_to_tensor, tensor_to_rgb  # noqa: E402
from flowstyle.stylize.options import StyleOptions  # noqa: E402
from flowstyle.stylize.painter import make_stylizer  # noqa: E402
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


def stylize(style: str, frames: list[np.ndarray]) -> list[np.ndarray]:
    """Per-frame renders (fp32) with any style spec: built-in, learned or painting."""
    st = make_stylizer(StyleOptions(style=style), torch.device("cpu"), torch.float32)
    return [tensor_to_rgb(st(rgb_to_tensor(f, torch.device("cpu")))) for f in frames]


def crops_png(path: Path, rows: list[list[np.ndarray]], labels: list[str]) -> None:
    """One row per frame: the centre square of each render, side by side, labelled."""
    tiles = []
    side = min(min(r.shape[:2]) for row in rows for r in row)
    for row in rows:
        h, w = row[0].shape[:2]
        y, x = (h - side) // 2, (w - side) // 2
        tiles.append(np.concatenate([np.pad(r[y:y + side, x:x + side], ((0, 0), (0, 4), (0, 0))) for r in row], axis=1))
    sheet = np.concatenate(tiles, axis=0)
    header = np.full((18, sheet.shape[1], 3), 255, np.uint8)
    for i, label in enumerate(labels):
        cv2.putText(header, label, (4 + i * (side + 4), 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate([header, sheet]), cv2.COLOR_RGB2BGR))


def learn(painting: Path, name: str, sources: tuple[str, ...], minutes: float, reuse: bool, **extra) -> str:
    options = LearnOptions(painting=str(painting), name=name, sources=sources, minutes=minutes, steps=10**6, **extra)
    if reuse and style_path(name).exists():
        return "(reused)"
    t = time.perf_counter()
    report = learn_style(options, restart=True, overwrite=True)
    wall = time.perf_counter() - t
    return (f"{report.steps} steps of {options.batch} crops of {options.crop} px in {report.seconds:.0f} s of training "
            f"({report.steps / (report.seconds / 60):.1f} steps/min), {wall / 60:.1f} min for the whole call; "
            f"started from {report.init}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--painting", nargs="+", default=[str(MEDIA / "styles" / n) for n in ("udnie.jpg", "starry_night.jpg")])
    ap.add_argument("--minutes", type=float, default=15.0, help="training budget per style")
    ap.add_argument("--multistyle", action="store_true", help="also learn each painting as a multi-style row")
    ap.add_argument("--temporal-steps", type=int, default=0, help="issue #5's temporal fine-tuning (0: skip)")
    ap.add_argument("--temporal-weight", type=float, default=1e7)
    ap.add_argument("--crops", type=Path, default=None, help="folder for the crop sheets (default: the temporary folder)")
    ap.add_argument("--home", default=None, help="FLOWSTYLE_HOME for the learned styles (default: a temporary folder)")
    ap.add_argument("--reuse", action="store_true", help="reuse styles an earlier run left in --home")
    args = ap.parse_args()
    print(bench_header(loss_network=True))  # learn-style's defaults: device and precision auto
    home = Path(args.home or tempfile.mkdtemp(prefix="flowstyle-bench-"))
    os.environ["FLOWSTYLE_HOME"] = str(home)
    work = Path(tempfile.mkdtemp(prefix="flowstyle-bench-clips-"))
    crops_dir = args.crops or work
    crops_dir.mkdir(parents=True, exist_ok=True)
    train_part = cut_clip(CLIP, work / "bbb_train.mkv", 0, TRAIN_END, SizePolicy(height=288))
    held = cut_clip(CLIP, work / "bbb_heldout.mkv", HELD_START, 132, SizePolicy(width=256))
    held_frames = frames_of(held)
    loss_frames = held_frames[::3][:12]
    sources = tuple(str(p) for p in (MEDIA / "photos", MEDIA / "videos" / "bikes.mp4", MEDIA / "videos" / "tree.avi",
                                     MEDIA / "sintel_raft_demo", train_part))
    print(f"held out: {CLIP.name} frames {HELD_START}..131 at {held_frames[0].shape[1]}x{held_frames[0].shape[0]}; "
          f"{torch.get_num_threads()} threads; budget {args.minutes:g} min per style")
    table = []
    for painting in map(Path, args.painting):
        name = "bench-" + painting.stem.replace("_", "-").lower()
        print(f"{painting.name}:")
        print(f"  learn-style (arbitrary network, defaults): {learn(painting, name, sources, args.minutes, args.reuse)}")
        rows = {"learned": name, "arbitrary": str(painting)}
        if args.multistyle:
            print(f"  learn-style --base multistyle: "
                  f"{learn(painting, name + '-ms', sources, args.minutes, args.reuse, base='multistyle')}")
            rows["learned (multistyle row)"] = name + "-ms"
        measure = Losses(painting, held_frames[0].shape[1])
        scores = {label: measure(stylize(style, loss_frames), loss_frames) for label, style in rows.items()}
        (near_s, near_c), near_i = min((measure(stylize(str(i), loss_frames), loss_frames), i) for i in range(26))
        scores[f"nearest built-in ({near_i})"] = (near_s, near_c)
        arb_s, arb_c = scores["arbitrary"]
        for label, (st, co) in scores.items():
            print(f"  {label:26s}: style {st:8.4g} ({st / arb_s:5.2f}x arbitrary)  content {co:7.4g} ({co / arb_c:5.2f}x)")
        ls, lc = scores["learned"]
        ok = ls <= 0.5 * arb_s and lc <= 1.1 * arb_c
        print(f"  learned vs arbitrary: style {ls / arb_s:.3f} (target <= 0.5), content {lc / arb_c:.3f} (target <= 1.1): "
              f"{'met' if ok else 'NOT met'}")
        # Two-sided: not blurrier or noisier (detail), not more flicker (E_warp of per-frame renders).
        learned_all, arb_all = stylize(name, held_frames), stylize(str(painting), held_frames)
        (e_l, floor), (e_a, _) = ewarp(learned_all, held_frames), ewarp(arb_all, held_frames)
        print(f"  36 held-out frames, per frame: detail learned/arbitrary {detail(learned_all) / detail(arb_all):.3f}, "
              f"E_warp learned {e_l:.5f} arbitrary {e_a:.5f} ({e_l / e_a:.3f}x; original clip {floor:.5f})")
        near_all = stylize(str(near_i), loss_frames[:3])
        sheet = crops_dir / f"learn_crops_{painting.stem}.png"
        crops_png(sheet, [[f, arb_all[3 * k], learned_all[3 * k], near_all[k]] for k, f in enumerate(loss_frames[:3])],
                  ["original", "arbitrary", "learned", f"built-in {near_i}"])
        print(f"  crops: {sheet}")
        table.append((painting.name, ls / arb_s, lc / arb_c, ok))
        if args.temporal_steps:
            temporal_finetune(painting, name, sources, args, held_frames, measure)
    print("summary: " + "; ".join(f"{n}: style {s:.2f}x, content {c:.2f}x ({'met' if ok else 'NOT met'})"
                                  for n, s, c, ok in table))
    print(f"  peak memory (RSS): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; styles in {home}")


def temporal_finetune(painting: Path, name: str, sources: tuple[str, ...], args, held_frames, measure) -> None:
    """Issue #5's temporal training: a multi-style row fine-tuned with the output temporal loss
    (convolutions and norms) against the untrained row, per frame at 256 and 512 px."""
    base, stable = name + "-row", name + "-stable"
    learn(painting, base, sources, args.minutes, args.reuse, base="multistyle")
    t_opts = LearnOptions(painting=str(painting), name=stable, sources=sources, steps=args.temporal_steps, init=base,
                          base="multistyle", train="all", temporal_weight=args.temporal_weight)
    if not (args.reuse and style_path(stable).exists()):
        r = learn_style(t_opts, restart=True, overwrite=True)
        print(f"  temporal training: {r.steps} steps (weight {t_opts.temporal_weight:g}) in {r.seconds:.0f} s")
    work = Path(tempfile.mkdtemp(prefix="flowstyle-bench-t-"))
    for width in (256, 512):
        frames = held_frames if width == held_frames[0].shape[1] else frames_of(
            cut_clip(CLIP, work / f"bbb_heldout_{width}.mkv", HELD_START, 132, SizePolicy(width=width)))
        plain, stable_out = stylize(base, frames), stylize(stable, frames)
        (e_plain, floor), (e_stable, _) = ewarp(plain, frames), ewarp(stable_out, frames)
        m = measure if width == held_frames[0].shape[1] else Losses(painting, width)
        (s_plain, _), (s_stable, _) = m(plain[::3][:12], frames[::3][:12]), m(stable_out[::3][:12], frames[::3][:12])
        print(f"  {width} px: E_warp untrained {e_plain:.6f}, temporal {e_stable:.6f}: ratio {e_stable / e_plain:.3f} "
              f"(issue #5 target <= 0.6); style loss {s_stable / s_plain:.3f}x")


if __name__ == "__main__":
    main()
