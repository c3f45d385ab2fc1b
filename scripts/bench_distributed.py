"""Benchmark for issue #14: the in-process render against --workers 2 on a long clip, and Gatys shots as tasks.

Feed-forward: the clip is the demo clip (bigbuckbunny from ../shared/media) looped
by stream copy to ``--seconds`` (default 120 s). Printed: frames/s of the
in-process render and of the distributed one (wall time of the whole call:
hashing, cluster start, the cut scan, which overlaps the first tasks, tasks and
join), their ratio; the fixed cost per segment (task time beyond what its
frames cost in one long stream: pre-roll, file open/close, scheduling), the scan
and join times; peak RSS of a worker on this clip and on a 10 s clip; and a
projection of frames/s for 8, 32 and 128 workers (a model, not a measurement).

Gatys (``--gatys-frames``, 0 to skip): the first N frames of two shots of
bikes.mp4 at 256 px, rendered in-process and as two tasks on two workers.

Usage: python scripts/bench_distributed.py [--seconds 120] [--max-width 320] [--segment-seconds 10]
       [--gatys-frames 8]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle.distributed.engine import DistributedOptions, render_distributed  # noqa: E402
from flowstyle.distributed.finish import join  # noqa: E402
from flowstyle.distributed.plan import Segment, make_plan  # noqa: E402
from flowstyle.distributed.tasks import render_segment  # noqa: E402
from flowstyle.gatys import GatysConfig, GatysOptions  # noqa: E402
from flowstyle.io.formats import get_sink, get_source  # noqa: E402
from flowstyle.io.reader import SizePolicy  # noqa: E402
from flowstyle.io.writer import EncodeOptions  # noqa: E402
from flowstyle.render import RenderConfig, render, render_gatys  # noqa: E402
from flowstyle.scenes import CutOptions  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"


def loop_clip(src: Path, dst: Path, seconds: float) -> Path:
    """``src``'s video looped by stream copy (pts shifted each pass) until ``seconds``."""
    with av.open(str(src)) as first:
        v = first.streams.video[0]
        tb = v.time_base
        # One loop lasts its frames, not the container's duration (which ends with the audio):
        # a constant-rate clip, as footage from one camera is.
        span = max(p.pts for p in first.demux(v) if p.size) + int(round(1 / (v.average_rate * tb)))
    with av.open(str(dst), "w") as out:
        ostream = None
        k = 0
        while k * span * tb < seconds:
            with av.open(str(src)) as inp:
                s = inp.streams.video[0]
                if ostream is None:
                    ostream = out.add_stream_from_template(s)
                for p in inp.demux(s):
                    if p.dts is None or p.size == 0:
                        continue
                    p.pts += k * span
                    p.dts += k * span
                    p.stream = ostream
                    out.mux(p)
            k += 1
    return dst


def two_shots(src: Path, dst: Path, frames: int, width: int) -> Path:
    """The first ``frames`` frames of the first two shots of ``src`` at ``width`` px, losslessly (crf 0)."""
    size = SizePolicy(max_width=width)
    plan = make_plan(src, size, CutOptions(), 1e9)
    starts = [0, plan.cuts[0]]
    with get_source(src, size) as source:
        picked = [f for f in source.frames() if any(s <= f.index < s + frames for s in starts)]
        spec = source.spec
    sink = get_sink(dst, dataclasses.replace(spec, trim=True), EncodeOptions(crf=0), audio_from=None)
    for i, f in enumerate(picked):
        sink.write(f.rgb, round(i / spec.frame_rate / spec.time_base) if spec.frame_rate else f.pts)
    sink.close()
    return dst


def bench_gatys(d: Path, frames: int) -> None:
    config = GatysConfig(GatysOptions(style=str(MEDIA / "styles" / "starry_night.jpg"), first_iterations=60,
                                      iterations=30), size=SizePolicy(max_width=256))
    clip = two_shots(MEDIA / "videos" / "bikes.mp4", d / "two_shots.mp4", frames, 256)
    t = time.perf_counter()
    single = render_gatys(clip, d / "gatys_single.mp4", config)
    single_s = time.perf_counter() - t
    results: list = []
    t = time.perf_counter()
    render_distributed(clip, d / "gatys_dist.mp4", config, DistributedOptions(workers=2), on_segment=results.append)
    dist_s = time.perf_counter() - t
    print(f"gatys, 2 shots x {frames} frames at 256 px (60/30 iterations): in-process {single_s:.1f} s "
          f"({single.frames} frames), 2 tasks on 2 workers {dist_s:.1f} s = {dist_s / single_s:.2f}x "
          f"(target <= 0.6x); tasks {', '.join(f'{r.seconds:.1f} s' for r in results)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--max-width", type=int, default=320)
    ap.add_argument("--segment-seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--gatys-frames", type=int, default=8)
    args = ap.parse_args()
    print(bench_header())
    config = RenderConfig(size=SizePolicy(max_width=args.max_width))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        if args.gatys_frames:
            bench_gatys(d, args.gatys_frames)
        clip = loop_clip(MEDIA / "videos" / "bigbuckbunny.mp4", d / "long.mp4", args.seconds)
        short = loop_clip(MEDIA / "videos" / "bigbuckbunny.mp4", d / "short.mp4", 10.0)
        t = time.perf_counter()
        plan = make_plan(clip, config.size, config.temporal.cuts, args.segment_seconds)
        scan_s = time.perf_counter() - t
        print(f"clip: {plan.frames} frames at {args.max_width} px max, {plan.shots} shots, "
              f"{len(plan.segments)} segments of <= {args.segment_seconds:g} s; the cut scan alone {scan_s:.1f} s")

        # ABBA: in-process, distributed, distributed, in-process; one order alone drifts with the machine.
        options = DistributedOptions(workers=args.workers, segment_seconds=args.segment_seconds)
        single_s, dist_s, results = [], [], []
        for k, kind in enumerate(("single", "dist", "dist", "single")):
            if kind == "single":
                single = render(clip, d / f"single{k}.mp4", config)
                single_s.append(single.seconds)
                print(f"in-process: {single.frames} frames in {single.seconds:.1f} s = {single.fps:.1f} frames/s")
            else:
                t = time.perf_counter()
                results = []
                dist = render_distributed(clip, d / f"dist{k}.mp4", config, options, on_segment=results.append)
                dist_s.append(time.perf_counter() - t)
                print(f"--workers {args.workers}: {dist.frames} frames in {dist_s[-1]:.1f} s = "
                      f"{dist.frames / dist_s[-1]:.1f} frames/s")
        wall = sum(dist_s) / 2
        print(f"--workers {args.workers} vs in-process (ABBA, summed): {sum(single_s) / sum(dist_s):.2f}x "
              f"(target >= 0.9x)")
        # One stream through the task path (one thread): what frames cost without segment boundaries.
        t = time.perf_counter()
        render_segment(str(short), str(d / "whole.mp4"), Segment(0, 0, 240), config)
        per_frame = (time.perf_counter() - t) / 240
        task_s = sum(r.seconds for r in results)
        fixed = (task_s - per_frame * plan.frames) / len(results)
        with tempfile.TemporaryDirectory(dir=d) as segs:
            files = [Path(segs) / f"{s.name}.mp4" for s in plan.segments[:1]]
            render_segment(str(clip), str(files[0]), plan.segments[0], config)
            t = time.perf_counter()
            join(files * 1, d / "joined.mp4")
            join_s = (time.perf_counter() - t) * len(plan.segments)
        print(f"one stream, one thread: {per_frame * 1000:.1f} ms/frame; tasks took {task_s:.1f} s in all: "
              f"fixed cost per segment {fixed:.2f} s (pre-roll of {plan.segments[1].preroll} frames, open/close, "
              f"scheduling); join ~{join_s:.2f} s")

        short_results: list = []
        render_distributed(short, d / "dist_short.mp4", config, options, on_segment=short_results.append)
        print(f"peak RSS of a worker: {max(r.peak_rss_mib for r in short_results):.0f} MiB on the 10 s clip, "
              f"{max(r.peak_rss_mib for r in results):.0f} MiB on the {args.seconds:g} s clip")

        overhead = wall - task_s / args.workers  # hashing, cluster start, scan beyond the tasks, join
        for n in (8, 32, 128):
            rounds = math.ceil(len(plan.segments) / n)
            seg_s = per_frame * plan.frames / len(plan.segments) + fixed
            total = max(scan_s, rounds * seg_s) + max(0.0, overhead)
            print(f"projection, {n} workers: {plan.frames / total:.0f} frames/s "
                  f"({rounds} round(s) of {seg_s:.1f} s segments, the scan {scan_s:.1f} s overlapping them, "
                  f"{max(0.0, overhead):.1f} s start/join)")


if __name__ == "__main__":
    main()
