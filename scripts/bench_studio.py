"""Benchmark for issue #15: the studio's preview latency, live frame rate and render overhead.

Prints, through the real HTTP routes of a studio on a free loopback port:
  preview   upload -> one stylized frame at 640 px, median of 10 requests (target <= 1.0 s)
  live      frames/s served and latency (source pts, paced to the wall clock, to JPEG) of the
            Live stream at 320 px with the temporal mode on, from a 720p file (target >= 24
            frames/s for 60 s, <= 200 ms), and the width the automatic drop settled on
  overhead  a render started from the studio against the same render() call (target >= 0.95x)

Usage: python scripts/bench_studio.py [--clip PATH] [--live-seconds 60] [--style 16]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle.render import RenderConfig, render  # noqa: E402
from flowstyle.studio.app import StudioOptions  # noqa: E402
from flowstyle.studio.server import StudioServer  # noqa: E402
from flowstyle.stylize.options import StyleOptions  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402
from flowstyle.temporal import TemporalOptions  # noqa: E402
from flowstyle.io.reader import SizePolicy  # noqa: E402

DEFAULT_CLIP = ROOT.parent / "shared" / "media" / "videos" / "bigbuckbunny.mp4"


def call(port: int, method: str, path: str, body: bytes | dict | None = None) -> bytes:
    headers = {}
    if isinstance(body, dict):
        body, headers = json.dumps(body).encode(), {"Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    if r.status != 200:
        raise SystemExit(f"{method} {path}: {r.status} {data[:200]!r}")
    return data


def make_720p(src: Path, dst: Path) -> Path:
    """The clip scaled to 1280x720 (H.264), the live benchmark's file source."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s = inp.streams.video[0]
        v = out.add_stream("libx264", rate=s.average_rate)
        v.width, v.height, v.pix_fmt, v.options = 1280, 720, "yuv420p", {"preset": "ultrafast"}
        v.time_base = s.time_base
        for f in inp.decode(s):
            g = f.reformat(width=1280, height=720, format="yuv420p")
            g.pts, g.time_base = f.pts, f.time_base
            out.mux(v.encode(g))
        out.mux(v.encode(None))
    return dst


def preview(port: int, up: dict, form: dict, upload_s: float, clip: Path) -> None:
    t0 = time.perf_counter()
    call(port, "POST", f"/api/uploads/{up['id']}/preview.jpg?index=0&width=640", form)
    first = time.perf_counter() - t0
    times = []
    for i in range(10):
        index = (i * 37) % max(1, up["frames"])
        t0 = time.perf_counter()
        call(port, "POST", f"/api/uploads/{up['id']}/preview.jpg?index={index}&width=640", form)
        times.append(time.perf_counter() - t0)
    print(f"preview   {clip.name} {up['width']}x{up['height']}: upload+probe {upload_s:.2f} s, first preview "
          f"{first:.2f} s (builds the stylizer), then median {statistics.median(times):.3f} s "
          f"(min {min(times):.3f}, max {max(times):.3f}) over 10 frames at 640 px")


def live_figures(port: int, args: argparse.Namespace, tmp: Path) -> None:
    src = make_720p(args.clip, tmp / "live720.mp4")
    live = json.loads(call(port, "POST", "/api/uploads?name=live720.mp4", src.read_bytes()))
    call(port, "POST", "/api/live", {"source": "upload:" + live["id"], "style": args.style, "temporal": "flow",
                                     "width": 320})
    time.sleep(3)  # warm-up: the first frames build the stylizer
    start = json.loads(call(port, "GET", "/api/live"))
    samples = []
    end = time.perf_counter() + args.live_seconds
    while time.perf_counter() < end:
        time.sleep(1.0)
        samples.append(json.loads(call(port, "GET", "/api/live")))
    last = samples[-1]
    fps = (last["served"] - start["served"]) / args.live_seconds
    widths = sorted({s["width"] for s in samples})
    latencies = [s["latency_ms"] for s in samples]
    print(f"live      720p file at 320 px, temporal flow, {args.live_seconds:.0f} s: {fps:.1f} frames/s served, "
          f"latency median {statistics.median(latencies):.0f} ms (max of 1-s medians {max(latencies):.0f} ms), "
          f"{last['dropped'] - start['dropped']} frames dropped, widths used {widths}")
    call(port, "DELETE", "/api/live")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--style", default="16")
    ap.add_argument("--live-seconds", type=float, default=60.0)
    ap.add_argument("--parts", default="preview,live,overhead", help="which figures to measure (comma-separated)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    print(bench_header())
    tmp = Path(tempfile.mkdtemp(prefix="bench-studio-"))
    with StudioServer(StudioOptions()) as server:
        port = server.port
        t0 = time.perf_counter()
        up = json.loads(call(port, "POST", "/api/uploads?name=" + urllib.parse.quote(args.clip.name),
                             args.clip.read_bytes()))
        upload_s = time.perf_counter() - t0
        form = {"style": args.style, "strength": 1.0}
        if "preview" in parts:
            preview(port, up, form, upload_s, args.clip)
        if "live" in parts:
            live_figures(port, args, tmp)
        if "overhead" not in parts:
            return
        config = {"input": up["id"], "style": args.style, "temporal": "flow", "width": 640}
        # ABBA order (studio, render(), render(), studio): whichever runs first pays for cold
        # caches, and the machine drifts; one order alone measured 0.88-1.02x.
        studio_s, cli_s, frames = [], [], 0
        for first in ("studio", "cli", "cli", "studio"):
            t0 = time.perf_counter()
            if first == "studio":
                job = json.loads(call(port, "POST", "/api/jobs", config))
                call(port, "GET", f"/api/jobs/{job['id']}/events")  # returns when the job ends
                frames = json.loads(call(port, "GET", f"/api/jobs/{job['id']}"))["done"]
                studio_s.append(time.perf_counter() - t0)
            else:
                report = render(args.clip, tmp / "cli.mp4", RenderConfig(style=StyleOptions(style=args.style),
                                                                         size=SizePolicy(width=640),
                                                                         temporal=TemporalOptions(mode="flow")),
                                overwrite=True)
                cli_s.append(time.perf_counter() - t0)
    print(f"overhead  {frames} frames at 640 px, studio and render() in ABBA order: studio "
          f"{' '.join(f'{frames / t:.1f}' for t in studio_s)} frames/s (request to done), render() "
          f"{' '.join(f'{report.frames / t:.1f}' for t in cli_s)} frames/s: ratio {sum(cli_s) / sum(studio_s):.3f}x")


if __name__ == "__main__":
    main()
