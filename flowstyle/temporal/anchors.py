"""Flow-guided temporal consistency without blur: texture anchors.

The obvious flow-guided blend ``out = a*M*warp(prev_out) + (1 - a*M)*stylized``
lowers E_warp only by blurring (docs/architecture.md, "Algorithms"): every frame resamples
the previous output again, so interpolation blur accumulates, and averaging two
textures that do not line up erases the texture a style is made of.

Here no pixel is ever averaged with another texture, and no texture is
resampled more than a few times. Each output pixel remembers an *anchor* (the
per-frame stylization of the frame in which that pixel was last seen new) and
the coordinate in that anchor its texture comes from. Following the backward
flow, a reliable pixel inherits its predecessor's anchor and coordinate (plus
the sub-pixel part of the flow); an unreliable one (disocclusion, motion
boundary, outside the frame) starts afresh from the current stylization. The
output samples each pixel from its anchor once, with cubic interpolation. A
frame with new pixels is stored as a new anchor: its output, with the new
pixels taken from the current stylization. So that the number of anchors stays
bounded, when no slot is free the anchor with the fewest pixels is folded into
that new anchor (its pixels move there at identity coordinates: one extra
resampling for them; the slivers revealed along occlusion edges are the ones
folded, while the bulk of a steady shot keeps its anchor). Finally the output
follows the current stylization's low frequencies (``track_sigma``): lighting
and colour changes come through, and a static scene cannot drift, while the
texture stays put.

This is the propagation idea of Ruder et al. (warped previous output as the
starting point) carried out as resampling from the source rather than from the
accumulated result, as docs/architecture.md ("Algorithms") suggests ("warp from the original per-frame
result rather than the accumulated one, keep high frequencies from a single
source").

Images here are uint8 RGB (H, W, 3), as decoded and encoded; flows float32
(H, W, 2) in pixels (OpenCV layout), masks float32 (H, W) in [0, 1]: this step
runs on the CPU with OpenCV, where ``cv2.remap`` is 3x faster than
``grid_sample`` for cubic sampling. All anchors live in one atlas (stacked
vertically, each with two replicated rows above and below for the cubic taps),
so a frame is sampled with a single remap whatever the number of anchors. The
atlas is uint8: the frames are 8-bit anyway, and a cubic remap that gathers from
several anchors is bound by memory traffic (5-6 ms from a float32 atlas of eight
640x360 anchors, 2.7 ms from uint8).
"""

from __future__ import annotations

import cv2
import numpy as np

from ..flow.remap import identity_grid, planes


def low_pass_difference(a: np.ndarray, b: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian low-pass (standard deviation ``sigma`` px) of ``a - b`` for uint8 images, float32 (H, W, 3).

    Computed at 1/(sigma/2) of the size and upsampled (cheap; the result is smooth).
    The first halving is done on uint8 (OpenCV's fast integer path: 0.19 ms against
    0.55 ms for converting the full frame to float first, at 640x360); its rounding
    averages out in the further reduction (noise ~0.05 of a level).
    """
    h, w = a.shape[:2]
    factor = max(1, int(sigma // 2))
    size = (max(1, w // factor), max(1, h // factor))

    def reduce(img: np.ndarray) -> np.ndarray:
        if factor >= 2:
            img = cv2.resize(img, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
        return cv2.resize(img.astype(np.float32), size, interpolation=cv2.INTER_AREA)

    small = reduce(a)
    small -= reduce(b)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


class TextureAnchors:
    """Stateful temporal step: ``step(stylized, flow_bwd, mask) -> output``.

    Args:
        max_anchors: anchors kept in memory (each one uint8 frame).
        track_sigma: the output follows the current stylization at scales above
            this many pixels (0 disables; then the texture and its colours are frozen).
        interpolation: OpenCV interpolation of the single resampling from the anchors.

    State per output pixel: the anchor it samples (``slot``, uint8) and where in that
    anchor (``cx``, ``cy``, float32). Inheriting along the flow is three nearest-
    neighbour remaps and sampling is a single remap of the atlas. The step is bound
    by memory traffic (each whole-frame NumPy operation streams ~1 MB), so it is
    written to make few passes: planar float32 maps, ``np.copyto(where=)`` instead of
    fancy indexing (5-10x slower here), the anchor index in uint8 and its atlas row
    by a lookup table. It costs a few ms at 640x360 (scripts/bench_flow.py).
    """

    PAD = 2  # rows replicated above and below each anchor, for cubic taps

    def __init__(self, max_anchors: int = 8, track_sigma: float = 32.0, interpolation: int = cv2.INTER_CUBIC) -> None:
        if not 2 <= max_anchors <= 254:
            raise ValueError("max_anchors must be in [2, 254]")
        self.max_anchors = max_anchors
        self.track_sigma = track_sigma
        self.interpolation = interpolation
        self.reset()

    def reset(self) -> None:
        """Forget everything (first frame, or a scene cut)."""
        self.atlas: np.ndarray | None = None  # (K * (H + 2 PAD), W, 3) uint8
        self.used = np.zeros(self.max_anchors, bool)
        self.shape: tuple[int, int] | None = None
        self.slot: np.ndarray | None = None  # (H, W) uint8: the anchor each pixel samples
        self.cx: np.ndarray | None = None  # (H, W) float32: x in that anchor
        self.cy: np.ndarray | None = None  # (H, W) float32: y in that anchor
        self._rows: np.ndarray | None = None  # (1, 256) float32: atlas row of each anchor's row 0

    def step(self, stylized: np.ndarray, flow_bwd: np.ndarray | None, mask: np.ndarray | None,
             static: np.ndarray | None = None) -> np.ndarray:  # static: used by the flow mode only
        """Output for the current frame.

        Args:
            stylized: per-frame stylization of this frame, uint8 (H, W, 3).
            flow_bwd: flow from this frame to the previous one (H, W, 2), or None to start over.
            mask: reliability of ``flow_bwd`` (H, W), > 0.5 reliable.
        """
        h, w = stylized.shape[:2]
        ix, iy = identity_grid(h, w)
        if flow_bwd is None or self.shape != (h, w):
            self.reset()
            self.shape = (h, w)
            stride = h + 2 * self.PAD
            self.atlas = np.empty((self.max_anchors * stride, w, 3), np.uint8)
            self._rows = (np.arange(256, dtype=np.float32) * stride + self.PAD).reshape(1, 256)
            self.slot = np.zeros((h, w), np.uint8)
            self.cx, self.cy = ix.copy(), iy.copy()
            self._store(0, stylized)
            return stylized.copy()
        # Inherit the predecessor's anchor and coordinate (nearest source pixel) plus
        # the sub-pixel remainder of the flow, so texture moves with sub-pixel accuracy.
        u, v = planes(flow_bwd)
        sx, sy = ix + u, iy + v
        rx, ry = np.rint(sx), np.rint(sy)
        near = dict(interpolation=cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        k = self.max_anchors
        # A source outside the frame reads anchor k (= new), whatever the mask says: a
        # mask computed at reduced size can miss the outermost column, and inheriting
        # the edge pixel's coordinate there smears it into streaks.
        slot = cv2.remap(self.slot, rx, ry, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=k)
        cx = cv2.remap(self.cx, rx, ry, **near)
        cy = cv2.remap(self.cy, rx, ry, **near)
        sx -= rx
        sy -= ry
        cx += sx
        cy += sy
        # The remainders add up where the flow is not a pure shift (zoom): keep each
        # coordinate within a pixel of its anchor so cubic taps stay inside it.
        np.clip(cy, -1.0, float(h), out=cy)
        new = (mask <= 0.5) | (slot == k)
        np.copyto(slot, k, where=new)  # new pixels counted in an extra bin (sampled from past the atlas: replaced below)
        counts = cv2.calcHist([slot], [0], None, [k + 1], [0, k + 1]).ravel()
        self.used[:] = counts[:k] > 0
        self.slot, self.cx, self.cy = slot, cx, cy
        out = self._sample()
        if counts[k]:
            np.copyto(out, stylized, where=new[..., None])
            self._new_anchor(out, new, counts[:k])
        if self.track_sigma > 0:
            out = cv2.add(out, low_pass_difference(stylized, out, self.track_sigma), dtype=cv2.CV_8U)  # saturates
        return out

    def _store(self, s: int, image: np.ndarray) -> None:
        h, p = image.shape[0], self.PAD
        top = s * (h + 2 * p)
        self.atlas[top:top + p] = image[:1]
        self.atlas[top + p:top + p + h] = image
        self.atlas[top + p + h:top + 2 * p + h] = image[-1:]
        self.used[s] = True

    def _sample(self) -> np.ndarray:
        """Every pixel from its own anchor, once: one remap into the atlas."""
        rows = cv2.LUT(self.slot, self._rows)  # float32 atlas row of each pixel's anchor
        rows += self.cy
        return cv2.remap(self.atlas, self.cx, rows, self.interpolation, borderMode=cv2.BORDER_REPLICATE)

    def _new_anchor(self, out: np.ndarray, new: np.ndarray, counts: np.ndarray) -> None:
        """Store this frame's output as an anchor; new pixels (and, if no slot was free,
        those of the smallest anchor, which it replaces) now sample it at identity."""
        free = np.flatnonzero(~self.used)
        target = int(free[0]) if free.size else int(np.argmin(counts))
        moved = new | (self.slot == target)
        ix, iy = identity_grid(*self.shape)
        np.copyto(self.slot, target, where=moved)
        np.copyto(self.cx, ix, where=moved)
        np.copyto(self.cy, iy, where=moved)
        self._store(target, out)
