"""Benchmark for issue #3: flow accuracy and the cost of temporal consistency.

1. Sintel pairs with ground truth (../shared/media/sintel_flow: alley_1, cave_2;
   clean and final passes): end-point error and time per frame of every flow backend.
2. At 640x360 on bigbuckbunny, one core each (as a stylize worker runs them): the
   stylizer's time per frame beside flow + occlusion mask + the temporal step, for
   the default temporal settings, measured frame by frame side by side; target <= 30%.

Usage: python scripts/bench_flow.py [--frames 40] [--passes 3] [--skip-sintel]
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
from flowstyle.render import frame_to_tensor, tensor_to_rgb  # noqa: E402
from flowstyle.stylize.options import StyleOptions  # noqa: E402
from flowstyle.stylize.painter import make_stylizer  # noqa: E402
from flowstyle.device import resolve_precision  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402
from flowstyle.temporal import Stabilizer, TemporalOptions  # noqa: E402

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


def temporal_cost(frames_n: int, passes: int) -> None:
    """Each frame: network (+ uint8 conversion, as every mode does it), motion (flow +
    occlusion check), temporal step; timed side by side, one thread, as a worker runs."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    with VideoReader(MEDIA / "videos" / "bigbuckbunny.mp4", SizePolicy(max_width=640)) as reader:
        frames = [f for f, _ in zip(reader, range(frames_n))]
    dtype = resolve_precision("auto", torch.device("cpu"))
    stylizer = make_stylizer(StyleOptions(style="16"), torch.device("cpu"), dtype)
    opts = TemporalOptions()
    backend = make_flow_backend(opts.flow, opts.flow_scale)
    h, w = frames[0].rgb.shape[:2]
    print(f"\nbigbuckbunny {w}x{h}, {len(frames)} frames x {passes} passes, one thread each; temporal mode "
          f"'{opts.mode}', flow '{opts.flow}' at scale {opts.flow_scale}, {opts.occlusion} occlusion check")
    ratios, parts = [], {"net": [], "motion": [], "step": []}
    for _ in range(passes):
        stab = Stabilizer(opts)
        t_net, t_motion, t_step = [], [], []
        prev = None
        for f in frames:
            t = time.perf_counter()
            out = tensor_to_rgb(stylizer(frame_to_tensor(f, torch.device("cpu"))))
            t_net.append(time.perf_counter() - t)
            motion = None
            if prev is not None:
                t = time.perf_counter()
                motion = stab.motion(prev, f.rgb, backend)
                t_motion.append(time.perf_counter() - t)
            t = time.perf_counter()
            stab(out, motion)
            if prev is not None:
                t_step.append(time.perf_counter() - t)
            prev = f.rgb
        net, mot, step = (statistics.median(x[2:]) * 1000 for x in (t_net, t_motion, t_step))
        ratios.append((mot + step) / net)
        for k, v in zip(parts, (net, mot, step)):
            parts[k].append(v)
    med = {k: statistics.median(v) for k, v in parts.items()}
    print(f"  stylizer (network, {str(dtype).removeprefix('torch.')})  {med['net']:6.1f} ms/frame")
    print(f"  flow + occlusion mask              {med['motion']:6.1f} ms/frame")
    print(f"  temporal step ({opts.mode:8s})         {med['step']:6.1f} ms/frame")
    print(f"  (flow + mask + step) / stylizer = {statistics.median(ratios):.3f}  "
          f"(passes: {' '.join(f'{r:.3f}' for r in ratios)}; target <= 0.30)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--skip-sintel", action="store_true")
    args = ap.parse_args()
    print(bench_header(device="cpu"))  # the stylizer of the temporal-cost part
    cv2.setNumThreads(1)
    if not args.skip_sintel:
        sintel_table()
    temporal_cost(args.frames, args.passes)


if __name__ == "__main__":
    main()
