"""Temporal-consistency evaluation (issue #3): every real clip in ../shared/media
rendered per-frame and with each temporal mode, all measured with the same
metrics; writes a markdown table and a plot of E_warp per frame for each mode.

Usage: python eval/run_eval.py [--out eval/results] [--width 640] [--style 16]
       [--style-image ../shared/media/styles/starry_night.jpg] [--loss-every 8]

Targets checked (issue #3), per clip, for the default mode against per-frame:
E_warp <= 0.35x, style loss <= 1.15x, content loss <= 1.15x, detail >= 0.9x;
drift < 2% on the static-camera clip (tree.avi).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle import RenderConfig, render  # noqa: E402
from flowstyle.io.reader import SizePolicy  # noqa: E402
from flowstyle.metrics import evaluate, plot_ewarp  # noqa: E402
from flowstyle.stylize.feedforward import StyleOptions  # noqa: E402
from flowstyle.temporal import TEMPORAL_MODES, TemporalOptions  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
DEFAULT_MODE = TemporalOptions().mode


def sintel_clip(out: Path) -> Path:
    """The 10 consecutive Sintel frames (RAFT demo set) as a lossless 24 fps clip."""
    import av

    frames = sorted((MEDIA / "sintel_raft_demo").glob("frame_*.png"))
    with av.open(str(out), "w") as c:
        s = c.add_stream("ffv1", rate=24)
        first = np.asarray(Image.open(frames[0]).convert("RGB"))
        s.width, s.height, s.pix_fmt = first.shape[1], first.shape[0], "yuv444p"
        for i, p in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.asarray(Image.open(p).convert("RGB")), format="rgb24").reformat(format="yuv444p")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "eval" / "results")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--style", default="16")
    ap.add_argument("--style-image", type=Path, default=MEDIA / "styles" / "starry_night.jpg")
    ap.add_argument("--loss-every", type=int, default=8)
    ap.add_argument("--clips", nargs="*", default=["bigbuckbunny.mp4", "bikes.mp4", "tree.avi", "sintel"])
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows, ok = [], True
    for name in args.clips:
        src = sintel_clip(args.out / "sintel.mkv") if name == "sintel" else MEDIA / "videos" / name
        reports = {}
        for mode in ("none",) + tuple(m for m in TEMPORAL_MODES if m != "none"):
            dst = args.out / f"{Path(name).stem}_{mode}.mp4"
            t = time.perf_counter()
            rep = render(src, dst, RenderConfig(style=StyleOptions(style=args.style), size=SizePolicy(max_width=args.width),
                                                temporal=TemporalOptions(mode=mode)), overwrite=True)
            seconds = time.perf_counter() - t
            ref = args.out / f"{Path(name).stem}_none.mp4"
            reports[mode] = evaluate(src, dst, style_image=args.style_image, reference=ref if mode != "none" else None,
                                     loss_every=args.loss_every)
            reports[mode].render_fps = rep.frames / seconds
            print(f"{name} {mode}: E_warp {reports[mode].ewarp:.6f} ({rep.frames / seconds:.1f} f/s)", flush=True)
        base = reports["none"]
        for mode, r in reports.items():
            ratio = lambda a, b: (a / b) if (a is not None and b) else float("nan")  # noqa: E731
            e, s, c = ratio(r.ewarp, base.ewarp), ratio(r.style_loss, base.style_loss), ratio(r.content_loss, base.content_loss)
            d = ratio(r.detail, base.detail)
            target = ""
            if mode == DEFAULT_MODE:
                met = e <= 0.35 and s <= 1.15 and c <= 1.15 and d >= 0.9 and (name != "tree.avi" or r.drift < 0.02)
                ok &= met
                target = "met" if met else "MISSED"
            rows.append((name, mode, r.frames, r.ewarp, e, r.ewarp_original, r.flicker, r.drift, s, c, d, r.render_fps, target))
        plot_ewarp({m: r.per_frame.get("ewarp", []) for m, r in reports.items()} | {"original clip": base.per_frame.get("ewarp_original", [])},
                   args.out / f"ewarp_{Path(name).stem}.png", title=f"{name}: E_warp per frame")
        (args.out / f"{Path(name).stem}.json").write_text(json.dumps({m: json.loads(r.to_json()) for m, r in reports.items()}))
    lines = ["| clip | mode | frames | E_warp | vs per-frame | original's E_warp | flicker | drift | style loss vs per-frame | content loss vs per-frame | detail vs per-frame | render f/s | targets |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for n, m, f, e, er, eo, fl, dr, s, c, d, fps, tg in rows:
        lines.append(f"| {n} | {m} | {f} | {e:.2e} | {er:.3f} | {eo:.2e} | {fl:.4f} | {dr * 100:.2f}% | {s:.3f} | {c:.3f} | {d:.3f} | {fps:.1f} | {tg} |")
    table = "\n".join(lines)
    (args.out / "results.md").write_text(table + "\n")
    print(table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
