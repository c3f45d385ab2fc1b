"""Temporal-consistency and quality metrics of a stylized video against its original.

* E_warp (Lai et al. 2018, "Learning Blind Video Temporal Consistency"): flow from
  the ORIGINAL frames, reliability from the forward-backward check (plus motion
  boundaries and frame edges, Ruder et al. 2016), and the masked mean squared
  difference of O_t and the warped O_{t-1}, RGB in [0, 1]; per frame and mean.
  Also computed for the original clip itself: its floor.
* flicker: mean absolute frame-to-frame change of the output on static pixels
  (reliable and moving less than 0.1 px); drift: relative change of the mean
  brightness of static pixels between the first and the last quarter of the clip.
* style loss (Gram matrices, relu1_1..relu5_1) against a style image, content
  loss (relu4_2) against the original frames, with the VGG16 loss network; detail:
  mean gradient magnitude (relative to a reference render, e.g. the per-frame one).
* pairs of frames across a scene cut (detected on the original) are skipped.
* timing: frame count, per-frame timestamps and audio duration of both files.

Frames are streamed; memory does not grow with clip length.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import av
import numpy as np
import torch

from .flow import make_flow_backend
from .flow.remap import remap_flow
from .io.reader import SizePolicy, VideoReader
from .scenes import CutDetector
from .losses import STYLE_LAYERS, content_loss, picture_grams, style_loss
from .temporal import estimate_motion

log = logging.getLogger(__name__)

STATIC_MOTION = 0.1  # px: a pixel moving less than this counts as static
EVAL_FLOW = "dis-medium"


@dataclass
class EvalReport:
    frames: int
    ewarp: float
    ewarp_original: float
    ewarp_reference: float | None
    flicker: float
    drift: float
    drift_original: float
    style_loss: float | None
    content_loss: float | None
    style_loss_reference: float | None
    content_loss_reference: float | None
    detail: float
    detail_ratio: float | None
    timing: dict
    per_frame: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722


def masked_mse(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    m = mask[..., None]
    return float((m * (a - b) ** 2).sum() / max(3.0 * float(mask.sum()), 1.0))


def mean_gradient(rgb: np.ndarray) -> float:
    return float(np.abs(np.diff(rgb, axis=1)).mean() + np.abs(np.diff(rgb, axis=0)).mean())


def drift(series: list[float]) -> float:
    """Relative change of the mean of the last quarter against the first quarter."""
    if len(series) < 4:
        return 0.0
    q = max(1, len(series) // 4)
    first, last = float(np.mean(series[:q])), float(np.mean(series[-q:]))
    return abs(last - first) / max(first, 1e-6)


def timestamps(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


def audio_seconds(path: Path) -> float | None:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return None
        s = c.streams.audio[0]
        return sum(f.samples for f in c.decode(s)) / s.codec_context.sample_rate


def style_grams(style_image: Path, width: int, vgg: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Gram matrices of the style image scaled to the frames' width (style scale 1)."""
    from .io.images import load_rgb

    return picture_grams(vgg, load_rgb(style_image), width)


def evaluate(original: str | Path, stylized: str | Path, style_image: str | Path | None = None,
             reference: str | Path | None = None, flow: str = EVAL_FLOW, loss_every: int = 4,
             progress: Callable[[int], None] | None = None) -> EvalReport:
    """Measure ``stylized`` against ``original`` (see the module docstring).

    Args:
        original: the input clip.
        stylized: the render to measure; the original is scaled to its size.
        style_image: painting for the style loss (optional).
        reference: another render of the same clip (e.g. per-frame) for detail and loss ratios.
        flow: flow method for E_warp.
        loss_every: compute VGG losses on every n-th frame (they cost ~0.3 s a frame at 640x360).
    """
    from .models.vgg import load_vgg16

    original, stylized = Path(original), Path(stylized)
    backend = make_flow_backend(flow)
    vgg = load_vgg16()
    readers = [VideoReader(stylized)]
    try:
        w, h = readers[0].size
        readers.append(VideoReader(original, SizePolicy(width=w, height=h)))
        if reference is not None:
            readers.append(VideoReader(reference, SizePolicy(width=w, height=h)))
        grams = style_grams(Path(style_image), w, vgg) if style_image else None
        per = {k: [] for k in ("ewarp", "ewarp_original", "ewarp_reference", "flicker", "static_luma",
                               "static_luma_original", "style", "content", "style_reference", "content_reference",
                               "detail", "detail_reference")}
        prev = None
        n = 0
        cuts = CutDetector()
        for n, frames in enumerate(zip(*readers)):
            out = frames[0].rgb.astype(np.float32) / 255
            orig = frames[1].rgb
            orig_f = orig.astype(np.float32) / 255
            ref = frames[2].rgb.astype(np.float32) / 255 if reference is not None else None
            per["detail"].append(mean_gradient(out))
            if ref is not None:
                per["detail_reference"].append(mean_gradient(ref))
            if cuts.is_cut(orig):
                prev = None  # nothing to warp across a scene cut (Lai et al. measure within shots)
            if prev is not None:
                p_out, p_orig, p_origf, p_ref = prev
                motion = estimate_motion(p_orig, orig, backend)
                m = motion.mask
                per["ewarp"].append(masked_mse(out, remap_flow(p_out, motion.flow_bwd), m))
                per["ewarp_original"].append(masked_mse(orig_f, remap_flow(p_origf, motion.flow_bwd), m))
                if ref is not None:
                    per["ewarp_reference"].append(masked_mse(ref, remap_flow(p_ref, motion.flow_bwd), m))
                static = (m > 0.5) & (np.hypot(motion.flow_bwd[..., 0], motion.flow_bwd[..., 1]) < STATIC_MOTION)
                if static.mean() > 0.01:
                    per["flicker"].append(float(np.abs(out - p_out)[static].mean()))
                    per["static_luma"].append(float(_luma(out)[static].mean()))
                    per["static_luma_original"].append(float(_luma(orig_f)[static].mean()))
            if n % loss_every == 0:
                _losses(vgg, grams, out, orig_f, ref, per)
            prev = (out, orig, orig_f, ref)
            if progress is not None:
                progress(n + 1)
        frames_count = n + 1
    finally:
        for r in readers:
            r.close()
    mean = lambda k: float(np.mean(per[k])) if per[k] else None  # noqa: E731
    detail = mean("detail") or 0.0
    det_ref = mean("detail_reference")
    timing = compare_timing(original, stylized)
    return EvalReport(
        frames=frames_count, ewarp=mean("ewarp") or 0.0, ewarp_original=mean("ewarp_original") or 0.0,
        ewarp_reference=mean("ewarp_reference"), flicker=mean("flicker") or 0.0,
        drift=drift(per["static_luma"]), drift_original=drift(per["static_luma_original"]),
        style_loss=mean("style"), content_loss=mean("content"),
        style_loss_reference=mean("style_reference"), content_loss_reference=mean("content_reference"),
        detail=detail, detail_ratio=detail / det_ref if det_ref else None, timing=timing,
        per_frame={k: v for k, v in per.items() if v},
    )


def _losses(vgg, grams, out, orig, ref, per) -> None:
    to_t = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None]  # noqa: E731
    layers = list(STYLE_LAYERS) + ["relu4_2"]
    with torch.inference_mode():
        target = vgg(to_t(orig), ["relu4_2"])
        for key, img in (("", out), ("_reference", ref)):
            if img is None:
                continue
            feats = vgg(to_t(img), layers)
            per["content" + key].append(float(content_loss(feats, target)))
            if grams is not None:
                per["style" + key].append(float(style_loss(feats, grams)))


def compare_timing(original: Path, stylized: Path) -> dict:
    """Frame counts, largest per-frame timestamp difference, and audio durations of both files."""
    a, b = timestamps(original), timestamps(stylized)
    n = min(len(a), len(b))
    diff = float(np.max(np.abs(np.asarray(a[:n]) - np.asarray(b[:n])))) if n else None
    return {"frames_original": len(a), "frames_stylized": len(b), "max_pts_difference_s": diff,
            "audio_original_s": audio_seconds(original), "audio_stylized_s": audio_seconds(stylized)}


def plot_ewarp(series: dict[str, list[float]], out: Path, title: str = "") -> Path:
    """Line plot of E_warp per frame for each named series."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 3.5), dpi=110)
    for name, values in series.items():
        ax.plot(range(1, len(values) + 1), values, label=name, linewidth=1.2)
    ax.set_xlabel("frame")
    ax.set_ylabel("E_warp (masked MSE, RGB in [0,1])")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
