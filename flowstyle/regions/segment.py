"""Person masks from the native MediaPipe selfie segmentation port (docs/regions.md).

MediaPipe's selfie graph stretches the frame to the model's input (no letterbox)
and resizes the mask back; so does this. Frames wider than tall use the landscape
model (144x256), the others the square one (256x256): the closer aspect ratio
distorts people less.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models.selfie import LANDSCAPE_SIZE, PORTRAIT_SIZE, SelfieSegmenter
from ..registry import load_state_dict


def model_for(width: int, height: int) -> tuple[str, tuple[int, int]]:
    """Manifest name and (H, W) input of the model for a ``width`` x ``height`` frame."""
    if width > height:
        return "selfie_segmentation_landscape", LANDSCAPE_SIZE
    return "selfie_segmentation", PORTRAIT_SIZE


def load_segmenter(name: str, device: torch.device) -> SelfieSegmenter:
    """The converted selfie segmentation network ``name`` (a manifest entry), float32, eval mode."""
    net = SelfieSegmenter()
    net.load_state_dict(load_state_dict(name))
    # channels_last: oneDNN's convolutions of this small network run 1.5x faster (two
    # 256x256 tiles on one thread, interleaved medians: 7.6 ms against 11.2 ms; outputs
    # equal to 3e-13).
    return net.eval().requires_grad_(False).to(device, memory_format=torch.channels_last)


def to_model_input(frames: Tensor, size: tuple[int, int]) -> Tensor:
    """``frames`` (B, 3, H, W) in [0, 1] stretched to ``size`` (h, w), float32 (antialiased when shrinking),
    channels_last like the network's weights."""
    x = F.interpolate(frames.float(), size=size, mode="bilinear", align_corners=False, antialias=True)
    return x.contiguous(memory_format=torch.channels_last)


@contextlib.contextmanager
def one_thread(device: torch.device) -> Iterator[None]:
    """torch on one thread for the duration (CPU), restored after; nothing when it is one already.

    torch's thread count belongs to the calling thread (OpenMP): this does not slow
    the stylize workers; OpenCV's, which is global, is left alone.
    """
    before = torch.get_num_threads()
    if device.type == "cpu" and before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)


class PersonSegmenter:
    """Person probability (B, 1, H, W) in [0, 1] for RGB frames (B, 3, H, W) in [0, 1], at the frames' size.

    Runs in float32 (a small network: bf16 would save little and move the edges), on
    one CPU thread: its layers are too small to split, and a parallel region stalls
    whenever another process holds a core (measured on a loaded 2-core machine: 18 ms
    per 144x256 frame on one thread, 540 ms on two).
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self._nets: dict[str, SelfieSegmenter] = {}

    def net_for(self, width: int, height: int) -> tuple[SelfieSegmenter, tuple[int, int]]:
        name, size = model_for(width, height)
        if name not in self._nets:
            self._nets[name] = load_segmenter(name, self.device)
        return self._nets[name], size

    @torch.inference_mode()
    def __call__(self, frames: Tensor, out_size: tuple[int, int] | None = None) -> Tensor:
        """Person probability (B, 1, H, W) of frames (B, 3, H, W) in [0, 1]; ``out_size`` (h, w) instead of
        the frames' size (the mask tracker works at half size)."""
        h, w = frames.shape[-2:]
        net, size = self.net_for(w, h)
        with one_thread(self.device):
            mask = net(to_model_input(frames.to(self.device), size))
        return F.interpolate(mask, size=out_size or (h, w), mode="bilinear", align_corners=False).to(frames.device)

    @torch.inference_mode()
    def tiles(self, frames: Tensor, out_size: tuple[int, int] | None = None) -> Tensor:
        """As ``__call__``, from square tiles of the frame's height (two for 16:9), combined by maximum.

        The landscape model stretches a whole 16:9 frame into 144x256, where full-body
        people at a distance are a few pixels wide: on chaplin.mp4 it found no one in
        frames 124-133 and 168-170 while two people stood in the shot, and the people
        were left visibly unstylized there. In
        square tiles, each read by the square model at 256x256, the same people are
        found in every frame (coverage 0.10-0.24), at about twice the cost. Region
        renders use this (``regions.composite.person_masks``).
        """
        h, w = frames.shape[-2:]
        oh, ow = out_size or (h, w)
        # Tiles run along the long side: dim -1 (columns) for landscape, -2 (rows) for portrait.
        dim, long, out_long = (-1, w, ow) if w >= h else (-2, h, oh)
        side = min(h, w)
        count = max(1, -(-long // side))  # ceil
        starts = [round(i * (long - side) / max(1, count - 1)) for i in range(count)]
        net, size = self.net_for(side, side)
        crops = [frames.narrow(dim, a, side) for a in starts]
        with one_thread(self.device):
            masks = net(to_model_input(torch.cat(crops).to(self.device), size)).to(frames.device)
        out = torch.zeros(frames.shape[0], 1, oh, ow, device=frames.device)
        b = frames.shape[0]
        for k, a in enumerate(starts):
            lo, hi = round(a * out_long / long), round((a + side) * out_long / long)
            part = F.interpolate(masks[k * b:(k + 1) * b], size=(oh, hi - lo) if dim == -1 else (hi - lo, ow),
                                 mode="bilinear", align_corners=False)
            view = out.narrow(dim, lo, hi - lo)
            torch.maximum(view, part, out=view)
        return out
