"""Benchmark for issue #13: every output format at 640x360.

For each format of io/codecs.py and io/sequence.py: encode frames/s (8-bit frames
for 8-bit formats, float32 frames through the deep path for the others), the file
size, and a round-trip check (decoded with plain PyAV: frame count, pts, profile
and pixel format). Frames are a real clip (bigbuckbunny from ../shared/media, or
a synthetic gradient when the media folder is absent), decoded once beforehand so
only the encode is timed. Encoder threads: libav's choice (one per core).

Usage: python scripts/bench_io.py [--frames 48] [--only prores,dnxhr]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle.io.codecs import decoder_name, reported_profile, resolve  # noqa: E402
from flowstyle.io.colour import ColourTags  # noqa: E402
from flowstyle.io.depth import bit_depth  # noqa: E402
from flowstyle.io.reader import SizePolicy, VideoReader  # noqa: E402
from flowstyle.io.sequence import ImageSequenceReader, ImageSequenceWriter  # noqa: E402
from flowstyle.io.writer import VideoWriter  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
RATE = Fraction(24000, 1001)
TB = 1 / RATE
BT709 = ColourTags(1, 1, 1, 1)

VIDEO = [  # (label, file name, codec, profile, pix_fmt)
    ("H.264 8-bit", "h264.mp4", None, None, None),
    ("H.264 8-bit .ts", "h264.ts", None, None, None),
    ("H.264 10-bit", "h264_10.mov", "h264", "high10", None),
    ("H.264 4:2:2 10-bit", "h264_422.mov", "h264", "high422", None),
    ("H.265 10-bit", "h265_10.mp4", "h265", "main10", None),
    ("ProRes proxy", "prores_proxy.mov", "prores", "proxy", None),
    ("ProRes LT", "prores_lt.mov", "prores", "lt", None),
    ("ProRes standard", "prores_std.mov", "prores", "standard", None),
    ("ProRes HQ", "prores_hq.mov", "prores", "hq", None),
    ("ProRes 4444 + alpha", "prores_4444.mov", "prores", "4444", "yuva444p10le"),
    ("ProRes 4444 XQ", "prores_4444xq.mov", "prores", "4444xq", None),
    ("DNxHR LB", "dnxhr_lb.mov", "dnxhr", "dnxhr_lb", None),
    ("DNxHR SQ", "dnxhr_sq.mov", "dnxhr", "dnxhr_sq", None),
    ("DNxHR HQ .mxf", "dnxhr_hq.mxf", "dnxhr", "dnxhr_hq", None),
    ("DNxHR HQX", "dnxhr_hqx.mov", "dnxhr", "dnxhr_hqx", None),
    ("DNxHR 444", "dnxhr_444.mov", "dnxhr", "dnxhr_444", None),
    ("FFV1 10-bit RGB", "ffv1.mkv", "ffv1", None, None),
]
IMAGES = [("PNG 8-bit", "png8/f_%06d.png", False), ("PNG 16-bit", "png16/f_%06d.png", True),
          ("TIFF 16-bit", "tif/f_%06d.tif", True), ("EXR float", "exr/f_%06d.exr", True),
          ("DPX 10-bit", "dpx/f_%06d.dpx", True), ("JPEG", "jpg/f_%06d.jpg", False)]


def source_frames(n: int) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    clip = MEDIA / "videos" / "bigbuckbunny.mp4"
    if clip.exists():
        with VideoReader(clip, SizePolicy(width=640, height=360)) as r:
            rgb = [f.rgb for _, f in zip(range(n), r)]
        name = clip.name
    else:
        y, x = np.mgrid[0:360, 0:640]
        rgb = [np.stack([(x + 4 * i) % 256, y * 255 // 359, np.full_like(x, 96)], -1).astype(np.uint8) for i in range(n)]
        name = "synthetic gradient"
    return rgb, [f.astype(np.float32) / 255 for f in rgb], name


def check_video(path: Path, spec, n: int) -> str:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        tick = v.time_base
        profile, pix = v.codec_context.profile, frames[0].format.name if frames else "?"
        ok_codec = v.codec_context.name == decoder_name(spec)
    first = frames[0].pts if frames else 0
    pts_ok = all(abs(float((f.pts - first) * tick) - i * float(TB)) <= float(tick) / 2 + 1e-9 for i, f in enumerate(frames))
    deep_ok = pix == spec.pix_fmt or (spec.codec == "prores" and bit_depth(pix) >= spec.bit_depth)
    ok = len(frames) == n and pts_ok and ok_codec and profile == reported_profile(spec) and deep_ok
    return f"{'ok' if ok else 'FAIL'} ({len(frames)}/{n} frames, pts {'exact' if pts_ok else 'WRONG'}, {profile or '-'}, {pix})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--only", default="", help="comma-separated substrings of format labels")
    args = ap.parse_args()
    only = [s.strip().lower() for s in args.only.split(",") if s.strip()]
    print(bench_header())
    u8, f32, name = source_frames(args.frames)
    alpha = np.ascontiguousarray(np.broadcast_to(np.linspace(0, 1, 640, dtype=np.float32), (360, 640)))
    print(f"{len(u8)} frames of {name} at 640x360, {RATE} fps; {os.cpu_count()} CPUs\n")
    print(f"{'format':22} {'encode f/s':>10} {'MB':>8} {'Mbit/s':>8}  round trip")
    failed = 0
    with tempfile.TemporaryDirectory(prefix="bench_io.") as tmp:
        for label, fname, codec, profile, pix_fmt in VIDEO:
            if only and not any(s in label.lower() for s in only):
                continue
            path = Path(tmp) / fname
            spec = resolve(path, codec, profile, pix_fmt)
            frames = f32 if spec.bit_depth > 8 else u8
            writer = VideoWriter(path, (640, 360), TB, RATE, BT709, spec=spec)
            t0 = time.perf_counter()
            for i, rgb in enumerate(frames):
                writer.write(rgb, i, alpha if spec.has_alpha else None)
            writer.close()
            dt = time.perf_counter() - t0
            size = path.stat().st_size
            check = check_video(path, spec, len(frames))
            failed += check.startswith("FAIL")
            mbps = size * 8 / (len(frames) * float(TB)) / 1e6
            print(f"{label:22} {len(frames) / dt:10.1f} {size / 1e6:8.2f} {mbps:8.1f}  {check}")
        for label, pattern, deep in IMAGES:
            if only and not any(s in label.lower() for s in only):
                continue
            path = Path(tmp) / pattern
            path.parent.mkdir()
            path.parent.rmdir()  # the writer makes the folder itself, atomically
            frames = f32 if deep else u8
            writer = ImageSequenceWriter(path, (640, 360), TB, RATE, BT709, first_number=1001)
            t0 = time.perf_counter()
            for i, rgb in enumerate(frames):
                writer.write(rgb, i)
            writer.close()
            dt = time.perf_counter() - t0
            size = sum(p.stat().st_size for p in path.parent.iterdir())
            with ImageSequenceReader(path, fps=RATE, deep=True) as r:
                got = list(r)
                ok = (len(got) == len(frames) and [f.pts for f in got] == list(range(len(frames)))
                      and r.start_number == 1001)
                pix = r.pix_fmt
            failed += not ok
            print(f"{label:22} {len(frames) / dt:10.1f} {size / 1e6:8.2f} {'':>8}  "
                  f"{'ok' if ok else 'FAIL'} ({len(got)}/{len(frames)} images from 1001, pts {'exact' if ok else '?'}, {pix})")
    if failed:
        sys.exit(f"{failed} format(s) failed the round trip")


if __name__ == "__main__":
    main()
