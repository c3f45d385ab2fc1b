"""Region composite: one stylization per region, mixed by a soft mask, before the temporal step (issue #16).

``--region person=none --region background=7`` keeps the people as filmed and
paints the rest; ``--matte FILE --matte-style 3`` paints the matte's white with
style 3 and the rest with ``--style``. The composite is made per frame, before
the temporal step, so the temporal step sees one stylization and the region
edges inherit its consistency; the mask itself is carried along the flow
(:mod:`flowstyle.regions.mask`) so the edges do not boil.

:class:`RegionStylizer` has the stylizers' call shape, ``stylizer(frames) ->
stylized`` (plus an optional time for keyed styles), so a render loop uses it as
it uses any stylizer. The mask of a frame depends only on the input frames (the
model's mask and the flow between input frames), so a loop that stylizes frames
in parallel computes the masks in frame order where it decodes
(:meth:`RegionStylizer.masked`) and the workers pick them up by frame index; a
caller that goes frame by frame just calls the stylizer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import StyleError

REGION_NAMES = ("person", "background")
ORIGINAL = "none"  # a region left as the input frame

Stylize = Callable[..., Tensor]
MaskFn = Callable[[Tensor], Tensor]


def parse_regions(items: Sequence[str]) -> dict[str, str]:
    """``["person=none", "background=7"]`` -> ``{"person": "none", "background": "7"}``.

    Raises:
        StyleError: a malformed item, an unknown or repeated region name.
    """
    regions: dict[str, str] = {}
    for item in items:
        name, sep, style = item.partition("=")
        name, style = name.strip().lower(), style.strip()
        if not sep or not style:
            raise StyleError(f"--region '{item}': expected NAME=STYLE, e.g. --region background=7 (STYLE may be 'none')")
        if name not in REGION_NAMES:
            raise StyleError(f"--region '{item}': unknown region '{name}'; regions are {', '.join(REGION_NAMES)}")
        if name in regions:
            raise StyleError(f"--region '{item}': region '{name}' is given twice")
        regions[name] = style
    return regions


@dataclass(frozen=True)
class RegionOptions:
    """Per-region styles (unresolved specs; files are opened when the render is built).

    Attributes:
        person: style of the people (``none`` = as filmed); None = ``--style``.
        background: style of the rest; None = ``--style``.
        matte: matte video or image-sequence pattern (instead of the person mask).
        matte_style: style inside the matte (``none`` allowed); None = ``--style``.
        feather: soften the mask edge over about this many pixels.
        carry: how much of the previous (flow-warped) mask each frame keeps, 0 to < 1.
        matte_fit: scale a matte of another size to the frame.
    """

    person: str | None = None
    background: str | None = None
    matte: str | None = None
    matte_style: str | None = None
    feather: float = 0.0
    carry: float = 0.9
    matte_fit: bool = False

    def __post_init__(self) -> None:
        if self.feather < 0:
            raise StyleError(f"--feather must be >= 0 pixels, got {self.feather:g}")
        if not 0.0 <= self.carry < 1.0:
            raise StyleError(f"mask carry must be in [0, 1), got {self.carry:g}")
        if self.matte and (self.person or self.background):
            raise StyleError("--matte and --region cannot be combined: the matte decides the regions")
        if self.matte_style and not self.matte:
            raise StyleError("--matte-style needs --matte FILE")

    @property
    def active(self) -> bool:
        return bool(self.person or self.background or self.matte)


def region_options(regions: Sequence[str] = (), matte: str | None = None, matte_style: str | None = None,
                   feather: float = 0.0, matte_fit: bool = False) -> RegionOptions:
    """The options of the CLI's ``--region NAME=STYLE`` (repeatable), ``--matte``, ``--matte-style``, ``--feather``."""
    named = parse_regions(regions)
    return RegionOptions(person=named.get("person"), background=named.get("background"), matte=matte,
                         matte_style=matte_style, feather=feather, matte_fit=matte_fit)


def compose(inside: Tensor, outside: Tensor, mask: Tensor) -> Tensor:
    """``outside`` where ``mask`` is 0, ``inside`` where it is 1, mixed between: (B, 3, H, W) with mask (B, 1, H, W)."""
    return outside.lerp(inside, mask.to(outside.dtype))


def run_stylizer(stylizer: Stylize | None, frames: Tensor, t: float | None) -> Tensor:
    """``stylizer(frames)`` (with ``t`` for keyed styles); None stands for the original frames."""
    if stylizer is None:
        return frames.float()
    from ..stylize.keyframes import KeyframedStylizer

    if isinstance(stylizer, KeyframedStylizer):
        return stylizer(frames, 0.0 if t is None else t)
    return stylizer(frames)


def mask_tensor(mask: np.ndarray, like: Tensor) -> Tensor:
    """(H, W) float32 NumPy mask as (1, 1, H, W) on ``like``'s device."""
    return torch.from_numpy(mask)[None, None].to(like.device)


def frame_rgb(frames: Tensor) -> np.ndarray:
    """The first frame of (B, 3, H, W) in [0, 1] as uint8 (H, W, 3) for OpenCV."""
    return frames[0].permute(1, 2, 0).mul(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).cpu().numpy()


class RegionStylizer:
    """Stylize ``inside`` where the mask is 1 and ``outside`` where it is 0 (None = the original frame).

    ``masks`` maps the frames (1, 3, H, W) to their mask (1, 1, H, W) in [0, 1]; it may
    keep state between frames (the flow-carried mask). A region whose mask is empty in
    a frame is not stylized at all.
    """

    def __init__(self, inside: Stylize | None, outside: Stylize | None, masks: MaskFn) -> None:
        self.inside, self.outside, self.masks = inside, outside, masks
        self._ready: dict[int, Tensor] = {}  # masks made ahead by masked(), by frame index
        self._lock = threading.Lock()

    def masked(self, items: Iterator[tuple[Any, ...]], device: torch.device) -> Iterator[tuple[Any, ...]]:
        """Pass ``items`` (tuples whose first element is a :class:`~flowstyle.io.frames.Frame`) through,
        computing each frame's mask in order on the way; the stylizer call with ``key=frame.index`` uses it."""
        if device.type == "cpu":
            # This runs on the loop's decode thread beside one stylize worker per core: one
            # thread here (torch's count is per thread, and new threads start from the last set).
            torch.set_num_threads(1)
        for item in items:
            frame = item[0]
            x = torch.from_numpy(frame.rgb).to(device).permute(2, 0, 1)[None].float().div_(255.0)
            with torch.inference_mode():
                mask = self.masks(x)
            with self._lock:
                self._ready[frame.index] = mask
            yield item

    @torch.inference_mode()
    def __call__(self, frames: Tensor, t: float | None = None, key: int | None = None) -> Tensor:
        """Stylize ``frames`` (1, 3, H, W); ``t`` (seconds) for keyed styles, ``key`` the frame index when
        :meth:`masked` made the mask ahead (else it is made now: call in frame order)."""
        with self._lock:
            mask = self._ready.pop(key, None) if key is not None else None
        if mask is None:
            mask = self.masks(frames)
        if float(mask.max()) <= 1e-3:
            return run_stylizer(self.outside, frames, t)
        if float(mask.min()) >= 1.0 - 1e-3:
            return run_stylizer(self.inside, frames, t)
        return compose(run_stylizer(self.inside, frames, t), run_stylizer(self.outside, frames, t), mask)


def person_masks(segment: Callable[[Tensor], Tensor], feather_px: float = 0.0, carry: float = 0.9) -> MaskFn:
    """Flow-carried, feathered person masks of consecutive frames (``segment``: frames -> (B, 1, H, W))."""
    from .mask import MaskTracker

    tracker = MaskTracker(carry=carry, feather_px=feather_px)

    def masks(frames: Tensor) -> Tensor:
        raw = segment(frames)[0, 0].float().cpu().numpy()
        return mask_tensor(tracker(frame_rgb(frames), raw), frames)

    return masks


def matte_masks(read: Callable[[], np.ndarray], feather_px: float = 0.0) -> MaskFn:
    """The user's matte, one frame per call, feathered."""
    from .mask import feather

    return lambda frames: mask_tensor(np.ascontiguousarray(feather(read(), feather_px)), frames)
