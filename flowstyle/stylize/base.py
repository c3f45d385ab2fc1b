"""The :class:`Stylizer` seam: one frame in, its stylized picture out (docs/architecture.md, "Seams").

:func:`flowstyle.pipeline.run` drives any stylizer. A stateless one (the
feed-forward networks) is called on several worker threads at once, frames in
any order; a ``sequential`` one (Gatys: each frame starts from the last output)
is called one frame at a time, in order, and told where shots start.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..io.frames import Frame


@runtime_checkable
class Stylizer(Protocol):
    """Maps a decoded frame to its stylized picture, uint8 (H, W, 3) of the same size
    (float32 in [0, 1] for a deep frame, where the stylizer can keep it).

    Optional hook (not part of the protocol's required members): ``prepare(frame, shot_start)``,
    which :func:`flowstyle.pipeline.run` calls for every frame in frame order on its decode
    thread, before the frame reaches the parallel ``stylize`` calls: for state carried from
    frame to frame that depends only on the input (the region masks, docs/regions.md).
    """

    #: True when frame t depends on earlier outputs: then frames come one at a time, in order.
    sequential: bool

    def stylize(self, frame: Frame, shot_start: bool) -> np.ndarray:
        """Stylize ``frame``; ``shot_start`` is True on the first frame and after a scene cut."""
