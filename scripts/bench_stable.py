"""Sanity check of a stable network (issue 30) against the shipped one, per frame.

On the first N frames of a clip at a width (default 6 frames of bikes.mp4 at 320 px),
each network stylizes every frame alone (fp32, so the figures do not depend on the
CPU's bf16 support), for each built-in style (default 7 and 16), and prints, for the
student (the exported stable network) against the teacher (the shipped network):

- E_warp (Lai et al. 2018, as flowstyle.metrics: flow between consecutive ORIGINAL
  frames, forward-backward reliability mask, masked MSE of O_t and the warped O_{t-1}),
  scored with OpenCV Farneback (and DIS-medium), and the student/teacher ratio;
- sharpness: luma Laplacian variance, student/teacher ratio;
- PSNR of the student's frames against the teacher's.

A sanity check, not a benchmark to tune on: the clips here are the evaluation clips.

Usage: python scripts/bench_stable.py STUDENT.pt [--clip PATH] [--frames 6] [--width 320] [--styles 7 16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle.flow import make_flow_backend  # noqa: E402
from flowstyle.flow.remap import remap_flow  # noqa: E402
from flowstyle.io.reader import SizePolicy, VideoReader  # noqa: E402
from flowstyle.metrics import laplacian_variance, masked_mse  # noqa: E402
from flowstyle.models.multistyle import NUM_STYLES, MultiStyleNet  # noqa: E402
from flowstyle.stylize.feedforward import load_multistyle  # noqa: E402
from flowstyle.stylize.network import load_network, pad_to_multiple  # noqa: E402
from flowstyle.temporal import estimate_motion  # noqa: E402


def stylize(net: torch.nn.Module, frames: list[np.ndarray], style: int) -> list[np.ndarray]:
    weights = torch.zeros(NUM_STYLES)
    weights[style] = 1.0
    out = []
    with torch.inference_mode():
        for rgb in frames:
            x = torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0
            padded, (h, w) = pad_to_multiple(x)
            y = net(padded, weights)[..., :h, :w]
            out.append((y[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.uint8))
    return out


def ewarp(frames: list[np.ndarray], outputs: list[np.ndarray], motions: list) -> float:
    errors = []
    for t in range(1, len(frames)):
        prev, cur = outputs[t - 1].astype(np.float32) / 255, outputs[t].astype(np.float32) / 255
        m = motions[t - 1]
        errors.append(masked_mse(cur, remap_flow(prev, m.flow_bwd), m.mask))
    return float(np.mean(errors))


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = np.mean([np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2) for x, y in zip(a, b)])
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("student", type=Path)
    parser.add_argument("--clip", type=Path, default=ROOT.parent / "shared" / "media" / "videos" / "bikes.mp4")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--styles", type=int, nargs="+", default=[7, 16])
    args = parser.parse_args()
    torch.manual_seed(0)
    cpu = torch.device("cpu")
    teacher = load_multistyle(cpu, torch.float32)
    student = load_network(MultiStyleNet(), torch.load(args.student, map_location="cpu", weights_only=True), cpu,
                           torch.float32)
    with VideoReader(args.clip, SizePolicy(width=args.width)) as reader:
        frames = [f.rgb for _, f in zip(range(args.frames), reader)]
    flows = {name: [estimate_motion(a, b, make_flow_backend(name)) for a, b in zip(frames, frames[1:])]
             for name in ("farneback", "dis-medium")}
    print(f"{args.clip.name}: {len(frames)} frames at {frames[0].shape[1]}x{frames[0].shape[0]}, per frame, fp32")
    print("style | E_warp Farneback teacher / student (ratio) | E_warp DIS ratio | sharpness ratio | PSNR dB")
    for style in args.styles:
        t_out, s_out = stylize(teacher, frames, style), stylize(student, frames, style)
        fb_t, fb_s = ewarp(frames, t_out, flows["farneback"]), ewarp(frames, s_out, flows["farneback"])
        dis_ratio = ewarp(frames, s_out, flows["dis-medium"]) / ewarp(frames, t_out, flows["dis-medium"])
        sharp = np.mean([laplacian_variance(o) for o in s_out]) / np.mean([laplacian_variance(o) for o in t_out])
        print(f"{style:5d} | {fb_t:.5f} / {fb_s:.5f} ({fb_s / fb_t:.3f}x) | {dis_ratio:.3f}x | {sharp:.3f}x | "
              f"{psnr(s_out, t_out):.1f}")


if __name__ == "__main__":
    main()
