"""Temporal-consistency and quality metrics of a stylized video against its original.

* E_warp (Lai et al. 2018, "Learning Blind Video Temporal Consistency"): flow from
  the ORIGINAL frames, reliability from the forward-backward check (plus motion
  boundaries and frame edges, Ruder et al. 2016), and the masked mean squared
  difference of O_t and the warped O_{t-1}, RGB in [0, 1]; per frame and mean.
  Also computed for the original clip itself: its floor.
* flicker: mean absolute frame-to-frame change of the output on static pixels
  (reliable and moving less than 0.1 px); drift: relative change of the mean
  brightness of static pixels between the first and the last quarter of the clip.
* style loss (Gram matrices, relu1_1..relu5_1; also each layer's share, where a
  network that loses the finest texture shows first) against a style image, content
  loss (relu4_2) against the original frames, with the VGG16 loss network; detail:
  mean gradient magnitude (relative to a reference render, e.g. the per-frame one);
  sharpness: mean variance of the luma Laplacian. Detail alone is bounded only from
  below, and seams and speckles raise it; sharpness is meant to be bounded on both
  sides against the per-frame render (blur lowers it, tearing raises it: docs/temporal.md).
* E_warp is scored with a flow chosen by the caller (``flow``): a render that
  propagates texture along one flow method looks better scored by that same method,
  so score it with another one too (DIS-medium and Farneback; docs/architecture.md, "Algorithms").
* pairs of frames across a scene cut (detected on the original) are skipped.
* timing: frame count, per-frame timestamps and audio duration of both files.

Frames are streamed; memory does not grow with clip length.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

import cv2

from .errors import InputError
from .flow import make_flow_backend
from .flow.remap import remap_flow
from .io.frames import Frame
from .io.probe import open_container
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
    flicker_reference: float | None
    drift: float
    drift_original: float
    style_loss: float | None
    content_loss: float | None
    style_loss_reference: float | None
    content_loss_reference: float | None
    detail: float
    detail_ratio: float | None
    sharpness: float
    sharpness_reference: float | None
    flow: str
    timing: dict
    per_frame: dict = field(default_factory=dict)
    style_layers: dict[str, float] = field(default_factory=dict)  # each STYLE_LAYERS term of style_loss
    style_layers_reference: dict[str, float] = field(default_factory=dict)

    @property
    def sharpness_ratio(self) -> float | None:
        """Sharpness against the reference render (1 = as sharp; < 1 blurrier; > 1 seams or noise)."""
        return self.sharpness / self.sharpness_reference if self.sharpness_reference else None

    def ratio(self, key: str) -> float | None:
        """``key`` (ewarp, flicker, style_loss, content_loss) of this render over the reference's."""
        mine, ref = getattr(self, key), getattr(self, f"{key}_reference")
        return mine / ref if mine is not None and ref else None

    def layer_ratio(self, layer: str) -> float | None:
        """The Gram loss at ``layer`` (e.g. relu1_1) of this render over the reference's."""
        mine, ref = self.style_layers.get(layer), self.style_layers_reference.get(layer)
        return mine / ref if mine is not None and ref else None

    def to_json(self) -> str:
        return json.dumps(asdict(self) | {"sharpness_ratio": self.sharpness_ratio}, indent=2)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722


def masked_mse(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    m = mask[..., None]
    return float((m * (a - b) ** 2).sum() / max(3.0 * float(mask.sum()), 1.0))


def mean_gradient(rgb: np.ndarray) -> float:
    return float(np.abs(np.diff(rgb, axis=1)).mean() + np.abs(np.diff(rgb, axis=0)).mean())


def laplacian_variance(rgb: np.ndarray) -> float:
    """Variance of the luma Laplacian of a uint8 RGB frame (OpenCV's 3x3 aperture), in 8-bit levels^2."""
    gray = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_32F).var())


def _static_flicker(out: np.ndarray, prev: np.ndarray, static: np.ndarray) -> float:
    return float(np.abs(out - prev)[static].mean())


def drift(series: list[float]) -> float:
    """Relative change of the mean of the last quarter against the first quarter."""
    if len(series) < 4:
        return 0.0
    q = max(1, len(series) // 4)
    first, last = float(np.mean(series[:q])), float(np.mean(series[-q:]))
    return abs(last - first) / max(first, 1e-6)


def timestamps(path: Path) -> list[float]:
    with open_container(path) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


def audio_seconds(path: Path) -> float | None:
    with open_container(path) as c:
        if not c.streams.audio:
            return None
        s = c.streams.audio[0]
        return sum(f.samples for f in c.decode(s)) / s.codec_context.sample_rate


def style_grams(style_image: Path, width: int, vgg: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Gram matrices of the style image scaled to the frames' width (style scale 1)."""
    from .io.images import load_rgb

    return picture_grams(vgg, load_rgb(style_image), width)


def gram_loss_per_layer(features: Mapping[str, torch.Tensor], target_grams: Mapping[str, torch.Tensor],
                        layers: Sequence[str] = STYLE_LAYERS) -> dict[str, torch.Tensor]:
    """The style loss split by layer: ``{layer: (B,) mean squared Gram difference}``, summing to
    :func:`flowstyle.losses.style_loss` with unit weights.

    ``features[layer]`` is (B, C, H, W) loss-network activations; ``target_grams[layer]`` is
    (1, C, C) (one style image) or (B, C, C). The finest layers (relu1_1, relu2_1) show a
    network that keeps a painting's colours and shapes but loses its brush texture.
    """
    return {layer: style_loss(features, target_grams, [layer]) for layer in layers}


def _check_pairing(stylized: VideoReader, original: Path, reference: Path | None) -> None:
    """Refuse clips that cannot be compared with ``stylized``; say how the others are paired.

    Frames are paired by index, never by time. Clips whose frames are shown at other
    times are allowed (a re-timed render), but said in one warning line after the pass
    (:class:`_Timing`); so is a different frame count (the extra frames are left out) and
    a different size of the same shape (the other clips are scaled to the stylized one,
    an info line). A different shape is refused: scaling it would distort every flow and loss.
    """
    (sw, sh), sname = stylized.size, stylized.path.name
    for path, role in [(original, "original")] + ([(reference, "reference")] if reference else []):
        with VideoReader(path) as r:
            w, h = r.size
        if abs(w / h - sw / sh) > 0.01 * (sw / sh):
            raise InputError(path, f"{role} clip is {w}x{h} but {sname} is {sw}x{sh}: different shapes "
                             "cannot be compared frame by frame")
        if (w, h) != (sw, sh):
            log.info("%s: %s clip is %dx%d, %s is %dx%d: scaled to %dx%d to compare",
                     path, role, w, h, sname, sw, sh, sw, sh)


class _Timing:
    """Whether index-paired frames are also shown at the same times (relative to each clip's first).

    The times, not the streams' average rates, are compared: an AVI with dropped (empty)
    frames, such as tree.avi (444 frames declared at 15 f/s, 68 decoded), reports 15 f/s,
    while its render, which keeps the 68 frames' timestamps, averages 2.28 f/s: the same
    pictures at the same times, which a rate check called mis-paired.
    """

    def __init__(self) -> None:
        self.first: list[float] | None = None
        self.prev: float | None = None
        self.off: tuple[int, list[float]] | None = None  # first frame shown at another time

    def add(self, n: int, frames: tuple[Frame, ...]) -> None:
        times = [f.time for f in frames]
        if self.first is None:
            self.first = times
        rel = [t - t0 for t, t0 in zip(times, self.first)]
        # Half the stylized clip's frame interval here: a render keeps its source's timestamps
        # to the time base's rounding, far inside it.
        tol = 0.5 * (times[0] - self.prev) if self.prev is not None else None
        if self.off is None and tol and max(abs(r - rel[0]) for r in rel) > tol:
            self.off = (n, rel)
        self.prev = times[0]

    def warn(self, paths: list[Path], roles: tuple[str, ...]) -> None:
        if self.off is None:
            return
        n, rel = self.off
        other = max(range(1, len(rel)), key=lambda i: abs(rel[i] - rel[0]))
        log.warning("%s: frame %d of the %s clip is shown at %.3f s, of %s at %.3f s: frames are paired by index, "
                    "not by time", paths[other], n, roles[other], rel[other], paths[0].name, rel[0])


def evaluate(original: str | Path, stylized: str | Path, style_image: str | Path | None = None,
             reference: str | Path | None = None, flow: str = EVAL_FLOW, loss_every: int = 4,
             progress: Callable[[int], None] | None = None) -> EvalReport:
    """Measure ``stylized`` against ``original`` (see the module docstring).

    Args:
        original: the input clip.
        stylized: the render to measure; the original is scaled to its size.
        style_image: painting for the style loss (optional).
        reference: another render of the same clip (e.g. per-frame) for detail, sharpness,
            flicker and loss ratios; measured in the same pass, with the same flow.
        flow: flow method E_warp is scored with (``flowstyle.flow.FLOW_METHODS``).
        loss_every: compute VGG losses on every n-th frame (they cost ~0.3 s a frame at
            640x360); 0 skips them.

    Raises:
        FlowstyleError: an unknown flow method, or clips of different shapes.
    """
    original, stylized = Path(original), Path(stylized)
    reference = Path(reference) if reference is not None else None
    backend = make_flow_backend(flow)
    vgg = None
    if loss_every > 0:
        from .losses import load_vgg16

        vgg = load_vgg16()
    readers = [VideoReader(stylized)]
    try:
        _check_pairing(readers[0], original, reference)
        w, h = readers[0].size
        readers.append(VideoReader(original, SizePolicy(width=w, height=h)))
        if reference is not None:
            readers.append(VideoReader(reference, SizePolicy(width=w, height=h)))
        grams = style_grams(Path(style_image), w, vgg) if style_image and vgg is not None else None
        per = {k: [] for k in ("ewarp", "ewarp_original", "ewarp_reference", "flicker", "flicker_reference",
                               "static_luma", "static_luma_original", "style", "content", "style_reference",
                               "content_reference", "detail", "detail_reference", "sharpness", "sharpness_reference")}
        prev = None
        n = 0
        cuts = CutDetector()
        iterators = [iter(r) for r in readers]
        timing = _Timing()
        for n, frames in enumerate(zip(*iterators)):
            timing.add(n, frames)
            out = frames[0].rgb.astype(np.float32) / 255
            orig = frames[1].rgb
            orig_f = orig.astype(np.float32) / 255
            ref = frames[2].rgb.astype(np.float32) / 255 if reference is not None else None
            per["detail"].append(mean_gradient(out))
            per["sharpness"].append(laplacian_variance(frames[0].rgb))
            if ref is not None:
                per["detail_reference"].append(mean_gradient(ref))
                per["sharpness_reference"].append(laplacian_variance(frames[2].rgb))
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
                    per["flicker"].append(_static_flicker(out, p_out, static))
                    if ref is not None:
                        per["flicker_reference"].append(_static_flicker(ref, p_ref, static))
                    per["static_luma"].append(float(_luma(out)[static].mean()))
                    per["static_luma_original"].append(float(_luma(orig_f)[static].mean()))
            if vgg is not None and n % loss_every == 0:
                _losses(vgg, grams, out, orig_f, ref, per)
            prev = (out, orig, orig_f, ref)
            if progress is not None:
                progress(n + 1)
        frames_count = n + 1
        timing.warn([r.path for r in readers], ("stylized", "original", "reference"))
        left = [(r.path, role) for r, it, role in zip(readers, iterators, ("stylized", "original", "reference"))
                if next(it, None) is not None]
        for path, role in left:
            log.warning("%s: the %s clip has more frames than the others: frames were paired by index "
                        "and its last ones were left out (%d compared)", path, role, frames_count)
    finally:
        for r in readers:
            r.close()
    mean = lambda k: float(np.mean(per[k])) if per.get(k) else None  # noqa: E731
    layers = lambda key: {n: mean(f"style_{n}{key}") for n in STYLE_LAYERS if per.get(f"style_{n}{key}")}  # noqa: E731
    detail = mean("detail") or 0.0
    det_ref = mean("detail_reference")
    timing = compare_timing(original, stylized)
    return EvalReport(
        frames=frames_count, ewarp=mean("ewarp") or 0.0, ewarp_original=mean("ewarp_original") or 0.0,
        ewarp_reference=mean("ewarp_reference"), flicker=mean("flicker") or 0.0,
        flicker_reference=mean("flicker_reference"),
        drift=drift(per["static_luma"]), drift_original=drift(per["static_luma_original"]),
        style_loss=mean("style"), content_loss=mean("content"),
        style_loss_reference=mean("style_reference"), content_loss_reference=mean("content_reference"),
        detail=detail, detail_ratio=detail / det_ref if det_ref else None,
        sharpness=mean("sharpness") or 0.0, sharpness_reference=mean("sharpness_reference"), flow=flow,
        timing=timing, per_frame={k: v for k, v in per.items() if v},
        style_layers=layers(""), style_layers_reference=layers("_reference"),
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
                by_layer = gram_loss_per_layer(feats, grams)
                for layer, value in by_layer.items():
                    per.setdefault(f"style_{layer}{key}", []).append(float(value))
                per["style" + key].append(float(sum(by_layer.values())))


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
