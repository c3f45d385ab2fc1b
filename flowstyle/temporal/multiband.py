"""Flow-guided temporal consistency without tearing or blur: multi-band propagation.

Each output frame is the current per-frame stylization S with the previous output
W (warped to this frame along the flow) blended in, band by band, in a Laplacian
pyramid (the multiresolution spline of Burt & Adelson 1983):

    B_k = S_k + a_k * c_k * (W_k - S_k)        for each band k
    out = collapse(g_k * B_k)

where c is the per-pixel trust in the flow (soft, in [0, 1]) and a_k the weight of
the past in band k. Because the trust is applied per band at that band's resolution, a change
of source is feathered over the band's own wavelength: a wrong flow can never cut a
hard seam through the picture, and whatever it drags along fades out after a few
frames instead of being kept. (docs/temporal.md: the texture anchors' hard per-pixel switch
tore fences and thin structures into offset pieces and tripled the luma Laplacian
variance; see ``anchors.py``, kept as ``--temporal anchors`` for comparison.)

Why this does not blur (docs/architecture.md, "Algorithms", "a trap, measured"):
  * Averaging two textures that do not line up lowers their contrast. Each detail
    band is therefore brought back to the local energy of S's own band, the
    variance-preserving blend of Heitz & Neyret (2018) with the variance measured
    rather than assumed: ``g_k = sqrt(E[S_k^2] / E[B_k^2])`` over ~``rho`` px,
    clipped to [1/max_gain, max_gain]: two-sided, so the band's energy is brought to
    S's from above too (session 8: clipped at 1 it was a ratchet, see energy_gain).
    The finest band is split in two halves and each is matched (``restore_spectrum``):
    a cubic resampling loses most at the top of the band, so one gain could match
    either its plain energy (then the picture is soft: luma Laplacian variance 0.84x
    per-frame on bigbuckbunny) or its highest frequencies (sessions 4-9: then the
    lower half is over-raised and the strokes read coarser, Gram up), not both.
  * The previous output is resampled once per frame with a cubic kernel; the gains
    give back what that loses, so the chain of warps does not soften over time.
  * The coarse band follows S with its own, slower weight (``alpha_low``): lighting
    and colour changes come through (no drift: the output converges to S), while a
    per-frame network's colour flicker is averaged out.

Images are uint8 RGB (H, W, 3) in and out, flows float32 (H, W, 2) in pixels
(OpenCV layout), trust float32 (H, W) in [0, 1]. Everything is OpenCV on the CPU,
one vectorised pass per operation (NumPy reductions over the channel axis cost
10-30x more here), and the gains are measured on luma only.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..flow.remap import identity_grid, planes

SPLIT_SIGMA = 0.8  # px: splits the finest band (wavelengths 2-4 px) into halves of about equal energy
_EPS = 4.0  # energy floor (8-bit levels squared): flat regions get no gain from noise


def _mean_small(plane: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-weighted local mean (std ``sigma`` px) of a float32 plane, at 1/(sigma/2) of its size."""
    h, w = plane.shape
    f = max(1, int(sigma // 2))
    small = cv2.resize(plane, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA) if f > 1 else plane
    return cv2.GaussianBlur(small, (0, 0), sigmaX=max(sigma / f, 0.5), borderType=cv2.BORDER_REFLECT)


def _full(small: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    h, w = shape[:2]
    return small if small.shape == (h, w) else cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def local_rms_ratio(num: np.ndarray, den: np.ndarray, sigma: float, floor: float,
                    limits: tuple[float, float] | None = None) -> np.ndarray:
    """``sqrt((E[num] + floor) / (E[den] + floor))`` (H, W) of two planes of squares, local means
    over ~``sigma`` px, optionally clipped to ``limits``. The ratio of two smooth planes is smooth,
    so it is formed at the local means' small size and upsampled once (0.2 ms less per call at
    640x360 than dividing at full size)."""
    ratio = cv2.sqrt(cv2.divide(_mean_small(num, sigma) + floor, _mean_small(den, sigma) + floor))
    if limits is not None:
        np.clip(ratio, *limits, out=ratio)
    return _full(ratio, num.shape)


def energy_gain(reference: np.ndarray, band: np.ndarray, rho: float, max_gain: float) -> np.ndarray:
    """Per-pixel gain (H, W, 3) bringing ``band``'s local luma energy up to ``reference``'s.

    Args:
        reference, band: (H, W, 3) float32 detail bands.
        rho: scale (px of these images) of the local energy.
        max_gain: the largest gain; the smallest is its inverse.

    Two-sided (docs/temporal.md, session 8). Clipped at 1 from below, the gain only ever raised a
    band: a noisy local estimate then pumps energy up through the recursion (each frame's
    boost is kept by the past, nothing takes it back), and the second band of the arbitrary
    network's udnie render carried more texture than the per-frame one. Measured over 40
    frames, encoded, ratios to per-frame (E_warp DIS / Farneback / Gram / sharpness):
    bigbuckbunny/udnie 0.403 / 0.499 / 1.297 / 1.031 -> 0.401 / 0.494 / 1.152 / 1.002,
    tree/udnie Gram 1.314 -> 1.173; style 7 loses a little: bigbuckbunny/7 Gram 1.006 ->
    1.028, bikes/7 1.406 -> 1.477.
    """
    lumas = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (reference, band))
    return cv2.cvtColor(luma_gain(*lumas, rho, max_gain), cv2.COLOR_GRAY2RGB)


def luma_gain(reference: np.ndarray, luma: np.ndarray, rho: float, max_gain: float) -> np.ndarray:
    """``sqrt(E[reference^2] / E[luma^2])`` (H, W) over ~``rho`` px, clipped to [1/max_gain, max_gain]."""
    return local_rms_ratio(cv2.multiply(reference, reference), cv2.multiply(luma, luma), rho, _EPS,
                           (1.0 / max_gain, max_gain))


def restore_spectrum(reference: np.ndarray, band: np.ndarray, rho: float, max_gain: float,
                     sigma: float = SPLIT_SIGMA) -> np.ndarray:
    """``band`` (H, W, 3 float32) with the local energy of its upper and lower halves each
    brought to ``reference``'s (:func:`energy_gain`): the band split at a Gaussian of ``sigma`` px;
    then its level set from the two bands' highest frequencies (the local energy of their luma
    Laplacians).

    Why (docs/temporal.md, session 10): the past is resampled by a cubic kernel every frame, which
    takes more from the top of the finest band (wavelengths near 2 px) than from its bottom
    (4 px). One gain per pixel can match only one figure of the band. Matched on its plain
    energy the picture is soft (luma Laplacian variance 0.84x per-frame, bigbuckbunny);
    matched on its Laplacian (sessions 4-9) the lower half is raised along with the upper
    one it makes up for, the band's spectrum tilts towards its coarse end and VGG's Gram
    matrices read coarser strokes than the network paints (udnie rows 1.12-1.23x per-frame).
    This keeps S's balance between the halves, then sets the level from the Laplacian as
    before. Measured (harness, 60-120 frames, encoded, ratios to per-frame, Gram
    before -> after): udnie on bigbuckbunny 1.173 -> 1.119, tree 1.168 -> 1.119, bikes
    1.191 -> 1.103; style 7 and starry_night within +0.02; E_warp 0-0.003 lower. Matching the
    halves alone, without the Laplacian level after it: sharpness 0.84x on style 7.
    """
    # The gains are measured on luma (as energy_gain's); blurring is linear, so the luma of
    # the blurred band is the blurred luma, and only the band itself is blurred in colour.
    # out = low * g_low + (band - low) * g_high = band * g_high + low * (g_low - g_high).
    y_ref, y = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (reference, band))
    # 5 taps: the kernel's tail beyond 2 px is 4% at sigma 0.8 (output within 0.05 levels of
    # the 7 taps OpenCV picks itself) and the colour blur costs 0.35 ms instead of 0.6.
    low = cv2.GaussianBlur(band, (5, 5), sigma, borderType=cv2.BORDER_REFLECT)
    y_low, y_ref_low = cv2.cvtColor(low, cv2.COLOR_RGB2GRAY), cv2.GaussianBlur(y_ref, (5, 5), sigma, borderType=cv2.BORDER_REFLECT)
    g_low = luma_gain(y_ref_low, y_low, rho, max_gain)
    g_high = luma_gain(cv2.subtract(y_ref, y_ref_low), cv2.subtract(y, y_low), rho, max_gain)
    g_diff = cv2.subtract(g_low, g_high)
    # The level, measured on the balanced band's luma: formed from the luma planes (luma is
    # linear), so the colour band is multiplied once, by both gains together (0.6 ms less at
    # 640x360 than balancing in colour and then calling energy_gain on the result).
    y_out = cv2.add(cv2.multiply(y, g_high), cv2.multiply(y_low, g_diff))
    g_level = luma_gain(*(cv2.Laplacian(x, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT) for x in (y_ref, y_out)),
                        rho, max_gain)
    return cv2.add(cv2.multiply(band, cv2.cvtColor(cv2.multiply(g_high, g_level), cv2.COLOR_GRAY2RGB)),
                   cv2.multiply(low, cv2.cvtColor(cv2.multiply(g_diff, g_level), cv2.COLOR_GRAY2RGB)))


_LUMA = np.array([[0.299, 0.587, 0.114]], np.float32)  # Rec. 601, as cv2's RGB2GRAY
_SUM = np.ones((1, 3), np.float32)


def restore_chroma(reference: np.ndarray, blend: np.ndarray, sigma: float, max_gain: float) -> np.ndarray:
    """``blend`` (H, W, 3 float32) with its chroma scaled to ``reference``'s local chroma energy.

    Chroma is the RGB residual after luma (Rec. 601). The gain ``sqrt(E[|C_ref|^2] / E[|C|^2])``
    is measured over ~``sigma`` px, clipped to [1/max_gain, max_gain] and applied in proportion
    to the cosine of the two chroma vectors (none where the hues disagree); luma is untouched.
    """
    def split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = cv2.transform(x, _LUMA)
        return y, cv2.subtract(x, cv2.cvtColor(y, cv2.COLOR_GRAY2RGB))

    _, c_ref = split(reference)
    y, c = split(blend)
    c2, c_ref2 = cv2.transform(cv2.multiply(c, c), _SUM), cv2.transform(cv2.multiply(c_ref, c_ref), _SUM)
    gain = local_rms_ratio(c_ref2, c2, sigma, 1.0, (1.0 / max_gain, max_gain))  # floor: 1 level^2
    # Only where the blend's hue agrees with the present's: restoring the magnitude of a blend
    # that still points at the past's hue would hold that hue for ever (a lasting change of
    # colour would never come through). Weighted by the cosine of the two chroma vectors.
    agree = np.clip(cv2.divide(cv2.transform(cv2.multiply(c, c_ref), _SUM), cv2.sqrt(cv2.multiply(c2, c_ref2)) + 1.0),
                    0.0, 1.0)
    gain = cv2.add(cv2.multiply(cv2.subtract(gain, 1.0), agree), 1.0)
    return cv2.add(cv2.cvtColor(y, cv2.COLOR_GRAY2RGB), cv2.multiply(c, cv2.cvtColor(gain, cv2.COLOR_GRAY2RGB)))


def past_keep(s_band: np.ndarray, d_band: np.ndarray, rho: float, lo: float, hi: float) -> np.ndarray:
    """How much of the past band to keep (H, W) in [0, 1], by its texture against the present's.

    ``s_band`` is the per-frame band S_k and ``d_band`` = W_k - S_k, so the past band is
    their sum. Where the past's local luma energy exceeds the present's by more than
    ``lo`` (as an amplitude ratio) the past brings texture the network does not paint
    here now; it is dropped linearly up to ``hi``.
    """
    s_luma = cv2.cvtColor(s_band, cv2.COLOR_RGB2GRAY)
    w_luma = cv2.add(s_luma, cv2.cvtColor(d_band, cv2.COLOR_RGB2GRAY))
    ratio = local_rms_ratio(cv2.multiply(w_luma, w_luma), cv2.multiply(s_luma, s_luma), rho, _EPS)
    return np.clip((hi - ratio) * (1.0 / (hi - lo)), 0.0, 1.0)


class MultiBandPropagation:
    """Stateful temporal step: ``step(stylized, flow_bwd, trust) -> output``.

    Args:
        alpha_detail: weight of the warped past in each detail band where the flow is
            trusted, finest first (band k holds wavelengths ~2^k..2^(k+1) px); their
            number is the number of detail bands.
        alpha_low: the same for the coarse band below them (colour, lighting).
        rho: scale (px at full size) over which each band's energy is matched to S's.
        max_gain: largest contrast restoration of a band.
        texture_ratio: (lo, hi) amplitude ratios of the past band's local energy to the
            present's at which the past starts to be, and is fully, distrusted
            (:func:`past_keep`), measured on the second detail band and applied to all.
        chroma_rho: scale (px at full size) over which the coarse band's chroma is brought
            back to the present's (:func:`restore_chroma`); None leaves it as blended.

    Why the texture check (docs/temporal.md, session 7): on fast, motion-blurred shots (bikes.mp4,
    vehicles passing) the flow is wrong but the photometric check trusts it, because a
    blurred surface looks alike under any flow. The past's strokes and colours are then
    dragged over regions the network paints flat: blue smears and red specks on a yellow
    car, Gram style loss 5-25x per-frame on those frames. There the warped past has far
    more detail than the present, while where the flow is right the two bands' energies
    match (the network paints the same kind of texture on the same content). Measured
    by ``eval/run_eval.py`` (ratios to per-frame, before -> after): Gram on bikes 1.86 ->
    1.70 (style 7) and 1.45 -> 1.25 (starry_night) for E_warp 0.30 -> 0.32 and 0.39 ->
    0.40; the other rows within 1-2% except the E_warp of tree/7, 0.21 -> 0.23, and of
    sintel/7, 0.349 -> 0.366 (docs/temporal.md, session 7). (1.2, 2.0) also acts on honest texture: the noisy pan of
    tests/test_temporal.py lost 12% of its E_warp gain (3% at (1.3, 2.5)), so the default
    stops at (1.3, 2.5).

    The finest band gets the least of the past. A feed-forward network repaints its
    finest texture a little differently every frame: the texture follows the content
    (session 8: its luma band correlates 0.91-0.95 with the warped previous frame's, no
    better at any shift within 2 px), but the part that differs, mixed with the past and
    brought back to full energy, makes a texture of neither (Gram style loss up). Measured on the frames
    before encoding, bigbuckbunny (built-in style 7) and chaplin (udnie) at 640 px,
    ratios to per-frame (E_warp by DIS-medium / Gram):
    0.9 for both bands, 0.97 coarse: 0.23 / 3.1 on bigbuckbunny; 0.75 for both, 0.9
    coarse: 0.27 / 1.43 and 0.32 / 1.11; (0.5, 0.9), 0.8 coarse, the default:
    0.34 / 1.08 and 0.37 / 1.09; (0.3, 0.8), 0.9 coarse: 0.39 / 1.14 and 0.40 / 1.03.
    A third detail band changed nothing (within 3%).
    """

    def __init__(self, alpha_detail: tuple[float, ...] = (0.5, 0.9), alpha_low: float = 0.8, rho: float = 16.0,
                 max_gain: float = 2.0, alpha_static: float = 0.95,
                 texture_ratio: tuple[float, float] = (1.3, 2.5), chroma_rho: float | None = 256.0) -> None:
        if not alpha_detail or not all(0.0 <= a < 1.0 for a in (*alpha_detail, alpha_low, alpha_static)):
            raise ValueError("alpha_detail (one or more), alpha_low and alpha_static must be in [0, 1)")
        if not 1.0 <= texture_ratio[0] < texture_ratio[1]:
            raise ValueError(f"texture_ratio must be (lo, hi) with 1 <= lo < hi, got {texture_ratio}")
        self.texture_ratio, self.chroma_rho = texture_ratio, chroma_rho
        self.alpha_detail, self.alpha_low, self.alpha_static = tuple(alpha_detail), alpha_low, alpha_static
        self.rho, self.max_gain = rho, max_gain
        self.prev: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the past (first frame, or a scene cut)."""
        self.prev = None

    def step(self, stylized: np.ndarray, flow_bwd: np.ndarray | None, trust: np.ndarray | None,
             static: np.ndarray | None = None) -> np.ndarray:
        """Output for the current frame.

        Args:
            stylized: per-frame stylization of this frame, uint8 (H, W, 3).
            flow_bwd: flow from this frame to the previous one (H, W, 2), or None to start over.
            trust: confidence in ``flow_bwd`` (H, W) in [0, 1]; None trusts it everywhere.
            static: (H, W) in [0, 1], 1 where the picture stands still (see
                :func:`flowstyle.flow.reliability.static_weight`); there every band takes
                at least ``alpha_static`` of the past. None: nothing is static.
        """
        h, w = stylized.shape[:2]
        if flow_bwd is None or self.prev is None or self.prev.shape[:2] != (h, w):
            self.prev = stylized.astype(np.float32)
            return stylized.copy()
        ix, iy = identity_grid(h, w)
        mx, my = planes(flow_bwd)
        mx += ix
        my += iy
        # The past is kept in float32: rounded to 8 bits, an update smaller than half a
        # level (below 17 levels of difference at a coarse weight of 0.97) would be lost every
        # frame and the output would stop converging to S (measured: drift of 16 levels).
        warped = cv2.remap(self.prev, mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        s = stylized.astype(np.float32)
        d = cv2.subtract(warped, s)
        trust = np.ones((h, w), np.float32) if trust is None else trust.astype(np.float32, copy=False)
        if static is not None:
            # Static-pixel flicker (docs/temporal.md, "Still pixels"): where nothing moves the flow is snapped to
            # exactly zero (static_weight), so the past is copied, not resampled. Nothing
            # softens or drifts there, so the past can take a far larger share than where
            # the texture is carried by sub-pixel warps. The trust still applies, so a
            # lighting change (a photometric residual) comes through.
            # Measured, encoded at crf 18, ratios to per-frame, chaplin/starry_night and
            # bigbuckbunny/7: static flicker 1.11 -> 0.66 and 0.88 -> 0.65, E_warp (DIS)
            # 0.49 -> 0.42 and 0.43 -> 0.42, Gram 0.92 -> 0.90 and 1.08 -> 1.11.
            # Kept as trust * static, so each band's weight is one addWeighted (below).
            static = cv2.multiply(trust, static.astype(np.float32, copy=False))
        # Laplacian pyramids of S and of D = W - S: band k of the blend is S_k + a c_k D_k.
        # Expanded bilinearly rather than with pyrUp: the collapse is exact with either
        # (each band is taken against the same expansion), quality measured the same
        # (E_warp and Gram within 3%), and it is ~2 ms cheaper at 640x360.
        bands = []
        for _ in self.alpha_detail:
            size = (s.shape[1], s.shape[0])
            s_small, d_small = cv2.pyrDown(s), cv2.pyrDown(d)
            bands.append((cv2.subtract(s, cv2.resize(s_small, size, interpolation=cv2.INTER_LINEAR)),
                          cv2.subtract(d, cv2.resize(d_small, size, interpolation=cv2.INTER_LINEAR)), size))
            s, d = s_small, d_small
        # The texture check, measured once on the second band and applied to every band:
        # at half size it costs 0.16 ms against 0.56 on the finest (640x360), and the
        # regions it catches are tens of px wide (same effect on bikes, docs/temporal.md).
        k_check = min(1, len(bands) - 1)
        keep = past_keep(bands[k_check][0], bands[k_check][1], self.rho / 2**k_check, *self.texture_ratio)
        keeps = [keep if b[0].shape[:2] == keep.shape else
                 cv2.resize(keep, (b[0].shape[1], b[0].shape[0]), interpolation=cv2.INTER_LINEAR) for b in bands]
        coarse_keep = cv2.resize(keep, (s.shape[1], s.shape[0]), interpolation=cv2.INTER_AREA)
        out = cv2.add(s, cv2.multiply(d, self._weight(trust, static, s.shape, self.alpha_low, coarse_keep)))
        if self.chroma_rho:
            # docs/temporal.md, session 8: the coarse band holds colour. Where the network's colours
            # change from frame to frame (grainy, flickering film; bikes) the blend is a mix of
            # them, less saturated than any one frame: a colour of neither, and Gram loss up.
            # Its chroma is brought back to the present's saturation, measured over a wide
            # window so that the gain does not bring the per-frame colour flicker back.
            out = restore_chroma(s, out, self.chroma_rho / 2 ** len(bands), self.max_gain)
        for k in reversed(range(len(bands))):
            s_band, d_band, size = bands[k]
            weight = self._weight(trust, static, s_band.shape, self.alpha_detail[k], keeps[k])
            band = cv2.add(s_band, cv2.multiply(d_band, weight))
            if k == 0:
                # The balance of the finest band's halves from S, then its level from S's
                # highest frequencies (restore_spectrum, session 10).
                band = restore_spectrum(s_band, band, self.rho, self.max_gain)
            else:
                band = cv2.multiply(band, energy_gain(s_band, band, self.rho / 2**k, self.max_gain))
            out = cv2.add(cv2.resize(out, size, interpolation=cv2.INTER_LINEAR), band)
        np.clip(out, 0.0, 255.0, out=out)
        self.prev = out
        # Rounded to nearest (saturate_cast, as cv2.add(out, 0, dtype=CV_8U) did, at a tenth of
        # its time: 0.1 instead of 0.9 ms at 640x360); out is already in [0, 255], so abs is a no-op.
        return cv2.convertScaleAbs(out)

    def _weight(self, trust: np.ndarray, trusted_still: np.ndarray | None, shape: tuple[int, ...],
                alpha: float, keep: np.ndarray) -> np.ndarray:
        """``alpha * trust * keep`` at a band's size (``keep`` is at it already), as (h, w, 3);
        with ``trusted_still`` (trust x static), ``alpha`` rises towards ``alpha_static``
        where the picture stands still: ``(alpha * trust + (alpha_static - alpha) * trust * static) * keep``."""
        h, w = shape[:2]
        if trust.shape != (h, w):
            trust = cv2.resize(trust, (w, h), interpolation=cv2.INTER_AREA)
        if trusted_still is None or self.alpha_static <= alpha:
            weight = cv2.multiply(trust, keep, scale=alpha)
        else:
            if trusted_still.shape != (h, w):
                trusted_still = cv2.resize(trusted_still, (w, h), interpolation=cv2.INTER_AREA)
            weight = cv2.multiply(cv2.addWeighted(trust, alpha, trusted_still, self.alpha_static - alpha, 0.0), keep)
        return cv2.cvtColor(weight, cv2.COLOR_GRAY2RGB)
