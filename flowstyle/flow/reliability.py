"""Where a flow can be trusted: forward-backward or photometric check, motion
boundaries, frame edges.

Ruder, Dosovitskiy & Brox, "Artistic style transfer for videos" (GCPR 2016),
section 4 and their consistencyChecker: with ``w`` the backward flow of frame t
(t -> t-1) and ``w^`` the forward flow of frame t-1 (t-1 -> t) sampled where
``w`` points, a pixel is
  * disoccluded where ``|w + w^|^2 > 0.01 (|w|^2 + |w^|^2) + 0.5``,
  * on a motion boundary where ``|grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002``,
and additionally unreliable here where ``x + w(x)`` leaves the frame.

The forward-backward check needs a second flow. :func:`photometric_mask` needs
only ``w``: a pixel is unreliable where frame t-1 warped by ``w`` does not match
frame t (brightness constancy, the data term the flow itself minimises).
Disoccluded pixels take their colour from whatever the flow points at, which
rarely matches. On the real clips the temporal step measures the same with
either check (E_warp relative to per-frame, DIS-balanced flow: bigbuckbunny
0.229 photometric vs 0.217 forward-backward, bikes 0.247 vs 0.258), and this one
costs one flow instead of two.

Everything here is NumPy/OpenCV on the CPU in OpenCV's layout (flow (H, W, 2)
float32 in pixels, images (H, W) uint8, masks (H, W) float32 in {0, 1}, or in [0, 1] for the soft photometric check), where
flow is computed: planar OpenCV operations make the check 2.5 ms at 640x360
against 9 ms for the same arithmetic in PyTorch. ``torch.from_numpy(mask)[None, None]``
gives the conventions' (docs/architecture.md) (B, 1, H, W) mask.
"""

from __future__ import annotations

import cv2
import numpy as np

from .remap import identity_grid, planes

_CENTRAL = np.array([[-0.5, 0.0, 0.5]], np.float32)  # central difference, as Ruder's checker


def _sources(flow_bwd: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """u, v planes of the flow and the source coordinates x + u, y + v."""
    ix, iy = identity_grid(*flow_bwd.shape[:2])
    u, v = planes(flow_bwd)
    return u, v, ix + u, iy + v


def _edges_and_boundaries(ok: np.ndarray, u: np.ndarray, v: np.ndarray, sx: np.ndarray, sy: np.ndarray,
                          motion_boundaries: bool, pixel_size: float = 1.0) -> np.ndarray:
    """``ok`` (bool) and inside the frame and, optionally, off motion boundaries; float32.

    Written as few passes over memory as possible (each whole-frame operation streams
    about 1 MB at 640x360 and the step is bound by that, not by arithmetic).
    """
    h, w = ok.shape
    if motion_boundaries:
        # Central differences (Ruder's checker): Sobel with ksize=1 is [-1, 0, 1]; scale 1/2.
        grad_sq = np.zeros_like(u)
        for plane in (u, v):
            for dx, dy in ((1, 0), (0, 1)):
                d = cv2.Sobel(plane, cv2.CV_32F, dx, dy, ksize=1, scale=0.5, borderType=cv2.BORDER_REPLICATE)
                cv2.accumulateSquare(d, grad_sq)
        # Flow gradients are scale-free; |w| is measured in full-frame pixels.
        limit = np.full_like(u, 0.002 / (0.01 * pixel_size**2))
        cv2.accumulateSquare(u, limit)
        cv2.accumulateSquare(v, limit)  # limit = |w|^2 + 0.2 / pixel_size^2
        ok &= grad_sq <= (0.01 * pixel_size**2) * limit
    ok &= (cv2.inRange(sx, 0.0, float(w - 1)) & cv2.inRange(sy, 0.0, float(h - 1))) != 0
    return ok.astype(np.float32)


def reliability_mask(flow_bwd: np.ndarray, flow_fwd_prev: np.ndarray, motion_boundaries: bool = True) -> np.ndarray:
    """Reliability (H, W) in {0, 1} of ``flow_bwd`` by Ruder et al.'s forward-backward check.

    Args:
        flow_bwd: flow of frame t to frame t-1, (H, W, 2).
        flow_fwd_prev: flow of frame t-1 to frame t, (H, W, 2).
        motion_boundaries: also reject pixels on motion boundaries.
    """
    u, v, sx, sy = _sources(flow_bwd)
    bu, bv = planes(cv2.remap(flow_fwd_prev, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    su, sv = u + bu, v + bv
    ok = su * su + sv * sv <= 0.01 * (u * u + v * v + bu * bu + bv * bv) + 0.5
    return _edges_and_boundaries(ok, u, v, sx, sy, motion_boundaries)


def photometric_mask(flow_bwd: np.ndarray, prev_gray: np.ndarray, gray: np.ndarray, threshold: float = 0.1,
                     motion_boundaries: bool = True, pixel_size: float = 1.0, softness: float = 0.0) -> np.ndarray:
    """Reliability (H, W) in [0, 1] of ``flow_bwd`` from one flow: brightness constancy.

    Args:
        flow_bwd: flow of frame t to frame t-1, (H, W, 2).
        prev_gray, gray: frames t-1 and t, (H, W) uint8 luma.
        threshold: largest |warp(prev) - frame| (fraction of full scale) still trusted.
            0.1 measured best on the real clips (0.06: E_warp +15% on bigbuckbunny;
            0.2: no lower than 0.1, more smearing at occlusions).
        motion_boundaries: also reject pixels on motion boundaries (Ruder's test).
        pixel_size: full-frame pixels per pixel of these images, when the check runs on
            a reduced copy (Ruder's boundary threshold is stated in full-frame pixels).
        softness: 0 gives a binary mask; otherwise the trust falls linearly from 1 at
            ``(1 - softness) * threshold`` to 0 at ``(1 + softness) * threshold``, so a
            residual near the threshold (noise, grain, a slow fade) does not flip a
            pixel between trusted and not from one frame to the next (docs/temporal.md).
    """
    u, v, sx, sy = _sources(flow_bwd)
    warped = cv2.remap(prev_gray, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    residual = cv2.absdiff(warped, gray)
    if softness <= 0:
        return _edges_and_boundaries(residual <= threshold * 255.0, u, v, sx, sy, motion_boundaries, pixel_size)
    high, low = threshold * 255.0 * (1.0 + softness), threshold * 255.0 * (1.0 - softness)
    trust = residual.astype(np.float32)
    trust -= high
    trust *= -1.0 / (high - low)
    np.clip(trust, 0.0, 1.0, out=trust)
    valid = _edges_and_boundaries(np.ones(trust.shape, bool), u, v, sx, sy, motion_boundaries, pixel_size)
    return cv2.multiply(trust, valid)


def static_weight(flow: np.ndarray, static_motion: float, pixel_size: float = 1.0) -> np.ndarray:
    """Where the picture stands still, and the flow snapped to exactly zero there (in place).

    Static-pixel flicker (docs/temporal.md, "Still pixels"): a flow estimated on a still picture is never exactly zero, and resampling
    by a stray sub-pixel offset softens and shifts the texture a little every frame, which
    shows as flicker where nothing moves. Vectors shorter than ``static_motion / 2`` are
    therefore set to zero (the warp becomes an exact copy), and the weight ramps from 1
    there to 0 at ``static_motion``.

    Args:
        flow: (H, W, 2) float32, in pixels of this (possibly reduced) size; modified.
        static_motion: full-frame pixels of motion at which a pixel stops counting as still.
        pixel_size: full-frame pixels per pixel of ``flow``.

    Returns:
        (H, W) float32 in [0, 1].
    """
    u, v = planes(flow)
    # NumPy, not cv2.magnitude: OpenCV hands that to IPP, whose result depends on the
    # arrays' alignment (a fused multiply-add on some elements), so two runs of one render
    # differed by up to 3 levels in separate processes (a distributed render's
    # frames against the single-process render's). Separate ufuncs round each step, whatever the alignment.
    np.multiply(u, u, out=u)
    np.multiply(v, v, out=v)
    length = np.sqrt(np.add(u, v, out=u), out=u)
    length *= pixel_size / static_motion  # in units of static_motion
    # Snap with OpenCV: 0.07 ms, where NumPy's masked assignment took 0.8-1 ms.
    keep = cv2.threshold(length, 0.5, 1.0, cv2.THRESH_BINARY)[1]
    cv2.multiply(flow, cv2.merge((keep, keep)), dst=flow)
    np.subtract(1.0, length, out=length)
    np.clip(length, 0.0, 1.0, out=length)
    return length
