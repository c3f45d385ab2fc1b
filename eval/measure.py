"""What the evaluation scripts share (run_eval.py: temporal modes; run_stable.py: stable networks): the
clips of ../shared/media and their sources, the style references, one render measured against its
per-frame reference (E_warp with two flows, sharpness, flicker, Gram and content losses, drift), crop
strips, pass/miss against targets and the markdown table."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowstyle import RenderConfig, render  # noqa: E402
from flowstyle.io.reader import SizePolicy, VideoReader  # noqa: E402
from flowstyle.flow import make_flow_backend  # noqa: E402
from flowstyle.flow.remap import remap_flow  # noqa: E402
from flowstyle.keyed.options import PaintedKeyOptions  # noqa: E402
from flowstyle.losses import STYLE_LAYERS  # noqa: E402
from flowstyle.metrics import evaluate, masked_mse  # noqa: E402
from flowstyle.stylize.options import StyleOptions  # noqa: E402
from flowstyle.temporal import TemporalOptions, estimate_motion  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
DEFAULT_MODE = TemporalOptions().mode
CLIPS = ["bigbuckbunny.mp4", "bikes.mp4", "tree.avi", "chaplin.mp4", "sintel"]
PAINTINGS = [str(MEDIA / "styles" / "starry_night.jpg"), str(MEDIA / "styles" / "udnie.jpg")]
DRIFT_CLIP = "tree.avi"  # the clip with a still background, where drift shows


def lossless_clip(frames: Iterable[np.ndarray], out: Path, rate: Fraction = Fraction(24)) -> Path:
    """uint8 RGB ``frames`` as a lossless (FFV1, yuv444p) clip at ``rate``, so a metric sees exactly them."""
    import av

    with av.open(str(out), "w") as c:
        s = c.add_stream("ffv1", rate=rate)
        s.pix_fmt = "yuv444p"
        for i, rgb in enumerate(frames):
            if i == 0:
                s.width, s.height = rgb.shape[1], rgb.shape[0]
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv444p")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return out


def sintel_clip(out: Path) -> Path:
    """The 10 consecutive Sintel frames (RAFT demo set) as a lossless 24 fps clip."""
    paths = sorted((MEDIA / "sintel_raft_demo").glob("frame_*.png"))
    return lossless_clip((np.asarray(Image.open(p).convert("RGB")) for p in paths), out)


def clip_source(name: str, out: Path, frames: int | None = None, width: int | None = None) -> Path:
    """The clip ``name`` of CLIPS to render: the file itself, or (``frames``) a lossless copy of its first
    frames in ``out``, already at the size a render at most ``width`` wide has, so that every render and
    metric of a quick run sees the same short clip (even at a width where rounding to even sides changes
    the shape more than the metrics allow)."""
    src = sintel_clip(out / "sintel.mkv") if name == "sintel" else MEDIA / "videos" / name
    if not frames:
        return src

    def first() -> Iterable[np.ndarray]:
        with VideoReader(src, SizePolicy(max_width=width)) as r:
            for _, f in zip(range(frames), r):
                yield f.rgb

    with VideoReader(src) as r:
        rate = r.rate or Fraction(24)
    return lossless_clip(first(), out / f"{Path(name).stem}_first{frames}.mkv", Fraction(rate).limit_denominator(1000))


def style_tag(style: str) -> str:
    """``style7`` for a built-in style, the file's stem for a painting."""
    return Path(style).stem if StyleOptions(style=style).is_painting else f"style{style}"


def style_reference(style: str, out: Path, width: int) -> Path:
    """The painting itself, or for a built-in style the ORIGINAL network's per-frame render of a photo
    (a same-style picture that is not one of the frames measured, so the per-frame reference has a loss too)."""
    options = StyleOptions(style=style)
    if options.is_painting:
        return Path(style)
    from flowstyle.device import resolve_device, resolve_precision
    from flowstyle.io.images import load_rgb
    from flowstyle.render import rgb_to_tensor, tensor_to_rgb
    from flowstyle.stylize.painter import make_stylizer

    device = resolve_device("auto")
    photo = load_rgb(MEDIA / "photos" / "coffee.png")
    h = round(photo.shape[0] * width / photo.shape[1])
    photo = cv2.resize(photo, (width, h), interpolation=cv2.INTER_AREA)
    stylized = tensor_to_rgb(make_stylizer(options, device, resolve_precision("auto", device))(rgb_to_tensor(photo, device)))
    Image.fromarray(stylized).save(out)
    return out


def render_one(src: Path, dst: Path, style: StyleOptions, width: int, mode: str,
               keys_every: int | None = None) -> tuple[Path, float, int]:
    """Render ``src`` in ``style`` with temporal ``mode`` at most ``width`` wide: (file, frames/s, frames).
    ``keys_every``: paint every Nth frame with the style and carry those keys between (``--keyframes-every``)."""
    painted = PaintedKeyOptions(every=keys_every, paint_keyless=True) if keys_every else PaintedKeyOptions()
    t = time.perf_counter()
    rep = render(src, dst, RenderConfig(style=style, size=SizePolicy(max_width=width), temporal=TemporalOptions(mode=mode),
                                        painted=painted), overwrite=True)
    return dst, rep.frames / (time.perf_counter() - t), rep.frames


def measure(src: Path, dst: Path, ref: Path, painting: Path, frames: int, loss_every: int = 8) -> dict:
    """``dst`` against the per-frame render ``ref`` of the same clip, each column a ratio to ``ref``'s
    (drift and detail aside): E_warp scored with DIS-medium and with Farneback (a flow other than the one a
    temporal mode followed: a mode must not grade itself), sharpness, static flicker, Gram loss against
    ``painting`` (in all and at each of STYLE_LAYERS, ``gram_relu1_1`` ...), content loss, drift."""
    # Short clips (Sintel: 10 frames) get the losses on every frame, not on 2 of them.
    every = max(1, min(loss_every, frames // 12))
    dis = evaluate(src, dst, style_image=painting, reference=ref, flow="dis-medium", loss_every=every)
    farn = evaluate(src, dst, reference=ref, flow="farneback", loss_every=0)
    return {"frames": dis.frames, "ewarp_dis": dis.ratio("ewarp"), "ewarp_farneback": farn.ratio("ewarp"),
            "sharpness": dis.sharpness_ratio, "gram": dis.ratio("style_loss"),
            **{f"gram_{layer}": dis.layer_ratio(layer) for layer in STYLE_LAYERS},
            "flicker": dis.ratio("flicker"), "content": dis.ratio("content_loss"), "drift": dis.drift,
            "detail": dis.detail_ratio, "ewarp_dis_abs": dis.ewarp, "ewarp_dis_none": dis.ewarp_reference,
            "ewarp_farneback_abs": farn.ewarp, "ewarp_farneback_none": farn.ewarp_reference}


def carried_floor(src: Path, stylized: Path, flow: str) -> float:
    """The E_warp ``stylized`` would score (with ``flow``, as :func:`flowstyle.metrics.evaluate` does) if each
    of its pictures were exactly the previous one carried along that flow: the previous picture sampled at
    the flow's places with Lanczos-4 (a band-limited move of the same texture) against E_warp's own bilinear
    warp of it. That is E_warp's interpolation error on this texture, which no carrier can go below: a
    bilinear warp at a fractional place attenuates the finest detail, so a crisper texture is charged more
    for the same motion. Within one shot (the painted-keys benchmark measures the first shot)."""
    backend = make_flow_backend(flow)
    errors, prev = [], None
    with VideoReader(stylized) as out:
        w, h = out.size
        with VideoReader(src, SizePolicy(width=w, height=h)) as orig:
            for o, s in zip(orig, out):
                picture = s.rgb.astype(np.float32) / 255
                if prev is not None:
                    motion = estimate_motion(prev[0], o.rgb, backend)
                    moved = remap_flow(prev[1], motion.flow_bwd, cv2.INTER_LANCZOS4)
                    errors.append(masked_mse(moved, remap_flow(prev[1], motion.flow_bwd), motion.mask))
                prev = (o.rgb, picture)
    return float(np.mean(errors))


Bound = float | tuple[float, float]


def missed(row: Mapping, targets: Mapping[str, Bound]) -> list[str]:
    """The columns of ``row`` outside ``targets`` (a ceiling, or a (low, high) range); drift counts on
    DRIFT_CLIP only and must stay strictly below its ceiling; a column not measured (None: no static
    pixels, say) misses nothing."""
    out = []
    for key, bound in targets.items():
        value = row.get(key)
        if value is None or (key == "drift" and row["clip"] != DRIFT_CLIP):
            continue
        if isinstance(bound, tuple):
            ok = bound[0] <= value <= bound[1]
        else:
            ok = value < bound if key == "drift" else value <= bound
        if not ok:
            out.append(key)
    return out


def frames_at(path: Path, indices: list[int]) -> dict[int, np.ndarray]:
    """The frames of ``path`` at ``indices``, decoding no further than the last of them."""
    out: dict[int, np.ndarray] = {}
    with VideoReader(path) as r:
        for i, f in enumerate(r):
            if i in indices:
                out[i] = f.rgb
            if i >= max(indices):
                break
    return out


def crop_strip(groups: Sequence[tuple[Sequence[Path], int]], out: Path, crop: tuple[int, int] = (160, 90),
               labels: Sequence[str] = ()) -> Path:
    """2x crops (nearest neighbour, so pixels show as they are) of two frames of each group of renders of one
    clip (``(renders, frame count)``: e.g. per-frame, then temporal), side by side; the crop is where the first
    render has the most detail (where tearing or blur would show). ``labels`` name the columns, above them."""
    rows = []
    for renders, n in groups:
        idx = [n // 3, (2 * n) // 3]
        frames = [frames_at(p, idx) for p in renders]
        for i in idx:
            gray = cv2.cvtColor(frames[0][i], cv2.COLOR_RGB2GRAY)
            energy = cv2.boxFilter(np.abs(cv2.Laplacian(gray, cv2.CV_32F)), -1, crop, normalize=False)
            h, w = gray.shape
            cw, ch = min(crop[0], w), min(crop[1], h)
            valid = energy[ch // 2:h - ch // 2 + 1 - ch % 2, cw // 2:w - cw // 2 + 1 - cw % 2]
            y, x = np.unravel_index(int(np.argmax(valid)), valid.shape)
            tiles = [cv2.resize(np.ascontiguousarray(f[i][y:y + ch, x:x + cw]), (2 * cw, 2 * ch),
                                interpolation=cv2.INTER_NEAREST) for f in frames]
            gap = np.full((2 * ch, 4, 3), 255, np.uint8)
            rows.append(np.hstack([t for tile in tiles for t in (tile, gap)][:-1]))
    strip = Image.fromarray(np.vstack(rows))
    if labels:
        from PIL import ImageDraw

        head = Image.new("RGB", (strip.width, 14), "white")
        draw = ImageDraw.Draw(head)
        step = (strip.width + 4) // len(labels)
        for n, label in enumerate(labels):
            draw.text((n * step + 2, 1), label, fill="black")
        strip = Image.fromarray(np.vstack([np.asarray(head), np.asarray(strip)]))
    strip.save(out, optimize=True)
    return out


def f3(v: float | None) -> str:
    """A ratio to three decimals; "-" when not measured (no static pixels: no flicker figure)."""
    return "-" if v is None else f"{v:.3f}"


def markdown_table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join([*lines, *("| " + " | ".join(cells) + " |" for cells in rows)])
