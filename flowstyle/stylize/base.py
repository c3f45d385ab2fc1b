"""The :class:`Stylizer` seam: one frame in, its stylized picture out (docs/architecture.md, "Seams").

:func:`flowstyle.pipeline.run` drives any stylizer. A stateless one (the
feed-forward networks) is called on several worker threads at once, frames in
any order; a ``sequential`` one (Gatys: each frame starts from the last output)
is called one frame at a time, in order, and told where shots start.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from ..io.frames import Frame
from ..tensors import frame_to_tensor, tensor_to_float, tensor_to_rgb


@runtime_checkable
class Stylizer(Protocol):
    """Maps a decoded frame to its stylized picture, uint8 (H, W, 3) of the same size
    (float32 in [0, 1] for a deep frame, where the stylizer can keep it).

    Optional hook (not part of the protocol's required members): ``prepare(frame, shot_start)``,
    which :func:`flowstyle.pipeline.run` calls for every frame in frame order on its decode
    thread, before the frame reaches the parallel ``stylize`` calls: for state carried from
    frame to frame that depends only on the input (the region masks of issue #16).
    """

    #: True when frame t depends on earlier outputs: then frames come one at a time, in order.
    sequential: bool

    def stylize(self, frame: Frame, shot_start: bool) -> np.ndarray:
        """Stylize ``frame``; ``shot_start`` is True on the first frame and after a scene cut."""


class NetworkStylizer:
    """A feed-forward network (tensor in, tensor out) as a :class:`Stylizer`: stateless, thread-safe.

    Args:
        net: maps (1, 3, H, W) float in [0, 1] to the same, e.g.
            :class:`~flowstyle.stylize.feedforward.FeedForwardStylizer`.
        device: where ``net`` runs; frames are moved there.
    """

    sequential = False

    def __init__(self, net: Callable[[Tensor], Tensor], device: torch.device) -> None:
        self.net = net
        self.device = device

    def stylize(self, frame: Frame, shot_start: bool) -> np.ndarray:
        out = self.net(frame_to_tensor(frame, self.device))
        # A deep (float) frame gives a float picture: the network works in float (issue #13).
        return tensor_to_float(out) if frame.rgb.dtype == np.float32 else tensor_to_rgb(out)
