"""Benchmark for issue #3: flow accuracy and the cost of temporal consistency.

1. Sintel pairs with ground truth (../shared/media/sintel_flow: alley_1, cave_2;
   clean and final passes): end-point error and time per frame of every flow backend.
2. At 640x360 on bigbuckbunny, one core each (as a stylize worker runs them): the
   stylizer's time per frame beside flow + reliability mask (two flows) + the
   temporal step, for the default temporal settings; target <= 30%.

Usage: python scripts/bench_flow.py [--frames 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle.flow import FLOW_METHODS, make_flow_backend  # noqa: E402
from flowstyle.io.reader import SizePolicy, VideoReader  # noqa: E402
from flowstyle.render import frame_to_tensor  # noqa: E402
from flowstyle.stylize.feedforward import FeedForwardStylizer, StyleOptions  # noqa: E402
from flowstyle.device import resolve_precision  # noqa: E402
from flowstyle.temporal import Stabilizer, TemporalOptions, estimate_motion  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"


def read_flo(path: Path) -> np.ndarray:
    data = np.fromfile(path, np.float32)
    w, h = data[1:3].view(np.int32)
    return data[3:].reshape(h, w, 2)


def sintel_table() -> None:
    print("Sintel end-point error (px, valid pixels) and time per flow at 1024x436, 1 thread")
    print(f"{'method':15s} " + " ".join(f"{s + '/' + p:>14s}" for s in ("alley_1", "cave_2") for p in ("clean", "final")) + "   ms/flow")
    for method in FLOW_METHODS:
        backend = make_flow_backend(method)
        epes, times = [], []
        for seq in ("alley_1", "cave_2"):
            root = MEDIA / "sintel_flow" / seq
            gt = read_flo(root / "flow" / "frame_0002.flo")
            invalid = np.asarray(Image.open(root / "invalid" / "frame_0002.png")) > 0
            for p in ("clean", "final"):
                a = np.asarray(Image.open(root / p / "frame_0002.png").convert("RGB"))
                b = np.asarray(Image.open(root / p / "frame_0003.png").convert("RGB"))
                backend(a, b)  # warm-up
                t = time.perf_counter()
                flow = backend(a, b)
                times.append(time.perf_counter() - t)
                epes.append(float(np.linalg.norm(flow - gt, axis=-1)[~invalid].mean()))
        print(f"{method:15s} " + " ".join(f"{e:14.2f}" for e in epes) + f"   {statistics.median(times) * 1000:7.1f}")


def temporal_cost(frames_n: int) -> None:
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    with VideoReader(MEDIA / "videos" / "bigbuckbunny.mp4", SizePolicy(max_width=640)) as reader:
        frames = [f for f, _ in zip(reader, range(frames_n))]
    dtype = resolve_precision("auto", torch.device("cpu"))
    stylizer = FeedForwardStylizer(StyleOptions(style="16"), torch.device("cpu"), dtype)
    opts = TemporalOptions()
    backend = make_flow_backend(opts.flow, opts.flow_scale)
    stab = Stabilizer(opts)
    t_net, t_flow, t_step = [], [], []
    prev = None
    for f in frames:
        t = time.perf_counter()
        out = stylizer(frame_to_tensor(f, torch.device("cpu")))[0].permute(1, 2, 0).contiguous().numpy()
        t_net.append(time.perf_counter() - t)
        motion = None
        if prev is not None:
            t = time.perf_counter()
            motion = estimate_motion(prev, f.rgb, backend)
            t_flow.append(time.perf_counter() - t)
        t = time.perf_counter()
        stab(out, motion)
        if prev is not None:
            t_step.append(time.perf_counter() - t)
        prev = f.rgb
    net = statistics.median(t_net[2:]) * 1000
    flow = statistics.median(t_flow[1:]) * 1000
    step = statistics.median(t_step[1:]) * 1000
    print(f"\nbigbuckbunny 640x360, {len(frames)} frames, one thread each, temporal mode '{opts.mode}', flow '{opts.flow}':")
    print(f"  stylizer (network, {str(dtype).removeprefix('torch.')})  {net:6.1f} ms/frame")
    print(f"  flow x2 + reliability mask         {flow:6.1f} ms/frame")
    print(f"  temporal step (texture anchors)    {step:6.1f} ms/frame")
    print(f"  (flow + mask + step) / stylizer = {(flow + step) / net:.2f}  (target <= 0.30)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=40)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    sintel_table()
    temporal_cost(args.frames)


if __name__ == "__main__":
    main()
