"""Example-based keyframe propagation: painted keys carried along the flow to every frame of a shot.

The algorithm (docs/keyframes.md has the measurements that chose each part):

- **A place in the key per pixel.** Each direction's pass keeps, for every pixel of the
  current frame, *where* in the key it comes from. Stepping to the next frame advects these
  coordinates along the flow (``C_t(x) = C_{t-1}(x + flow_t(x))``, bilinear on the smooth
  coordinate field, a 3x3 median against the flow's noise), never the picture: a chain of
  warps blurs a little more every frame, while a pixel that is one sample of the key is as
  sharp 40 frames away as 1. The key is sampled with Lanczos-4: nearest sampling keeps every
  stroke as painted but moves it in whole-pixel steps (2.3x the per-frame E_warp on a slow
  pan), bilinear and bicubic blur more.
- **What the flow cannot carry is copied from the key.** Where the flow leaves the frame or
  fails both Ruder's forward-backward check and brightness constancy (a disocclusion, a new
  object), where the key frame no longer looks like the pixel at its place (drift: EbSynth's
  temporal guide, Jamriska et al., "Stylizing Video by Example", SIGGRAPH 2019), or where
  the chain has stretched, squeezed or scattered the key's strokes, the pixels get a new
  place: the 8x8 block of the key whose frame content best matches theirs (16x16 windows at
  quarter size, plus Jamriska's positional guide), neighbouring blocks taking each other's
  copy where it fits nearly as well (PatchMatch's propagation step, Barnes et al. 2009) so
  the copy is a region of strokes, not a mosaic. The arbitrary network with the key as its
  style picture was tried first: its texture is its own, not the painter's (1.6-2.2x the
  key's Laplacian energy on an oil-painted key). A renewed copy where the flow still carries
  the pixel fades in over a few frames instead of popping. Keys that a network painted are the
  exception (``fresh``): the network paints any frame in their look, so where neither pass
  follows its key frame the picture shows its painting of that frame; copies there made a
  mosaic of the keys' strokes on a person running in between two keys (chaplin.mp4).
- **Two keys, no pop.** Between keys ``a`` and ``b`` the forward pass from ``a`` and the
  backward pass from ``b`` are blended with weights that move smoothly from ``a`` to ``b`` (by
  distinct pictures: a held frame holds the output too) and that favour, per pixel, a pass
  that follows its key frame over one that shows a copy. A linear blend of two textures that
  do not line up averages their strokes away, so the blend is split in two bands: the base
  (a Gaussian low-pass) is mixed linearly, the detail is mixed and given back the local
  contrast its sources had (the histogram-preserving blend of Heitz and Neyret 2018 that
  Jamriska et al. use; the gain is measured, so aligned textures are not amplified).
- **The finest detail given back.** Sampling the key at a fractional place cannot keep the
  top of its spectrum: any interpolator at half a pixel's phase cancels the Nyquist
  frequency, so Lanczos-4 keeps 0.64-0.76x of the key's power above 0.45 cycles/px (most of
  all on the diagonals), and the blend of two keys loses more there. The bands above hold
  their RMS, yet the Laplacian energy (what the eye reads as crispness) fell to 0.71x half
  way between two oil-painted keys of tree.avi. So each propagated picture's top octave
  (the picture less its 3x3 binomial blur) is raised until its luma Laplacian energy is the
  keys' (mixed as the passes are), by one gain per picture in [1, ``max_gain``]: it changes
  slowly from frame to frame, so it does not flicker (0.95-1.00x sharpness, E_warp 1.03-1.16x).

Pure NumPy/OpenCV over pictures held by the caller; no I/O (the render's
:mod:`flowstyle.keyed` drives it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError
from ..flow import make_flow_backend
from ..flow.backends import flow_settings_problem
from ..flow.reliability import reliability_mask
from ..flow.remap import identity_grid
from ..tensors import to_uint8
from .stabilizer import DEFAULT_TEMPORAL_FLOW

log = logging.getLogger(__name__)

SAMPLING = {"nearest": cv2.INTER_NEAREST, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC,
            "lanczos": cv2.INTER_LANCZOS4}
PATCH = 4  # a copy's match compares windows of 4x4 pixels of the quarter-size picture: 16x16 px
CELL = 8  # px: a copy takes the key in blocks of this size
COHERENCE_ROUNDS = 2
BANDS = (0.6, 1.2, 2.4, 4.8)  # Gaussian sigmas (px) splitting a picture into detail bands for the blend


@dataclass(frozen=True)
class PropagationOptions:
    """How painted keys are carried to the frames between them.

    Attributes:
        flow: optical flow between neighbouring frames (a ``--flow`` method; the render's default).
        fill_weight: weight of a pixel that shows a copy against one that follows its key frame,
            when the two directions are blended (a followed stroke wins where one exists).
        feather: Gaussian sigma (px) of the blend weights, so a seam between what a pass follows
            and what it copied is a soft transition.
        max_gain: the most the blend's detail is amplified to keep its sources' contrast.
        position_weight: how much a copy prefers a patch of the key near the pixel's own place.
        max_stretch: how far the map may stretch or squeeze the key (either way) before a
            pixel is copied anew.
        scatter: px a pixel's place in the key may stray from its neighbours' (5x5 median)
            before it is copied anew.
        sampling: how the key is sampled at a pixel's place: lanczos (Lanczos-4), cubic, linear,
            or nearest (its pixels as painted, moving in whole-pixel steps).
        fade_frames: frames over which a renewed copy fades in where the flow still carries the pixel.
        fade_lost: the same where the flow lost the pixel (0: at once); 2 cut chaplin's E_warp by
            13% against showing it at once.
        coherence: how much worse (relative) a neighbour's copy may fit and still be taken.
        photometric: luma difference (fraction of full scale) under which a pixel warped from
            the previous frame counts as the same content.
        drift: luma difference between a pixel and its place in its source's frame beyond
            which it is painted anew.
    """

    flow: str = DEFAULT_TEMPORAL_FLOW
    fill_weight: float = 0.02
    feather: float = 2.0
    max_gain: float = 2.0
    position_weight: float = 0.5
    coherence: float = 0.5
    max_stretch: float = 1.6
    scatter: float = 1.5
    sampling: str = "lanczos"
    fade_frames: int = 4
    fade_lost: int = 2
    photometric: float = 0.06
    drift: float = 0.25

    def __post_init__(self) -> None:
        problem = flow_settings_problem(self.flow, 1.0)
        if problem is not None:
            raise ConfigError("flow", problem[1])
        if not 0.0 < self.fill_weight <= 1.0:
            raise ConfigError("fill_weight", f"must be in (0, 1], got {self.fill_weight}")
        if self.sampling not in SAMPLING:
            raise ConfigError("sampling", f"unknown sampling '{self.sampling}'; use one of {', '.join(SAMPLING)}")
        if self.fade_frames < 1:
            raise ConfigError("fade_frames", f"must be 1 or more, got {self.fade_frames}")
        if self.feather < 0 or self.max_gain < 1.0 or self.position_weight < 0:
            raise ConfigError("propagation", "feather >= 0, max_gain >= 1, position_weight >= 0")


def smoothstep(u: float) -> float:
    u = min(1.0, max(0.0, u))
    return u * u * (3.0 - 2.0 * u)


class KeyIndex:
    """Where in a key's frame a patch of another frame is best copied from (a renewed pixel's copy).

    Each patch is described by its 16x16 px neighbourhood at a quarter of the size (4x4 RGB)
    plus a small positional term, so that of two equally good matches the nearer one wins
    (Jamriska et al.'s positional guide). Exact nearest neighbours by one matrix product:
    deterministic, where an approximate index (FLANN) is randomised.
    """

    def __init__(self, frame: np.ndarray, options: PropagationOptions) -> None:
        self.o = options
        self.shape = frame.shape[:2]
        small = self.small(frame)
        self.small_shape = small.shape[:2]
        feats, centres = self.windows(small)
        self.feats, self.centres = feats, centres
        self.norms = (feats * feats).sum(axis=1)

    def small(self, frame: np.ndarray) -> np.ndarray:
        h, w = self.shape
        rgb = frame.astype(np.float32) * (np.float32(1 / 255) if frame.dtype == np.uint8 else np.float32(1))
        return cv2.resize(rgb, (max(PATCH, w // CELL), max(PATCH, h // CELL)), interpolation=cv2.INTER_AREA)

    def windows(self, small: np.ndarray, at: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Features of the PATCH x PATCH windows of ``small`` (all, or centred at ``at``: (N, 2) x, y
        in small pixels) and their centres in full-size pixels."""
        sh, sw = small.shape[:2]
        h, w = self.shape
        if at is None:
            ys, xs = np.mgrid[0:sh - PATCH + 1, 0:sw - PATCH + 1]
            x0, y0 = xs.ravel(), ys.ravel()
        else:
            x0 = np.clip(at[:, 0] - PATCH // 2, 0, sw - PATCH)
            y0 = np.clip(at[:, 1] - PATCH // 2, 0, sh - PATCH)
        dy, dx = np.mgrid[0:PATCH, 0:PATCH]
        patches = small[y0[:, None, None] + dy, x0[:, None, None] + dx]  # (N, P, P, 3)
        cx = (x0 + PATCH / 2) * (w / sw)
        cy = (y0 + PATCH / 2) * (h / sh)
        pos = np.stack([cx / w, cy / h], axis=1) * self.o.position_weight
        feats = np.concatenate([patches.reshape(len(x0), -1), pos], axis=1).astype(np.float32)
        return feats, np.stack([cx, cy], axis=1).astype(np.float32)

    def match(self, frame: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For the pixels of ``mask``: coordinates in the key that copy whole cells (CELL x CELL px)
        from their best matches, (x, y) float32 arrays over the mask's pixels."""
        h, w = self.shape
        ys, xs = np.nonzero(mask)
        cell_y, cell_x = ys // CELL, xs // CELL
        cells, inverse = np.unique(cell_y * (w // CELL + 1) + cell_x, return_inverse=True)
        qy, qx = cells // (w // CELL + 1), cells % (w // CELL + 1)
        small = self.small(frame)
        sh, sw = small.shape[:2]
        at = np.stack([(qx * CELL + CELL / 2) * sw / w, (qy * CELL + CELL / 2) * sh / h], axis=1)
        feats, centres = self.windows(small, np.rint(at).astype(np.intp))
        best = np.empty(len(cells), np.intp)
        cost = np.empty(len(cells), np.float32)
        for i in range(0, len(cells), 1024):  # bounded memory: 1024 x windows distances at a time
            d = self.norms[None, :] - 2.0 * (feats[i:i + 1024] @ self.feats.T)
            best[i:i + 1024] = np.argmin(d, axis=1)
            cost[i:i + 1024] = np.take_along_axis(d, best[i:i + 1024, None], axis=1)[:, 0]
        cost += (feats * feats).sum(axis=1)
        shift = self.centres[best] - centres  # per cell: key position minus frame position
        shift = self.cohere(qx, qy, feats, centres, shift, cost)
        return xs + shift[inverse, 0], ys + shift[inverse, 1]

    def cohere(self, qx: np.ndarray, qy: np.ndarray, feats: np.ndarray, centres: np.ndarray, shift: np.ndarray,
               cost: np.ndarray) -> np.ndarray:
        """Let each cell take a neighbouring cell's shift when it fits nearly as well, so a copy takes
        whole regions of the key rather than a mosaic of unrelated cells (PatchMatch's propagation
        step, Barnes et al. 2009): a mosaic's seams read as lace across a new object."""
        h, w = self.shape
        gw, gh = -(-w // CELL) + 2, -(-h // CELL) + 2  # every cell, and a border of none around them
        grid = np.full((gh, gw), -1, np.intp)
        grid[qy + 1, qx + 1] = np.arange(len(qx))
        sh, sw = self.small_shape
        cols = sw - PATCH + 1
        for _ in range(COHERENCE_ROUNDS):
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                nb = grid[qy + 1 + dy, qx + 1 + dx]
                has = nb >= 0
                cand = np.where(has[:, None], shift[np.maximum(nb, 0)], shift)
                key = centres + cand
                x0 = np.rint(key[:, 0] * sw / w - PATCH / 2).astype(np.intp)
                y0 = np.rint(key[:, 1] * sh / h - PATCH / 2).astype(np.intp)
                ok = has & (x0 >= 0) & (x0 <= sw - PATCH) & (y0 >= 0) & (y0 <= sh - PATCH)
                idx = np.where(ok, y0 * cols + x0, 0)
                diff = feats - self.feats[idx]
                c = (diff * diff).sum(axis=1)
                take = ok & (c <= cost * (1.0 + self.o.coherence))
                shift[take], cost[take] = cand[take], c[take]
        return shift


class Pass:
    """One direction's propagation from one key (see the module docstring).

    Every pixel is a sample of the key, at ``(cx, cy)``; ``matched`` marks the pixels whose
    place was found by a copy (a patch match) rather than followed from the key frame.
    """

    def __init__(self, key: np.ndarray, frame: np.ndarray, options: PropagationOptions) -> None:
        h, w = key.shape[:2]
        xs, ys = identity_grid(h, w)
        self.key = key
        # The key frame's luma: a pixel whose place in the key frame no longer looks like it
        # has drifted off its stroke (EbSynth's temporal guide, Jamriska et al. 2019).
        self.guide = gray8(frame)
        self.index = KeyIndex(frame, options)
        self.o = options
        self.key_energy = band_energy(key)
        self.matched = np.zeros((h, w), np.float32)  # float32: cv2.remap moves it
        self.cx, self.cy = xs.copy(), ys.copy()
        self.area = np.ones((h, w), np.float32)  # the key's area under each pixel (1: as painted)
        self.fade = np.ones((h, w), np.float32)  # 1: the pixel shows its copy; below: fading to it
        self._previous: np.ndarray | None = None  # what the pixels showed one frame back, moved here
        self.shown = key
        self.fills = 0  # steps on which pixels were renewed

    def step(self, frame: np.ndarray, prev_luma: np.ndarray, flow_back: np.ndarray, flow_ahead: np.ndarray) -> None:
        """Move to ``frame``: ``flow_back`` maps its pixels to the pass's previous frame (whose
        luma is ``prev_luma``), ``flow_ahead`` the previous frame's pixels to this one."""
        h, w = self.cx.shape
        xs, ys = identity_grid(h, w)
        sx, sy = xs + flow_back[..., 0], ys + flow_back[..., 1]
        border = cv2.BORDER_REPLICATE
        cx = cv2.remap(self.cx, sx, sy, cv2.INTER_LINEAR, borderMode=border)
        cy = cv2.remap(self.cy, sx, sy, cv2.INTER_LINEAR, borderMode=border)
        matched = cv2.remap(self.matched, sx, sy, cv2.INTER_NEAREST, borderMode=border)
        fade = cv2.remap(self.fade, sx, sy, cv2.INTER_NEAREST, borderMode=border)
        previous = cv2.remap(self.shown, sx, sy, cv2.INTER_LINEAR, borderMode=border)
        # Where neighbours map to far-apart places (a copy's cell edge, a fold), interpolated
        # coordinates land between them: take the nearest neighbour's there.
        nx = cv2.remap(self.cx, sx, sy, cv2.INTER_NEAREST, borderMode=border)
        ny = cv2.remap(self.cy, sx, sy, cv2.INTER_NEAREST, borderMode=border)
        torn = (np.abs(cx - nx) + np.abs(cy - ny)) > 2.0
        cx[torn], cy[torn] = nx[torn], ny[torn]
        # A 3x3 median of the coordinates each step: the flow's noise would otherwise pile up
        # in them along the chain and scramble the key's strokes; edges of the map survive it.
        cx, cy = cv2.medianBlur(cx, 3), cv2.medianBlur(cy, 3)
        luma = gray8(frame)
        lost = self._lost(luma, prev_luma, sx, sy, flow_back, flow_ahead)
        worn = (self._drifted(luma, cx, cy) & (matched < 0.5)) | self._distorted(sx, sy, flow_back, cx, cy)
        new = lost | worn
        if new.any():
            # New pixels next to carried ones first continue their neighbours' copy (the strip a
            # pan brings in each frame would otherwise become a stripe of unrelated copies);
            # where the continued place does not look like the pixel, a block of the key that does.
            cx, cy, continued = self._continue(luma, cx, cy, new)
            rest = new & ~continued
            if rest.any():
                cx[rest], cy[rest] = self.index.match(frame, rest)
            matched[new] = 1.0
            self.area[new] = 1.0
            self.fills += 1
        # A pixel the flow still carries but whose copy is renewed (drift, stretch) fades from what
        # it showed to its new copy over ``fade_frames``: a cut there would pop. A pixel the flow
        # lost (a disocclusion) has nothing to fade from: its copy shows at once.
        fade = np.minimum(fade + np.float32(1.0 / self.o.fade_frames), 1.0)
        fade[worn & ~lost] = 0.0
        fade[lost] = 1.0 if self.o.fade_lost <= 0 else 1.0 - 1.0 / self.o.fade_lost
        self.matched, self.cx, self.cy, self.fade, self._previous = matched, cx, cy, fade, previous
        self.shown = self.picture()

    def _continue(self, luma: np.ndarray, cx: np.ndarray, cy: np.ndarray, new: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Places for ``new`` pixels that continue a known neighbour's (its place plus the step to
        the pixel), grown ring by ring up to CELL px deep, where the key frame there still looks like
        the pixel; returns the maps and the pixels so placed."""
        h, w = luma.shape
        known = ~new
        placed = np.zeros_like(new)
        blurred = cv2.blur(luma, (3, 3))
        for _ in range(CELL):
            grown = np.zeros_like(new)
            for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
                # candidate at (y, x) from the neighbour at (y - dy, x - dx)
                src = (slice(max(0, -dy), h - max(0, dy)), slice(max(0, -dx), w - max(0, dx)))
                dst = (slice(max(0, dy), h - max(0, -dy)), slice(max(0, dx), w - max(0, -dx)))
                take = ~known[dst] & ~grown[dst] & known[src]
                if not take.any():
                    continue
                tx, ty = cx[dst], cy[dst]
                tx[take] = cx[src][take] + dx
                ty[take] = cy[src][take] + dy
                grown[dst] |= take
            if not grown.any():
                break
            inside = (cx >= 0) & (cx <= w - 1) & (cy >= 0) & (cy <= h - 1)
            guide = cv2.remap(cv2.blur(self.guide, (3, 3)), cx, cy, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
            fits = inside & (cv2.absdiff(guide, blurred) <= self.o.drift * 255.0)
            grown &= fits
            known |= grown
            placed |= grown
        return cx, cy, placed

    def _lost(self, luma: np.ndarray, prev_luma: np.ndarray, sx: np.ndarray, sy: np.ndarray,
              flow_back: np.ndarray, flow_ahead: np.ndarray) -> np.ndarray:
        """Pixels the flow cannot carry to this frame: outside the previous frame, or failing both
        Ruder's forward-backward check and brightness constancy (flat areas fail the first with
        noisy flow, yet any sample of a flat stroke is right)."""
        h, w = luma.shape
        # Half a pixel of slack: a flow's sub-pixel noise at the frame's edge is not new content.
        inside = (sx >= -0.5) & (sx <= w - 0.5) & (sy >= -0.5) & (sy <= h - 0.5)
        warped = cv2.remap(prev_luma, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        constant = cv2.absdiff(warped, luma) <= self.o.photometric * 255.0
        return ~(inside & (constant | (reliability_mask(flow_back, flow_ahead, motion_boundaries=False) > 0.5)))

    def _drifted(self, luma: np.ndarray, cx: np.ndarray, cy: np.ndarray) -> np.ndarray:
        """Pixels whose place in the key frame no longer looks like them: drift along a long chain
        (EbSynth's temporal guide). Only meaningful for pixels that follow the key frame: a
        copy is the best match there is, not an exact one."""
        guide = cv2.remap(self.guide, cx, cy, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REPLICATE)
        return cv2.absdiff(cv2.blur(guide, (3, 3)), cv2.blur(luma, (3, 3))) > self.o.drift * 255.0

    def _distorted(self, sx: np.ndarray, sy: np.ndarray, flow_back: np.ndarray, cx: np.ndarray, cy: np.ndarray
                   ) -> np.ndarray:
        """Pixels where the chain of flows has stretched or squeezed the key's area beyond
        ``max_stretch`` (either way, in length): there the key's strokes would be drawn at another
        size than the painter made them (a zoom, an object growing out of a hole), so they are
        copied anew at the key's own scale. The area follows the pixels: each step multiplies it
        by the flow's Jacobian determinant (measured on the flow, so a seam between two copies of
        the key is not a stretch)."""
        gxx = cv2.Sobel(flow_back[..., 0], cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
        gxy = cv2.Sobel(flow_back[..., 0], cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
        gyx = cv2.Sobel(flow_back[..., 1], cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
        gyy = cv2.Sobel(flow_back[..., 1], cv2.CV_32F, 0, 1, ksize=3, scale=0.125)
        det = (1.0 + gxx) * (1.0 + gyy) - gxy * gyx
        area = cv2.remap(self.area, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) * np.abs(det)
        self.area = area
        lim = self.o.max_stretch
        out = (area > lim * lim) | (area < 1.0 / (lim * lim))
        # The map itself, too: where the flow is noisy (a deforming object) the coordinates scatter
        # and neighbouring pixels sample the key far apart, scrambling its strokes, which the smooth
        # Jacobian misses. Scatter is the distance to the 5x5 median of the map: a seam between
        # two copies of the key is a step, which the median keeps.
        scatter = np.abs(cx - cv2.medianBlur(cx, 5)) + np.abs(cy - cv2.medianBlur(cy, 5))
        out |= scatter > self.o.scatter
        return out

    def picture(self) -> np.ndarray:
        """The current frame: each pixel a sample of the key (``sampling``), or on its way to one."""
        sample = cv2.remap(self.key, self.cx, self.cy, SAMPLING[self.o.sampling], borderMode=cv2.BORDER_REPLICATE)
        if self._previous is None or bool((self.fade >= 1.0).all()):
            return sample
        t = self.fade[..., None]
        mixed = self._previous.astype(np.float32) * (1.0 - t) + sample.astype(np.float32) * t
        return to_dtype(mixed, sample.dtype) if sample.dtype == np.uint8 else mixed.astype(sample.dtype)

    def wanted(self) -> np.ndarray:
        """The key's band energies where each pixel comes from (see :func:`blend`)."""
        return cv2.remap(self.key_energy, self.cx, self.cy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    def copied(self) -> np.ndarray:
        """True where a copy placed the pixel, False where it follows the key frame."""
        return self.matched > 0.5

    def weight(self, fill_weight: float) -> np.ndarray:
        """1 where a pixel follows the key frame, ``fill_weight`` where a copy placed it."""
        return np.where(self.copied(), np.float32(fill_weight), np.float32(1.0))


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT) if sigma > 0 else x


def bands(picture: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """``picture`` split into detail bands (differences of Gaussians at BANDS) and the base below them."""
    f = picture.astype(np.float32)
    out, previous = [], f
    for sigma in BANDS:
        low = _blur(f, sigma)
        out.append(previous - low)
        previous = low
    return out, previous


def band_energy(picture: np.ndarray) -> np.ndarray:
    """Local RMS (H, W, len(BANDS)) of each detail band of ``picture``: what a pixel copied from it should keep."""
    return np.stack([_energy(d, sigma) for d, sigma in zip(bands(picture)[0], BANDS)], axis=2)


def _energy(detail: np.ndarray, sigma: float) -> np.ndarray:
    return np.sqrt(_blur((detail * detail).mean(axis=2), 2 * sigma))


def blend(a: np.ndarray, b: np.ndarray | None, wa: np.ndarray | None, wb: np.ndarray | None,
          options: PropagationOptions, want_a: np.ndarray, want_b: np.ndarray | None = None) -> np.ndarray:
    """Mix pictures ``a`` and ``b`` (H, W, 3, any dtype) by weights ``wa``, ``wb`` (H, W), keeping detail;
    ``b`` None: ``a`` alone.

    Float32 result in the pictures' scale. The base (below the coarsest of BANDS) is mixed
    linearly; each detail band is mixed and scaled to the local contrast the key has in that
    band where the pixels come from (``want_a``, ``want_b``: :func:`band_energy` of each key,
    carried with the pixels), with a gain in [1, ``max_gain``]. That gives back what two
    unaligned textures lose when they are averaged (a linear mix kept 0.51x of two oil-painted
    keys' Laplacian energy, one band 0.80x, three bands nearly all) and what Lanczos-4 loses
    at fractional places; it follows the key, so it does not flicker with the sub-pixel phase
    (the histogram-preserving blend of Heitz and Neyret 2018, per band, with measured gains).
    """
    da, base = bands(a)
    if b is None:
        mixed, wanted = da, [want_a[..., k] for k in range(len(BANDS))]
    else:
        wa, wb = _blur(wa, options.feather), _blur(wb, options.feather)
        total = np.maximum(wa + wb, np.float32(1e-6))
        ta, tb = wa / total, wb / total
        db, base_b = bands(b)
        base = ta[..., None] * base + tb[..., None] * base_b
        mixed = [ta[..., None] * x + tb[..., None] * y for x, y in zip(da, db)]
        wanted = [ta * want_a[..., k] + tb * want_b[..., k] for k in range(len(BANDS))]
    out = base
    for detail, want, sigma in zip(mixed, wanted, BANDS):
        gain = np.clip(want / np.maximum(_energy(detail, sigma), np.float32(1e-3)), 1.0, options.max_gain)
        out = out + detail * gain[..., None]
    return out


BINOMIAL = np.array([0.25, 0.5, 0.25], np.float32)


def fine_energy(picture: np.ndarray) -> float:
    """Mean squared Laplacian (4-neighbour) of the luma: the picture's finest detail, in its own scale."""
    f = picture.astype(np.float32, copy=False)
    luma = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) if f.ndim == 3 else f
    return float(np.mean(np.square(cv2.Laplacian(luma, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT))))


def restore_fine(picture: np.ndarray, want: float, max_gain: float) -> np.ndarray:
    """``picture`` (float, a key's scale) with its top octave raised until :func:`fine_energy` is ``want``.

    The top octave is the picture less its 3x3 binomial blur (zero response at Nyquist, so it
    holds the frequencies resampling loses); one gain for the whole picture, in
    [1, ``max_gain``] (never softened: a pass sharper than its key is left alone), refined
    once since the octave is not the Laplacian's exact band.
    """
    out = picture.astype(np.float32)
    for _ in range(2):
        have = fine_energy(out)
        gain = min(max_gain, max(1.0, (want / have) ** 0.5)) if have > 0 else 1.0
        if gain <= 1.0 + 1e-3:
            break
        out += np.float32(gain - 1.0) * (out - cv2.sepFilter2D(out, -1, BINOMIAL, BINOMIAL,
                                                                borderType=cv2.BORDER_REFLECT))
    return out


def to_dtype(picture: np.ndarray, like: np.dtype) -> np.ndarray:
    if like == np.uint8:
        return np.clip(picture + 0.5, 0, 255).astype(np.uint8)
    return np.clip(picture, 0.0, 1.0).astype(like)


class FlowPairs:
    """Forward and backward flows between neighbouring frames of a span, computed two at a time
    (OpenCV's DIS releases the GIL, so the two directions run on both cores)."""

    def __init__(self, name: str) -> None:
        self._backends = [make_flow_backend(name), make_flow_backend(name)]
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="flow")

    def __call__(self, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(flow first->second, flow second->first)``."""
        g1, g2 = gray8(first), gray8(second)
        ahead = self._pool.submit(self._backends[0], g1, g2)
        back = self._pool.submit(self._backends[1], g2, g1)
        return ahead.result(), back.result()

    def close(self) -> None:
        self._pool.shutdown()


def gray8(rgb: np.ndarray) -> np.ndarray:
    """8-bit luma for the flow (deep frames are float in [0, 1]); a luma plane passes through."""
    rgb = to_uint8(rgb)
    return rgb if rgb.ndim == 2 else cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def repeats(lumas: Sequence[np.ndarray]) -> list[bool]:
    """``[i]``: frame i shows what frame i-1 showed (a pulldown or held frame), its luma within
    REPEAT_LEVEL on average: the output repeats too, as a per-frame render would."""
    return [False] + [float(cv2.absdiff(a, b).mean()) < REPEAT_LEVEL for a, b in zip(lumas, lumas[1:])]


REPEAT_LEVEL = 0.5  # mean luma levels (of 255) under which a frame counts as its predecessor again


LateKey = Callable[[np.ndarray | None], np.ndarray]  # paints key b given the picture carried to it from key a


def propagate_span(frames: Sequence[np.ndarray], key_a: np.ndarray | None, key_b: np.ndarray | LateKey | None,
                   flows: FlowPairs,
                   options: PropagationOptions = PropagationOptions(),
                   store: Callable[[int, tuple[int, ...], np.dtype], np.ndarray] | None = None,
                   fresh: Callable[[int], np.ndarray] | None = None) -> Iterator[np.ndarray]:
    """The propagated pictures of ``frames`` (a span of one shot, in order), one per frame.

    ``key_a`` is the key painted on ``frames[0]`` (None: the span runs up to the shot's first
    key), ``key_b`` the one on ``frames[-1]`` (None: the span runs to the shot's end); at least
    one is given. Keys have the frames' size; pictures come back in the frames' dtype, and at
    a key frame the key itself. ``key_b`` may be a function that paints it, given key a carried
    to the last frame (None without key a): a painter that starts from a guess (Gatys, warm-started
    as from the previous frame) pays for a key the cost of a frame, not of a shot's first. ``store(n, shape, dtype)`` gives an array for ``n`` pictures
    (a memory map for long spans); default: memory.

    ``fresh(i)``: frame ``i`` painted anew by whatever painted the keys (a feed-forward network paints any
    frame in the keys' look at a frame's cost), in the keys' dtype. Where neither pass follows its key
    frame (new content, a fast motion the flow lost), the picture shows that painting instead of copies
    of the key: a copy is the nearest the key has, the network's painting is the content itself.
    """
    if key_a is None and key_b is None:
        raise ValueError("a span needs a key at one end at least")
    n = len(frames)
    dtype = frames[0].dtype
    store = store or (lambda count, shape, dt: np.empty((count, *shape), dt))
    h, w = frames[0].shape[:2]
    lumas = [gray8(f) for f in frames]
    repeat = repeats(lumas)
    ahead = store(max(n - 1, 1), (h, w, 2), np.dtype(np.float32))  # flow i -> i+1
    back = store(max(n - 1, 1), (h, w, 2), np.dtype(np.float32))  # flow i+1 -> i
    for i in range(n - 1):
        if not repeat[i + 1]:
            ahead[i], back[i] = flows(lumas[i], lumas[i + 1])
    if callable(key_b):
        guess = None
        if key_a is not None:
            carried = Pass(key_a, frames[0], options)
            for i in range(1, n):
                if not repeat[i]:
                    carried.step(frames[i], lumas[i - 1], back[i - 1], ahead[i - 1])
            guess = convert(carried.shown, dtype, key_a.dtype)
        key_b = key_b(guess)
    # The blend moves from key a to key b by distinct pictures, not by frames: a held frame holds it.
    position = np.cumsum([0] + [not r for r in repeat[1:]])
    later = weights = wanted = copied = None
    if key_b is not None:
        later = store(n, (h, w, 3), np.dtype(key_b.dtype))
        weights = store(n, (h, w), np.dtype(np.float32))
        wanted = store(n, (h, w, len(BANDS)), np.dtype(np.float32))
        p = Pass(key_b, frames[n - 1], options)
        later[n - 1], weights[n - 1], wanted[n - 1] = key_b, 1.0, p.key_energy
        if fresh is not None:  # where the backward pass shows copies
            copied = store(n, (h, w), np.dtype(np.bool_))
            copied[n - 1] = False
        for i in range(n - 2, -1, -1):
            if repeat[i + 1]:
                later[i], weights[i], wanted[i] = later[i + 1], weights[i + 1], wanted[i + 1]
                if copied is not None:
                    copied[i] = copied[i + 1]
                continue
            p.step(frames[i], lumas[i + 1], ahead[i], back[i])
            later[i], weights[i], wanted[i] = p.shown, p.weight(options.fill_weight), p.wanted()
            if copied is not None:
                copied[i] = p.copied()
        log.debug("span of %d frames: %d renewals in the backward pass", n, p.fills)
        fine_b = fine_energy(key_b)
        if key_a is None:
            for i in range(n):
                if i == n - 1:
                    yield convert(later[i], dtype)
                    break
                picture = restore_fine(blend(later[i], None, None, None, options, wanted[i]), fine_b, options.max_gain)
                if fresh is not None:
                    picture = with_fresh(picture, copied[i], fresh, i, options.feather)
                yield convert(picture, dtype, key_b.dtype)
            return
    p = Pass(key_a, frames[0], options)
    fine_a = fine_energy(key_a)
    shown = convert(key_a, dtype)
    for i in range(n):
        if i == n - 1 and key_b is not None:
            yield convert(key_b, dtype)
            break
        if i > 0 and not repeat[i]:
            p.step(frames[i], lumas[i - 1], back[i - 1], ahead[i - 1])
            if later is None:
                mixed, want = blend(p.shown, None, None, None, options, p.wanted()), fine_a
            else:
                u = smoothstep(position[i] / max(position[-1], 1))
                wa = p.weight(options.fill_weight) * np.float32(1.0 - u)
                wb = weights[i] * np.float32(u)
                mixed = blend(p.shown, later[i], wa, wb, options, p.wanted(), wanted[i])
                want = (1.0 - u) * fine_a + u * fine_b  # the keys' scales agree: both are key_a.dtype's
            picture = restore_fine(mixed, want, options.max_gain)
            if fresh is not None:
                copies = p.copied() if copied is None else p.copied() & copied[i]
                picture = with_fresh(picture, copies, fresh, i, options.feather)
            shown = convert(picture, dtype, key_a.dtype)
        yield shown
    log.debug("span of %d frames: %d renewals in the forward pass", n, p.fills)


def with_fresh(picture: np.ndarray, copies: np.ndarray, fresh: Callable[[int], np.ndarray], i: int,
               feather: float) -> np.ndarray:
    """``picture`` (float, the keys' scale) showing ``fresh(i)`` where ``copies`` (no pass follows its key
    frame there), over a seam feathered as the passes' blend is; ``fresh`` is called only when needed."""
    if not copies.any():
        return picture
    t = _blur(copies.astype(np.float32), feather)[..., None]
    return picture * (1.0 - t) + fresh(i).astype(np.float32) * t


def convert(picture: np.ndarray, dtype: np.dtype, scale_of: np.dtype | None = None) -> np.ndarray:
    """``picture`` in ``dtype`` (uint8 0-255 or float 0-1); ``scale_of``: the dtype whose scale a float
    ``picture`` is in (a blend of uint8 keys is float in 0-255)."""
    source = np.dtype(scale_of or picture.dtype)
    if picture.dtype == dtype and scale_of is None:
        return picture
    scaled = picture.astype(np.float32) * _scale_factor(source, np.dtype(dtype))
    return to_dtype(scaled, dtype)


def _scale_factor(source: np.dtype, target: np.dtype) -> np.float32:
    src8, dst8 = source == np.uint8, target == np.uint8
    return np.float32(1.0 if src8 == dst8 else (1 / 255 if src8 else 255.0))


__all__ = ["FlowPairs", "KeyIndex", "LateKey", "Pass", "PropagationOptions", "blend", "propagate_span"]
