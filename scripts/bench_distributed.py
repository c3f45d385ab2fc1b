"""Benchmark for issue #14: the in-process render against --workers 2 on a long clip.

The clip is the demo clip (bigbuckbunny from ../shared/media) looped by stream
copy to ``--seconds`` (default 120 s). Printed: frames/s of the in-process render
and of the distributed one (wall time of the whole command: cluster start, plan,
tasks, join), their ratio; the fixed cost per segment (task time beyond what its
frames cost in one long stream: pre-roll, model load, file open/close, scheduling),
the plan and join times; peak RSS of a worker on this clip and on a 10 s clip; and a
projection of frames/s for 8, 32 and 128 workers (a model, not a measurement).

Usage: python scripts/bench_distributed.py [--seconds 120] [--max-width 320] [--segment-seconds 10]
"""

from __future__ import annotations

import argparse
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle.distributed.engine import DistributedOptions, connect, render_distributed  # noqa: E402
from flowstyle.distributed.finish import join  # noqa: E402
from flowstyle.distributed.plan import Segment, make_plan  # noqa: E402
from flowstyle.distributed.tasks import render_segment  # noqa: E402
from flowstyle.io.reader import SizePolicy  # noqa: E402
from flowstyle.render import RenderConfig, render  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"


def loop_clip(src: Path, dst: Path, seconds: float) -> Path:
    """``src``'s video looped by stream copy (pts shifted each pass) until ``seconds``."""
    with av.open(str(src)) as first:
        tb = first.streams.video[0].time_base
        span = int(round(first.duration / av.time_base / tb))
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


def worker_peak_rss_mib(client) -> float:
    return max(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024).values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--max-width", type=int, default=320)
    ap.add_argument("--segment-seconds", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    print(bench_header())
    config = RenderConfig(size=SizePolicy(max_width=args.max_width))
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        clip = loop_clip(MEDIA / "videos" / "bigbuckbunny.mp4", d / "long.mp4", args.seconds)
        short = loop_clip(MEDIA / "videos" / "bigbuckbunny.mp4", d / "short.mp4", 10.0)
        t = time.perf_counter()
        plan = make_plan(clip, config.size, config.temporal.cuts, args.segment_seconds)
        plan_s = time.perf_counter() - t
        print(f"clip: {plan.frames} frames at {args.max_width} px max, {plan.shots} shots, "
              f"{len(plan.segments)} segments of <= {args.segment_seconds:g} s; plan {plan_s:.1f} s")

        single = render(clip, d / "single.mp4", config)
        print(f"in-process: {single.frames} frames in {single.seconds:.1f} s = {single.fps:.1f} frames/s")

        options = DistributedOptions(workers=args.workers, segment_seconds=args.segment_seconds)
        t = time.perf_counter()
        results = []
        dist = render_distributed(clip, d / "dist.mp4", config, options, on_segment=results.append)
        wall = time.perf_counter() - t
        print(f"--workers {args.workers}: {dist.frames} frames in {wall:.1f} s = {dist.frames / wall:.1f} frames/s "
              f"({dist.frames / wall / single.fps:.2f}x the in-process render)")

        # One stream of the whole clip through the task path: what frames cost without segment boundaries.
        t = time.perf_counter()
        render_segment(str(clip), str(d / "whole.mp4"), Segment(0, 0, plan.frames), config)
        per_frame = (time.perf_counter() - t) / plan.frames
        task_s = sum(r.seconds for r in results)
        fixed = (task_s - per_frame * plan.frames) / len(results)
        t = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=d) as segs:
            files = [Path(segs) / f"{s.name}.mp4" for s in plan.segments[:1]]
            render_segment(str(clip), str(files[0]), plan.segments[0], config)
            t = time.perf_counter()
            join(files * 1, d / "joined.mp4")
            join_s = (time.perf_counter() - t) * len(plan.segments)
        print(f"one stream, one thread: {per_frame * 1000:.1f} ms/frame; tasks took {task_s:.1f} s in all: "
              f"fixed cost per segment {fixed:.2f} s (pre-roll, model load, open/close, scheduling); "
              f"join ~{join_s:.2f} s")

        for clip_path, name in ((short, "10 s"), (clip, f"{args.seconds:g} s")):
            opts = DistributedOptions(workers=args.workers, segment_seconds=args.segment_seconds)
            with connect(opts) as client:
                opts = DistributedOptions(scheduler=client.scheduler.address, segment_seconds=args.segment_seconds)
                render_distributed(clip_path, d / f"rss-{name.split()[0]}.mp4", config, opts)
                print(f"peak RSS of a worker on the {name} clip: {worker_peak_rss_mib(client):.0f} MiB")

        start_s = wall - task_s / args.workers - plan_s
        for n in (8, 32, 128):
            rounds = math.ceil(len(plan.segments) / n)
            seg_s = per_frame * plan.frames / len(plan.segments) + fixed
            total = plan_s + max(0.0, start_s) + rounds * seg_s
            print(f"projection, {n} workers: {plan.frames / total:.0f} frames/s "
                  f"({rounds} round(s) of {seg_s:.1f} s segments + {plan_s + max(0.0, start_s):.1f} s plan/start/join)")


if __name__ == "__main__":
    main()
