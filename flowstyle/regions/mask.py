"""Temporally stable region masks: carry the mask along the optical flow (docs/regions.md).

A per-frame segmentation boils: its edge moves by a pixel or two from frame to
frame even where the person stands still, and a region edge that flickers is
worse than no region at all. So the mask is filtered along the motion, as the
texture is (Ruder et al. 2016's warp of the previous result, applied to the
mask): the previous stable mask is warped to frame t with the backward flow and
blended with the model's new mask, weighted by the flow's reliability,

    stable_t = c * a * warp(stable_{t-1}, flow_bwd) + (1 - c * a) * raw_t,

with ``a`` the carry (how much of the past is kept) and ``c`` the reliability
(docs/architecture.md, "Conventions"). Where the flow holds, the edge moves with the content and
the model's per-frame noise is averaged over about (1 + a) / (1 - a) frames;
where it fails (disocclusion, a cut) the new mask is taken as it is.

Masks here are float32 (H, W) in [0, 1] in OpenCV's layout, flows (H, W, 2), as
in :mod:`flowstyle.flow.reliability`: this runs on the CPU beside the flow.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..flow import FlowBackend, make_flow_backend
from ..flow.reliability import photometric_mask
from ..flow.remap import remap_flow

# Measured on chaplin.mp4 (60 frames, mask flicker in the 9 px edge band, scored with
# Farneback flow, not the tracker's): raw 0.19-0.22; carried with DIS-medium at half
# size 0.47x (carry 0.8) and 0.46x (0.9); with motion boundaries rejected 0.54x / 0.52x;
# DIS-fast 0.53x; DIS-medium at full size 0.38x but 4x the flow time.
DEFAULT_CARRY = 0.9


def stabilize_mask(raw: np.ndarray, prev_stable: np.ndarray | None, flow_bwd: np.ndarray | None,
                   reliability: np.ndarray | None = None, carry: float = DEFAULT_CARRY) -> np.ndarray:
    """One step of the flow-guided filter above.

    Args:
        raw: the model's mask of frame t, (H, W) float32 in [0, 1].
        prev_stable: the stable mask of frame t-1, or None at the start of a shot.
        flow_bwd: flow of frame t to frame t-1, (H, W, 2), or None.
        reliability: (H, W) in [0, 1], 1 where ``flow_bwd`` holds; None trusts it everywhere.
        carry: 0 returns ``raw``; towards 1 keeps more of the past.

    Returns:
        (H, W) float32 in [0, 1].
    """
    if prev_stable is None or flow_bwd is None or carry <= 0.0:
        return raw.astype(np.float32, copy=False)
    warped = remap_flow(prev_stable, flow_bwd)
    weight = np.float32(carry) * (reliability if reliability is not None else np.ones_like(raw))
    return (raw + weight * (warped - raw)).astype(np.float32, copy=False)


def levels(mask: np.ndarray, low: float = 0.25, high: float = 0.75) -> np.ndarray:
    """Map a probability to an alpha: 0 below ``low``, 1 above ``high``, linear between.

    A segmentation model's probability is not a matte: on chaplin.mp4 half the pixels
    the model calls person (p >= 0.5) have p < 0.9, and mixing by p leaves people
    partly stylized (mean |out - in| inside / outside 0.16 by p, 0.11 after this;
    no temporal step). The edge's softness is then ``--feather``'s to choose.
    """
    out = (mask - np.float32(low)) * np.float32(1.0 / (high - low))
    return np.clip(out, 0.0, 1.0, out=out)


def feather(mask: np.ndarray, px: float) -> np.ndarray:
    """Soften the mask's edge over about ``px`` pixels (a Gaussian of sigma ``px / 2``); 0 leaves it."""
    if px <= 0:
        return mask
    sigma = px / 2.0
    return cv2.GaussianBlur(mask, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


def edge_band(mask: np.ndarray, width: int = 9) -> np.ndarray:
    """Bool (H, W): pixels within ``width // 2`` of the 0.5 contour of ``mask`` (the band where region edges live)."""
    hard = (mask >= 0.5).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width))
    return cv2.dilate(hard, kernel) != cv2.erode(hard, kernel)


def mask_flicker(prev: np.ndarray, mask: np.ndarray, flow_bwd: np.ndarray, band: np.ndarray | None = None) -> float:
    """Mean |mask_t - warp(mask_{t-1})| (in ``band`` if given): how much the mask changes beyond the motion."""
    diff = np.abs(mask - remap_flow(prev, flow_bwd))
    return float(diff[band].mean()) if band is not None and band.any() else float(diff.mean())


class MaskTracker:
    """Stable masks of consecutive frames: own flow, :func:`stabilize_mask`, :func:`levels`, :func:`feather`.

    It follows the backward flow it is given (a render's temporal step's) or computes its
    own (DIS medium, half size) between consecutive frames; a loop that already has the
    flow and its reliability calls :meth:`step` instead. Not thread-safe: call it in frame order
    (a scene cut or a seek calls :meth:`reset`).
    """

    def __init__(self, carry: float = DEFAULT_CARRY, feather_px: float = 0.0, flow: FlowBackend | None = None) -> None:
        self.carry = carry
        self.feather_px = feather_px
        self.flow = flow or make_flow_backend("dis-medium", 0.5)
        self.reset()

    def working_size(self, width: int, height: int) -> tuple[int, int]:
        """(h, w) the carry works at for frames of ``width`` x ``height``: the flow's scale."""
        w, h = self.flow.working_size(width, height)
        return h, w

    def reset(self) -> None:
        self._prev_gray: np.ndarray | None = None
        self._prev_stable: np.ndarray | None = None

    def step(self, raw: np.ndarray, flow_bwd: np.ndarray | None, reliability: np.ndarray | None) -> np.ndarray:
        """The stable (unfeathered) mask of this frame from its raw mask and the flow to the previous frame."""
        self._prev_stable = stabilize_mask(raw, self._prev_stable, flow_bwd, reliability, self.carry)
        return self._prev_stable

    def __call__(self, rgb: np.ndarray, raw: np.ndarray, flow_bwd: np.ndarray | None = None) -> np.ndarray:
        """Feathered stable mask (H, W) float32 of the uint8 RGB frame (H, W, 3) that follows the last one,
        given the model's mask ``raw`` of it (any size; :meth:`working_size` saves a resize) and,
        when the caller has one, the backward flow of the frame at frame size (the temporal
        step's: the mask then moves exactly with the texture, and no second flow is computed).

        The carry works at the flow's scale (half size), not the frame's: the model's mask
        is 256 px wide to begin with, and at full size the warp, the photometric check and
        the blend cost 12 ms a frame under load on 2 cores, a third of what regions added
        to a render (docs/regions.md). ``levels`` and ``feather`` run at full size.
        """
        gray = self.flow.shrink(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        h, w = rgb.shape[:2]
        small = raw if raw.shape == gray.shape else cv2.resize(raw, (gray.shape[1], gray.shape[0]),
                                                               interpolation=cv2.INTER_AREA)
        flow = reliability = None
        if self._prev_gray is not None and self._prev_gray.shape == gray.shape:
            if flow_bwd is not None:  # the temporal step's flow (frame size): the texture's motion, reused
                sh, sw = gray.shape
                flow = cv2.resize(flow_bwd, (sw, sh), interpolation=cv2.INTER_AREA)
                flow = cv2.multiply(flow, (sw / w, sh / h, 0.0, 0.0))
            else:
                flow = self.flow.calc_small(gray, self._prev_gray)  # frame t -> t-1, in small pixels
            # No motion-boundary test: when people move, the mask edge IS a motion boundary,
            # and rejecting it would refuse the carry exactly where the mask boils. The
            # photometric test still rejects what the flow gets wrong (disocclusions).
            reliability = photometric_mask(flow, self._prev_gray, gray, motion_boundaries=False, softness=0.5,
                                           pixel_size=w / gray.shape[1])
        self._prev_gray = gray
        stable = levels(self.step(small, flow, reliability))
        return feather(cv2.resize(stable, (w, h), interpolation=cv2.INTER_LINEAR), self.feather_px)
