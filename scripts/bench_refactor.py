"""Benchmark for issue #13's "the refactor costs nothing": bench_render's (b)/(a) on two source trees, interleaved.

(a) the network alone on bigbuckbunny's frames held in memory (one single-threaded
network per core, as the render runs it), (b) the whole per-frame render (decode,
stylize, encode, audio copy), both at 640 px, style 16, ``--temporal none``. Each
tree runs in its own process, alternating (A B A B ...), since the machine drifts
more from minute to minute than the 2% the target asks for, and each process renders
three times; medians are compared (single runs here spread by +-10%). Also the
render's CPU time per frame, which other tenants of a shared machine stretch less
than wall time.

Usage:
    git worktree add /tmp/before 5b0fe57          # the last commit before the pipeline refactor
    python scripts/bench_refactor.py --before /tmp/before [--rounds 4]
``--before-weights``: a weights folder the old tree can read (its manifest has fewer fields).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT.parent / "shared" / "media" / "videos" / "bigbuckbunny.mp4"

MEASURE = r'''
import sys, time, tempfile
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
import torch
from flowstyle.io.reader import SizePolicy, VideoReader
from flowstyle.render import RenderConfig, frame_to_tensor, render, stylize_workers
from flowstyle.stylize.options import StyleOptions
try:
    from flowstyle.stylize.painter import make_stylizer
except ImportError:  # a tree from before the one style value (stylize/painter.py)
    from flowstyle.stylize.feedforward import make_stylizer
from flowstyle.temporal import TemporalOptions
from flowstyle.device import resolve_precision
clip = Path(sys.argv[1])
dev = torch.device("cpu")
net = make_stylizer(StyleOptions(style="16"), dev, resolve_precision("auto", dev))
with VideoReader(clip, SizePolicy(max_width=640)) as r:
    frames = [frame_to_tensor(f, dev) for f in r]
def one(x):
    with torch.inference_mode():
        net(x)
threads, workers = torch.get_num_threads(), stylize_workers(0, dev)  # one network per core
torch.set_num_threads(1)
with ThreadPoolExecutor(workers) as pool:
    list(pool.map(one, frames[:8]))
    t, c = time.perf_counter(), time.process_time()
    list(pool.map(one, frames))
    a, a_cpu = len(frames) / (time.perf_counter() - t), (time.process_time() - c) / len(frames)
torch.set_num_threads(threads)
cfg = RenderConfig(style=StyleOptions(style="16"), size=SizePolicy(max_width=640), temporal=TemporalOptions(mode="none"))
with tempfile.TemporaryDirectory() as d:
    render(clip, Path(d) / "warm.mp4", cfg)
    for k in range(3):
        t, c = time.perf_counter(), time.process_time()
        rep = render(clip, Path(d) / f"out{k}.mp4", cfg)
        print(f"{a} {rep.frames / (time.perf_counter() - t)} {a_cpu} {(time.process_time() - c) / rep.frames}")
'''


def measure(tree: Path, weights: Path | None) -> list[tuple[float, ...]]:
    """(a f/s, b f/s, a CPU s/frame, b CPU s/frame) of each of three renders in one process."""
    env = {**os.environ, "PYTHONPATH": str(tree), "FLOWSTYLE_LOG": "warning"}
    if weights is not None:
        env["FLOWSTYLE_WEIGHTS"] = str(weights)
    out = subprocess.run([sys.executable, "-c", MEASURE, str(CLIP)], env=env, capture_output=True, text=True,
                         check=True, cwd="/tmp").stdout.split()[-12:]
    return [tuple(float(v) for v in out[i:i + 4]) for i in range(0, len(out), 4)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="source tree before the refactor")
    ap.add_argument("--before-weights", type=Path, default=None)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from flowstyle.system import bench_header

    print(bench_header())
    runs: dict[str, list[tuple[float, ...]]] = {"before": [], "after": []}
    for k in range(args.rounds):
        for name, tree, weights in (("before", args.before, args.before_weights), ("after", ROOT, None)):
            got = measure(tree, weights)
            runs[name] += got
            print(f"round {k + 1} {name:6s}: (a) network {got[0][0]:.1f} f/s; (b) render "
                  + ", ".join(f"{r[1]:.1f} f/s ({r[3] * 1e3:.1f} ms CPU/frame)" for r in got))
    med = {name: [statistics.median(r[i] for r in rs) for i in range(4)] for name, rs in runs.items()}
    for name, (a, b, a_cpu, b_cpu) in med.items():
        print(f"{name:6s} medians: (a) {a:.1f} f/s, (b) {b:.1f} f/s, (b)/(a) {b / a:.3f}; "
              f"CPU per frame (a) {a_cpu * 1e3:.1f} ms, (b) {b_cpu * 1e3:.1f} ms")
    before, after = med["before"][1] / med["before"][0], med["after"][1] / med["after"][0]
    print(f"(b)/(a) of the medians: before {before:.3f}, after {after:.3f} ({after / before - 1:+.1%}); "
          f"render CPU per frame {med['after'][3] / med['before'][3] - 1:+.1%}; target: within 2%")


if __name__ == "__main__":
    main()
