"""Benchmark for issue #13 part 2: the editing features through ``flowstyle.render``.

Prints:
1. range pre-roll: bigbuckbunny (one shot) rendered whole, and the range [in, in + 24)
   rendered with --preroll 0 and with the default pre-roll; E_warp (DIS-medium, masked,
   as ``flowstyle eval``) of each range's first frame to the next, against the median
   E_warp of the whole render's mid-shot frames. Target: within 1.2x with pre-roll.
2. 10-bit held: a 10-bit ProRes 422 HQ source rendered at --strength 0 to ProRes HQ:
   the output pixel format and its PSNR to the source (temporal none and flow).
3. timecode: a source at 01:00:00:00 (23.976 and 29.97 DF) rendered from frame 48.
4. round trip of a render to every output kind: frames, pts, pixel format, seconds.

Usage: python scripts/bench_editing.py [--width 320] [--in 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from flowstyle.flow import make_flow_backend  # noqa: E402
from flowstyle.flow.remap import remap_flow  # noqa: E402
from flowstyle.io.codecs import resolve  # noqa: E402
from flowstyle.io.colour import ColourTags  # noqa: E402
from flowstyle.io.depth import decode_float  # noqa: E402
from flowstyle.io.media import DEFAULT_PREROLL, RangeOptions  # noqa: E402
from flowstyle.io.reader import SizePolicy, VideoReader  # noqa: E402
from flowstyle.io.source import FrameRange  # noqa: E402
from flowstyle.io.timecode import read_timecode  # noqa: E402
from flowstyle.io.writer import EncodeOptions, VideoWriter  # noqa: E402
from flowstyle.metrics import masked_mse  # noqa: E402
from flowstyle.render import RenderConfig, render  # noqa: E402
from flowstyle.stylize.options import StyleOptions  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402
from flowstyle.temporal import TemporalOptions, estimate_motion  # noqa: E402
from synth_deep import deep_picture, psnr, write_tagged_clip  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
BT709 = ColourTags(1, 1, 1, 1)


def rgb_frames(path: Path, size: SizePolicy = SizePolicy(), span: FrameRange | None = None) -> list[np.ndarray]:
    with VideoReader(path, size) as r:
        return [f.rgb for f in r.frames(span)]


def ewarp_pairs(orig: list[np.ndarray], out: list[np.ndarray]) -> list[float]:
    """E_warp of each output frame to the one before, on the original's flow (as metrics.evaluate)."""
    backend = make_flow_backend("dis-medium")
    values = []
    for k in range(1, len(out)):
        motion = estimate_motion(orig[k - 1], orig[k], backend)
        values.append(masked_mse(out[k].astype(np.float32) / 255,
                                 remap_flow(out[k - 1].astype(np.float32) / 255, motion.flow_bwd), motion.mask))
    return values


def bench_preroll(width: int, start: int) -> None:
    clip = MEDIA / "videos" / "bigbuckbunny.mp4"
    # Lossless H.264 (crf 0), so the differences below are the render's, not the encoder's.
    base = RenderConfig(style=StyleOptions("7"), size=SizePolicy(max_width=width), copy_audio=False,
                        encode=EncodeOptions(crf=0))
    with tempfile.TemporaryDirectory() as tmp:
        whole = Path(tmp) / "whole.mp4"
        render(clip, whole, base, overwrite=True)
        size = SizePolicy(max_width=width)
        orig = rgb_frames(clip, size)
        per = ewarp_pairs(orig, rgb_frames(whole))
        whole_rgb = rgb_frames(whole)
        mid = statistics.median(per[start - 20:start + 40])
        here = per[start]  # pair (start, start + 1) of the whole render: the same pictures, mid-shot
        print(f"bigbuckbunny at {width} px, style 7, temporal flow: mid-shot E_warp median (frames "
              f"{start - 20}-{start + 40}) {mid * 1e4:.3f}e-4; whole render at frames {start}->{start + 1} "
              f"{here * 1e4:.3f}e-4")
        for preroll in (0, DEFAULT_PREROLL):
            part = Path(tmp) / f"part{preroll}.mp4"
            config = RenderConfig(style=base.style, size=base.size, copy_audio=False, encode=base.encode,
                                  span=RangeOptions(str(start), str(start + 24), preroll))
            t0 = time.perf_counter()
            report = render(clip, part, config, overwrite=True)
            seconds = time.perf_counter() - t0
            out = rgb_frames(part)
            first = ewarp_pairs(orig[start:start + 2], out[:2])[0]
            # How far the first written frame is from the same frame of the whole render (a cut
            # from one into the other shows this as a jump): mean absolute difference, grey levels.
            jump = float(np.abs(out[0].astype(np.float32) - whole_rgb[start].astype(np.float32)).mean())
            print(f"  range [{start}, {start + 24}) --preroll {preroll:2d}: {report.frames} frames ({len(out)} read "
                  f"back) in {seconds:.1f} s; first frame E_warp {first * 1e4:.3f}e-4 = {first / here:.2f}x the "
                  f"whole render's, {first / mid:.2f}x the median; differs from the whole render's frame "
                  f"{start} by {jump:.2f} levels")


def bench_ten_bit() -> None:
    size = (128, 72)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.mov"
        w = VideoWriter(src, size, Fraction(1, 25), Fraction(25), BT709, spec=resolve(src, "prores", "hq"))
        for i in range(12):
            w.write(deep_picture(i, *size), i)
        w.close()
        with av.open(str(src)) as c:
            source = [decode_float(f, BT709)[0] for f in c.decode(video=0)]
        for mode in ("none", "flow"):
            dst = Path(tmp) / f"{mode}.mov"
            config = RenderConfig(style=StyleOptions(strength=0.0), temporal=TemporalOptions(mode=mode),
                                  encode=EncodeOptions(codec="prores", profile="hq"))
            render(src, dst, config, overwrite=True)
            with av.open(str(dst)) as c:
                frames = list(c.decode(video=0))
                pix = c.streams.video[0].codec_context.pix_fmt
            worst = min(psnr(decode_float(f, BT709)[0], s) for f, s in zip(frames, source))
            print(f"10-bit ProRes HQ {size[0]}x{size[1]} at --strength 0, --temporal {mode}: out {pix}, "
                  f"min PSNR {worst:.1f} dB (target >= 50)")


def bench_timecode() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for rate, start in ((Fraction(24000, 1001), "01:00:00:00"), (Fraction(30000, 1001), "01:00:00;00")):
            src = write_tagged_clip(Path(tmp) / "src.mov", 60, rate, codec="prores_ks", pix_fmt="yuv422p10le",
                                    timecode=start)
            dst = Path(tmp) / "out.mov"
            render(src, dst, RenderConfig(style=StyleOptions(strength=0.0), span=RangeOptions("48")), overwrite=True)
            with av.open(str(dst)) as c:
                print(f"timecode at {float(rate):.3f} fps: source {start}, rendered from frame 48 -> "
                      f"{read_timecode(c)} ({c.streams.video[0].frames} frames)")


def bench_formats() -> None:
    kinds = [("h264.mp4", {}), ("h264-10.mp4", {"pix_fmt": "yuv420p10le"}), ("h265.mkv", {"codec": "h265"}),
             ("prores.mov", {"codec": "prores"}), ("prores4444.mov", {"codec": "prores", "profile": "4444"}),
             ("dnxhr.mxf", {}), ("ffv1.mkv", {"codec": "ffv1"}), ("out.ts", {}),
             ("seq/f_%04d.png", {}), ("seq/f_%04d.exr", {}), ("seq/f_%04d.dpx", {})]
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src.mov"
        w = VideoWriter(src, (256, 144), Fraction(1, 25), Fraction(25), BT709, spec=resolve(src, "prores", "hq"))
        for i in range(24):
            w.write(deep_picture(i, 256, 144), i)
        w.close()
        for name, opts in kinds:
            dst = Path(tmp) / name.replace("seq/", name.split(".")[-1] + "/")
            t0 = time.perf_counter()
            report = render(src, dst, RenderConfig(style=StyleOptions("3"), encode=EncodeOptions(**opts)),
                            overwrite=True)
            seconds = time.perf_counter() - t0
            if "%" in dst.name:
                files = sorted(dst.parent.iterdir())
                with av.open(str(files[0])) as c:
                    pix = next(c.decode(video=0)).format.name
                print(f"  {name:16s} {report.frames} frames in {seconds:5.1f} s -> {len(files)} images "
                      f"{files[0].name}..{files[-1].name}, {pix}")
                continue
            with av.open(str(dst)) as c:
                v = c.streams.video[0]
                pts = [f.pts for f in c.decode(v)]
                step = {round((b - a) * float(v.time_base), 4) for a, b in zip(pts, pts[1:])}
                print(f"  {name:16s} {report.frames} frames in {seconds:5.1f} s -> {len(pts)} frames, "
                      f"steps {sorted(step)} s, {v.codec_context.name} {v.codec_context.profile} "
                      f"{v.codec_context.pix_fmt}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--in", dest="start", type=int, default=60)
    args = parser.parse_args()
    print(bench_header())
    bench_preroll(args.width, args.start)
    bench_ten_bit()
    bench_timecode()
    print("render round trips (24 frames of a 10-bit ProRes source, 256x144, style 3):")
    bench_formats()


if __name__ == "__main__":
    main()
