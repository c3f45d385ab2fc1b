"""Progress of long jobs (renders, Gatys optimisation, style training), reported by callbacks.

The library never draws: it calls ``on_frame(Progress)`` (or ``progress=``) and
the CLI turns that into one kind of progress bar (docs/architecture.md, "Progress").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    """Where a job is.

    Attributes:
        done: units finished (frames written, training steps).
        total: the count announced up front (the container's frame count, which VFR
            containers overstate: tree.avi announces 444 frames and codes 68; the step
            budget), or None.
        fraction: the honest share done, 0-1 (media time of the end of the last frame
            over the duration; for training, whichever of the step and time budgets
            comes first), or None. ``done / fraction`` estimates the true total.
        unit: what ``done`` counts ("frame", "step").
        item: the unit being worked on when work inside one is reported (the frame a
            Gatys optimisation is on), else None.
        iteration: iteration within ``item`` (0: the report is about finished units).
        values: latest figures to show, e.g. ``{"loss": ..., "perceptual": ...}``.
        resumed: units taken from an earlier, interrupted run.
    """

    done: int
    total: int | None = None
    fraction: float | None = None
    unit: str = "frame"
    item: int | None = None
    iteration: int = 0
    values: Mapping[str, float] = field(default_factory=dict)
    resumed: int = 0

    def estimated_total(self) -> int | None:
        """The total to show: from ``fraction`` once it means something (> 2%), else ``total``."""
        if self.fraction and self.fraction > 0.02:
            return max(self.done, round(self.done / self.fraction))
        return self.total


ProgressFn = Callable[[Progress], None]
