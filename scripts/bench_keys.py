"""Speed of painted keys carried along the flow, and the Gatys look at a fraction of its cost.

(1) Propagation alone, as the render runs it (``flowstyle.temporal.propagate.propagate_span``: both
    directions' flows on two threads, both passes, the blend), over the first ``--frames`` frames of
    each clip at 640 px between two given keys (OpenCV's oil painting of the first and last frame),
    decoded beforehand; the keys' painting is not counted. Best of ``--repeats``.
(2) The whole render with those keys (decode, the cut scan, propagation, lossless FFV1 encode).
(3) ``--gatys``: ``render --method gatys`` (the temporal Gatys render) against ``--method gatys
    --keyframes-every 12`` of the same frames (``--gatys-frames`` at ``--gatys-width``): wall time, the
    style loss against the painting (Gram, relu1_1-relu5_1, every 4th frame), E_warp scored with
    DIS-medium (the flow both renders' temporal losses follow) and with Farneback (one they do not),
    and sharpness (luma Laplacian variance: neither blurrier nor noisier, 0.85-1.20x).

Target (docs/keyframes.md): (1) >= 5 frames/s at 640x360 on this 2-core CPU; (3) <= 0.2x the time at a
style loss <= 1.3x and E_warp <= 1.5x the temporal Gatys render's.

Usage: python scripts/bench_keys.py [--clips chaplin.mp4 ...] [--frames 49] [--repeats 2]
       [--gatys] [--gatys-frames 13] [--gatys-width 320] [--gatys-key-iterations N] [--gatys-key-tolerance T]
A training run must be paused while this runs (the two cores are the measurement).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle import RenderConfig, render  # noqa: E402
from flowstyle.io.reader import SizePolicy, VideoReader  # noqa: E402
from flowstyle.io.writer import EncodeOptions  # noqa: E402
from flowstyle.keyed.options import PaintedKeyOptions  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402
from flowstyle.temporal.propagate import FlowPairs, PropagationOptions, propagate_span  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"


def oil(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.xphoto.oilPainting(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 7, 1), cv2.COLOR_BGR2RGB)


def propagation(clip: Path, frames: int, repeats: int, folder: Path) -> None:
    with VideoReader(clip, SizePolicy(max_width=640)) as r:
        pictures = [f.rgb for _, f in zip(range(frames), r)]
    n = len(pictures)
    key_a, key_b = oil(pictures[0]), oil(pictures[-1])
    options = PropagationOptions(flow="dis-balanced")  # the render's default --flow
    best = float("inf")
    for _ in range(repeats):
        flows = FlowPairs(options.flow)
        t = time.perf_counter()
        for _ in propagate_span(pictures, key_a, key_b, flows, options):
            pass
        best = min(best, time.perf_counter() - t)
        flows.close()
    h, w = pictures[0].shape[:2]
    print(f"{clip.name}: propagation alone {n} frames {w}x{h}: {n / best:.2f} frames/s ({best / n * 1e3:.0f} ms a frame)",
          flush=True)
    paths = []
    for i, key in ((0, key_a), (n - 1, key_b)):
        paths.append(folder / f"{clip.stem}_{i}.png")
        cv2.imwrite(str(paths[-1]), cv2.cvtColor(key, cv2.COLOR_RGB2BGR))
    keyed = PaintedKeyOptions(keyframes=(f"0={paths[0]}", f"{n - 1}={paths[1]}"))
    from flowstyle.io.media import RangeOptions

    t = time.perf_counter()
    report = render(clip, folder / f"{clip.stem}.mkv", RenderConfig(
        painted=keyed, size=SizePolicy(max_width=640), encode=EncodeOptions(codec="ffv1"),
        span=RangeOptions(out_point=str(n))), overwrite=True)
    seconds = time.perf_counter() - t
    print(f"{clip.name}: whole render with the keys {report.frames} frames: {report.frames / seconds:.2f} frames/s",
          flush=True)


def gatys(clip: Path, frames: int, width: int, folder: Path, key_iterations: int | None,
          key_tolerance: float | None) -> None:
    import dataclasses

    from flowstyle.gatys import GatysConfig, GatysOptions
    from flowstyle.io.media import RangeOptions
    from flowstyle.losses import STYLE_LAYERS
    from flowstyle.metrics import evaluate
    from flowstyle.render import render_gatys

    painting = MEDIA / "styles" / "starry_night.jpg"
    options = GatysOptions(style=str(painting))
    config = GatysConfig(options, size=SizePolicy(max_width=width), span=RangeOptions(out_point=str(frames)),
                         encode=EncodeOptions(codec="ffv1"))
    keys = dataclasses.replace(options, key_iterations=key_iterations or options.key_iterations,
                               key_tolerance=options.key_tolerance if key_tolerance is None else key_tolerance)
    renders = (("temporal", options, PaintedKeyOptions()),
               (f"keys every 12 (key {keys.key_iterations} iterations, tolerance {keys.key_tolerance})", keys,
                PaintedKeyOptions(every=12)))
    runs = {}
    for name, o, painted in renders:
        out = folder / f"gatys_{len(runs)}.mkv"
        t = time.perf_counter()
        render_gatys(clip, out, dataclasses.replace(config, gatys=o), overwrite=True, painted=painted)
        runs[name] = (out, time.perf_counter() - t)
        print(f"gatys {name}: {frames} frames at {width} px in {runs[name][1]:.1f} s", flush=True)
    ref = runs.pop("temporal")
    for name, keyed in runs.items():
        e = evaluate(clip, keyed[0], style_image=painting, reference=ref[0], flow="dis-medium", loss_every=4)
        farneback = evaluate(clip, keyed[0], reference=ref[0], flow="farneback", loss_every=0)
        layers = ", ".join(f"{layer} {e.layer_ratio(layer):.2f}" for layer in STYLE_LAYERS)
        print(f"gatys {name} / temporal: time {keyed[1] / ref[1]:.3f}x, style loss {e.ratio('style_loss'):.3f}x "
              f"({layers}), E_warp {e.ratio('ewarp'):.3f}x (Farneback {farneback.ratio('ewarp'):.3f}x), "
              f"sharpness {e.sharpness_ratio:.3f}x (targets <= 0.2, <= 1.3, <= 1.5)", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="*", default=["chaplin.mp4", "bigbuckbunny.mp4"])
    ap.add_argument("--frames", type=int, default=49)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--gatys", action="store_true")
    ap.add_argument("--gatys-frames", type=int, default=13)
    ap.add_argument("--gatys-width", type=int, default=320)
    ap.add_argument("--gatys-key-iterations", type=int, default=None,
                    help="iteration budget of the keys after a shot's first (default: GatysOptions')")
    ap.add_argument("--gatys-key-tolerance", type=float, default=None,
                    help="the frames between keys stop within this of their key's style loss (default: GatysOptions')")
    args = ap.parse_args()
    print(bench_header(), flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-keys-") as tmp:
        folder = Path(tmp)
        for name in args.clips:
            propagation(MEDIA / "videos" / name, args.frames, args.repeats, folder)
        if args.gatys:
            gatys(MEDIA / "videos" / args.clips[0], args.gatys_frames, args.gatys_width, folder,
                  args.gatys_key_iterations, args.gatys_key_tolerance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
