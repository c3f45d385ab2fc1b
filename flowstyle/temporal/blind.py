"""Blind temporal consistency in the gradient domain (Bonneel et al. 2015).

For each frame, solve the screened Poisson problem

    min_O  sum |grad O - grad P|^2  +  lambda * M * |O - W|^2

where P is the per-frame result (of any stylizer), W the previous *output* warped
to this frame, and M the flow reliability. The solution keeps P's gradients
(its detail) and follows W where the flow is reliable. In Fourier terms the
output takes W's frequencies below about sqrt(lambda) and P's above, so this
removes colour and brightness flicker; flicker in fine texture remains, which
is why the ``flow`` mode (texture anchors) is the default for stylization.
Solved per channel by conjugate gradients, warm-started from P.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..flow.remap import remap_flow


def _laplacian(x: np.ndarray) -> np.ndarray:
    """4-neighbour Laplacian with reflecting (Neumann) borders, (H, W, C)."""
    return cv2.Laplacian(x, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT)


def screened_poisson(p: np.ndarray, w: np.ndarray, mask: np.ndarray, lam: float, iterations: int = 25) -> np.ndarray:
    """Solve (-Laplacian + lam*M) O = -Laplacian(P) + lam*M*W by conjugate gradients.

    Args:
        p: per-frame result (H, W, C) float32.
        w: warped previous output (H, W, C) float32.
        mask: reliability (H, W) float32 in [0, 1].
        lam: screening weight; larger follows ``w`` up to finer scales.
    """
    m = (lam * mask)[..., None].astype(np.float32)
    apply = lambda x: m * x - _laplacian(x)  # noqa: E731  (symmetric positive definite)
    b = m * w - _laplacian(p)
    x = p.copy()
    r = b - apply(x)
    d = r.copy()
    rr = float((r * r).sum())
    for _ in range(iterations):
        if rr < 1e-10:
            break
        ad = apply(d)
        alpha = rr / max(float((d * ad).sum()), 1e-20)
        x += alpha * d
        r -= alpha * ad
        rr_new = float((r * r).sum())
        d = r + (rr_new / rr) * d
        rr = rr_new
    return x


class BlindStabilizer:
    """Stateful temporal step: ``step(stylized, flow_bwd, mask) -> output`` (Bonneel et al. 2015).

    Frames in and out are uint8 (H, W, 3); the previous output is kept in float32 so
    that rounding does not accumulate along the chain of warps.
    """

    def __init__(self, lam: float = 0.15, iterations: int = 25) -> None:
        self.lam = lam
        self.iterations = iterations
        self.prev: np.ndarray | None = None

    def reset(self) -> None:
        self.prev = None

    def step(self, stylized: np.ndarray, flow_bwd: np.ndarray | None, mask: np.ndarray | None,
             static: np.ndarray | None = None) -> np.ndarray:  # static: used by the flow mode only
        p = stylized.astype(np.float32) * (1.0 / 255.0)
        if flow_bwd is None or self.prev is None or self.prev.shape != p.shape:
            out = p
        else:
            warped = remap_flow(self.prev, flow_bwd)
            out = np.clip(screened_poisson(p, warped, mask, self.lam, self.iterations), 0.0, 1.0)
        self.prev = out
        return (out * 255.0 + 0.5).astype(np.uint8)
