"""Does the stable network move the frontier between steadiness and look, or only move along it?

The default temporal step can be made steadier by itself (it keeps more of the previous output in
each band: ``alpha_detail``, ``alpha_low``), at a cost in look (docs/temporal.md, "Open"). So a
stable network in the default mode (B) is only a gain if the ORIGINAL network, with the step turned up
until it is as steady, keeps less of the look. This renders, on real clips at 640 px:

  R    the original network per-frame (the reference: every column is a ratio to it)
  C0   the original network, default mode; C1, C2: the same with the temporal step turned up
  B0   the stable network, default mode; B1: with the step turned up as C1

and prints E_warp (DIS-medium, Farneback), Gram (in all and relu1_1), sharpness and content per run,
so the stable network's point can be read against the original's curve.

Usage: python eval/stable_frontier.py [--clips bigbuckbunny.mp4 ...] [--styles 7 16] [--frames 24]
       [--weights FOLDER] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import clip_source, f3, markdown_table, measure, style_reference, style_tag  # noqa: E402

from flowstyle.io.reader import SizePolicy  # noqa: E402
from flowstyle.render import RenderConfig, render  # noqa: E402
from flowstyle.stylize.options import StyleOptions  # noqa: E402
from flowstyle.stylize.track import ORIGINAL, STABLE  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402
from flowstyle.temporal import TemporalOptions  # noqa: E402

# The temporal step at three strengths: today's default, then more of the previous output in
# every band (the fine bands' weights, the coarse band's).
STEPS = {"0": TemporalOptions(), "1": TemporalOptions(alpha_detail=(0.7, 0.95), alpha_low=0.9),
         "2": TemporalOptions(alpha_detail=(0.85, 0.97), alpha_low=0.95)}
RUNS = [("R", ORIGINAL, None), ("C0", ORIGINAL, "0"), ("C1", ORIGINAL, "1"), ("C2", ORIGINAL, "2"),
        ("B0", STABLE, "0"), ("B1", STABLE, "1")]
COLUMNS = ("ewarp_dis", "ewarp_farneback", "gram", "gram_relu1_1", "sharpness", "content")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="*", default=["bigbuckbunny.mp4", "chaplin.mp4", "bikes.mp4"])
    ap.add_argument("--styles", nargs="*", default=["7", "16"])
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--weights", type=Path, default=None, help="weights folder with candidate stable entries")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args(argv)
    if args.weights is not None:
        os.environ["FLOWSTYLE_WEIGHTS"] = str(args.weights.resolve())
    print(bench_header(), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in args.clips:
        src = clip_source(name, args.out, args.frames, args.width)
        for style in args.styles:
            tag = style_tag(style)
            painting = style_reference(style, args.out / f"reference_{tag}.png", args.width)
            files = {}
            for run, network, step in RUNS:
                dst = args.out / f"frontier_{Path(name).stem}_{tag}_{run}.mp4"
                temporal = TemporalOptions(mode="none") if step is None else STEPS[step]
                report = render(src, dst, RenderConfig(style=StyleOptions(style=style, network=network),
                                                       size=SizePolicy(max_width=args.width), temporal=temporal),
                                overwrite=True)
                files[run] = (dst, report.frames)
            ref, n = files["R"]
            for run, _, _ in RUNS[1:]:
                row = {"clip": name, "style": tag, "run": run, **measure(src, files[run][0], ref, painting, n)}
                rows.append(row)
                print(" ".join(f"{k}={row[k]:.3f}" if isinstance(row[k], float) else f"{k}={row[k]}"
                               for k in ("clip", "style", "run", *COLUMNS)), flush=True)
    table = markdown_table(["clip", "style", "run", *COLUMNS],
                           [[r["clip"], r["style"], r["run"], *(f3(r[k]) for k in COLUMNS)] for r in rows])
    (args.out / "stable_frontier.md").write_text(
        f"{bench_header()}\n\nRatios to the original network per-frame. C0-C2: the original network with the "
        "temporal step at three strengths; B0, B1: the stable network at the first two.\n\n" + table + "\n")
    (args.out / "stable_frontier.json").write_text(json.dumps(rows, indent=1))
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
