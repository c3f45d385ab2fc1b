"""Flow-guided temporal consistency without blur: texture anchors.

The obvious flow-guided blend ``out = a*M*warp(prev_out) + (1 - a*M)*stylized``
lowers E_warp only by blurring (DESIGN.md section 3): every frame resamples
the previous output again, so interpolation blur accumulates, and averaging two
textures that do not line up erases the texture a style is made of.

Here no pixel is ever averaged with another texture, and no texture is
resampled more than a few times. Each output pixel remembers an *anchor* (the
per-frame stylization of the frame in which that pixel was last seen new) and
the coordinate in that anchor its texture comes from. Following the backward
flow, a reliable pixel inherits its predecessor's anchor and coordinate (plus
the sub-pixel part of the flow); an unreliable one (disocclusion, motion
boundary, outside the frame) starts afresh from the current stylization. The
output samples each pixel from its anchor once, with cubic interpolation. So
that the number of anchors stays bounded, the oldest ones are folded into the
current output (one extra resampling for those pixels, every ``max_anchors``
frames or so). Finally the output follows the current stylization's low
frequencies (``track_sigma``): lighting and colour changes come through, and a
static scene cannot drift, while the texture stays put.

This is the propagation idea of Ruder et al. (warped previous output as the
starting point) carried out as resampling from the source rather than from the
accumulated result, as DESIGN.md suggests ("warp from the original per-frame
result rather than the accumulated one, keep high frequencies from a single
source").

Images here are float32 (H, W, 3) in [0, 1], flows float32 (H, W, 2) in pixels
(OpenCV layout), masks float32 (H, W) in [0, 1]: this step runs on the CPU with
OpenCV, where ``cv2.remap`` is 3x faster than ``grid_sample`` for cubic sampling.
All anchors live in one atlas (stacked vertically, each with two replicated rows
above and below for the cubic taps), so a frame is sampled with a single remap
whatever the number of anchors.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..flow.remap import identity_grid


def low_pass(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass with standard deviation ``sigma`` pixels, computed at reduced size (cheap)."""
    h, w = image.shape[:2]
    factor = max(1, int(sigma // 2))
    small = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


class TextureAnchors:
    """Stateful temporal step: ``step(stylized, flow_bwd, mask) -> output``.

    Args:
        max_anchors: anchors kept in memory (each one frame, float32).
        track_sigma: the output follows the current stylization at scales above
            this many pixels (0 disables; then the texture and its colours are frozen).
    """

    PAD = 2  # rows replicated above and below each anchor, for cubic taps

    def __init__(self, max_anchors: int = 8, track_sigma: float = 16.0) -> None:
        if max_anchors < 2:
            raise ValueError("max_anchors must be at least 2")
        self.max_anchors = max_anchors
        self.track_sigma = track_sigma
        self.reset()

    def reset(self) -> None:
        """Forget everything (first frame, or a scene cut)."""
        self.atlas: np.ndarray | None = None  # (K * (H + 2 PAD), W, 3) float32
        self.used = np.zeros(self.max_anchors, bool)
        self.slot: np.ndarray | None = None  # (H, W) int16: each pixel's anchor
        self.map_x: np.ndarray | None = None  # (H, W) float32: coordinate in its anchor
        self.map_y: np.ndarray | None = None

    def step(self, stylized: np.ndarray, flow_bwd: np.ndarray | None, mask: np.ndarray | None) -> np.ndarray:
        """Output for the current frame.

        Args:
            stylized: per-frame stylization of this frame, (H, W, 3) float32 in [0, 1].
            flow_bwd: flow from this frame to the previous one (H, W, 2), or None to start over.
            mask: reliability of ``flow_bwd`` (H, W), > 0.5 reliable.
        """
        h, w = stylized.shape[:2]
        ix, iy = identity_grid(h, w)
        if flow_bwd is None or self.slot is None or self.slot.shape != (h, w):
            self.reset()
            self.atlas = np.empty((self.max_anchors * (h + 2 * self.PAD), w, 3), np.float32)
            self.slot = np.zeros((h, w), np.int16)
            self.map_x, self.map_y = ix.copy(), iy.copy()
            self._store(0, stylized)
            return stylized.copy()
        # Inherit the predecessor's anchor and coordinate (nearest source pixel), plus
        # the sub-pixel remainder of the flow, so texture moves with sub-pixel accuracy.
        sx, sy = ix + flow_bwd[..., 0], iy + flow_bwd[..., 1]
        rx, ry = np.rint(sx), np.rint(sy)
        near = dict(interpolation=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        slot = cv2.remap(self.slot, rx, ry, **near)
        map_x = cv2.remap(self.map_x, rx, ry, **near) + (sx - rx)
        map_y = cv2.remap(self.map_y, rx, ry, **near) + (sy - ry)
        new = mask <= 0.5
        self.used[:] = np.bincount(slot[~new].ravel(), minlength=self.max_anchors) > 0
        if new.any():
            free = int(np.flatnonzero(~self.used)[0])  # _fold_smallest always leaves one free
            slot[new] = free
            map_x[new], map_y[new] = ix[new], iy[new]
            self._store(free, stylized)
        self.slot, self.map_x, self.map_y = slot, map_x, map_y
        out = self._sample()
        if self.used.all():
            self._fold_smallest(out)
        if self.track_sigma > 0:
            out += low_pass(stylized - out, self.track_sigma)
        return np.clip(out, 0.0, 1.0, out=out)

    def _store(self, s: int, image: np.ndarray) -> None:
        h, p = image.shape[0], self.PAD
        top = s * (h + 2 * p)
        self.atlas[top:top + p] = image[:1]
        self.atlas[top + p:top + p + h] = image
        self.atlas[top + p + h:top + 2 * p + h] = image[-1:]
        self.used[s] = True

    def _sample(self) -> np.ndarray:
        """Every pixel from its own anchor, once, with cubic interpolation: one remap into the atlas."""
        h = self.slot.shape[0]
        ay = np.clip(self.map_y, -1.0, h) + (self.slot.astype(np.float32) * (h + 2 * self.PAD) + self.PAD)
        return cv2.remap(self.atlas, self.map_x, ay, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)

    def _fold_smallest(self, sampled: np.ndarray) -> None:
        """Free a slot: the pixels of the two anchors with the fewest pixels move to
        this frame's sampled output (stored as a new anchor), at identity coordinates.

        That resamples those pixels once more. Choosing the smallest anchors (slivers
        revealed along occlusion edges) keeps the bulk of the picture, the long-lived
        anchor of a steady shot, from being resampled again. The stored image is a
        whole picture, so cubic taps next to the folded pixels read real texture.
        """
        counts = np.bincount(self.slot.ravel(), minlength=self.max_anchors)
        keep, drop = np.argsort(counts, kind="stable")[:2]
        sel = (self.slot == keep) | (self.slot == drop)
        ix, iy = identity_grid(*self.slot.shape)
        self.map_x[sel], self.map_y[sel] = ix[sel], iy[sel]
        self.slot[sel] = keep
        self._store(int(keep), sampled)
        self.used[drop] = False
