"""Gatys keys every N frames of a shot (``--method gatys --keyframes-every N``): the Gatys look at a fraction of its cost.

The temporal Gatys render (Ruder et al. 2016) optimises every frame until its loss plateaus, about
90 L-BFGS iterations a frame on chaplin.mp4 at 160 px, although each frame starts from the previous
output warped by the flow, which is most of the way there. With keys, every Nth frame of a shot is
optimised that way (a *key*, with ``GatysOptions.key_iterations``; a shot's first frame is its cold
start, as in the temporal render), and it sets the bar for the frames up to the next key: each of
those starts from the previous output warped, exactly as a temporal frame does, and stops as soon as
the picture it would write has a style loss within ``GatysOptions.key_tolerance`` of its key's (after
:data:`MIN_ITERATIONS` at least, at most ``GatysOptions.iterations``). A frame the flow carries well
stops after a few iterations; one where new content enters goes on until it is painted as well.

Measured first (docs/keyframes.md, session 19; chaplin.mp4, 49 frames at 160 px, against the
temporal render of the same frames): carrying Gatys keys along the flow with the propagation given
keys use, then polishing the carried frames on the finest style layers, took 0.32x of the time at
2.2x the style loss: a Gatys texture carried even one frame from its key loses the statistics of its
finest, noise-like layer. In this chain every frame is a Gatys frame: 0.25x at 1.27x (tolerance 0.1,
keys 30 iterations; 0.2 gave 0.21x at 1.42x), E_warp 0.47x.

The bar is the key's style loss, not the previous frame's: measured against the previous frame, the
tolerance compounds from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass

# Iterations every frame between keys gets before the bar is tested: a frame started from the warped
# previous output may be under the bar already while its disoccluded pixels (filled from the frame as
# filmed) are still unpainted. chaplin.mp4, 49 frames at 160 px: 5 against 10 took 0.21x against
# 0.25x of the temporal render's time at the same style loss (1.28x, 1.27x) and E_warp (0.48x,
# 0.47x); crops of the moving figure alike. 20 of the 44 frames between keys had stopped at 10.
MIN_ITERATIONS = 5


@dataclass
class KeyChain:
    """Which frames of the current shot are keys, and the style loss the frames between them stop at.

    ``every``: frames from one key to the next; ``tolerance``: a frame between keys stops once its
    style loss is at most ``(1 + tolerance)`` x the last key's.
    """

    every: int
    tolerance: float
    shot_start: int | None = None
    reference: float | None = None  # the style loss of the shot's last key

    def start_shot(self, index: int) -> None:
        self.shot_start, self.reference = index, None

    def is_key(self, index: int) -> bool:
        if self.shot_start is None:
            self.start_shot(index)
        return (index - self.shot_start) % self.every == 0

    def bar(self, index: int) -> float | None:
        """The style loss frame ``index`` stops at; None for a key (its own budget and the plateau rule)."""
        if self.is_key(index) or self.reference is None:
            return None
        return self.reference * (1.0 + self.tolerance)
