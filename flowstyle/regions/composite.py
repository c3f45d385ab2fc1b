"""Region composite: one stylization per region, mixed by a soft mask, before the temporal step (docs/regions.md).

``--region person=none --region background=7`` keeps the people as filmed and
paints the rest; ``--matte FILE --matte-style 3`` paints the matte's white with
style 3 and the rest with ``--style``. The composite is made per frame, before
the temporal step, so the temporal step sees one stylization and the region
edges inherit its consistency; the mask itself is carried along the flow
(:mod:`flowstyle.regions.mask`) so the edges do not boil.

:class:`RegionStylizer` is a :class:`~flowstyle.stylize.base.Stylizer` that wraps
one stylizer per region (each a ``TrackStylizer``, whose track may have keys) and
mixes their pictures by the mask. The mask of a frame depends only on the input
frames (the model's mask and the flow between input frames) but carries state
from frame to frame, so it is made in frame order by the pipeline's ordered hook, ``prepare(frame, shot_start)``, on the decode thread
(docs/architecture.md, "Seams"); the stylize workers stay parallel and pick the
mask up by frame index. A caller that goes frame by frame may skip ``prepare``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError, InputError
from ..io.frames import Frame
from ..stylize.base import Stylizer
from ..temporal import Motion
from ..tensors import rgb_to_tensor

REGION_NAMES = ("person", "background")
MATTE_REGION = "matte"  # --region-at's name of the region inside a matte (--matte-style's region)
ORIGINAL = "none"  # a region left as the input frame
INPUT_ALPHA = "alpha"  # --matte alpha: the input's own alpha channel is the matte

#: A frame's mask (H, W) float32 in [0, 1] from the frame and whether a shot starts there; called in frame order.
# (frame, shot_start, motion) -> mask; ``motion`` (the temporal step's, with ``flow_bwd``
# at frame size) or None, for masks that follow the texture's flow.
MaskFn = Callable[[Frame, bool, Motion | None], np.ndarray]


def split_named(item: str, sep: str, field: str, expected: str) -> tuple[str, str]:
    """``NAME<sep>REST`` of one item, the name lower-cased; a malformed item is ``field``'s ConfigError."""
    name, found, rest = item.partition(sep)
    name, rest = name.strip().lower(), rest.strip()
    if not found or not rest:
        raise ConfigError(field, f"'{item}': expected {expected}")
    return name, rest


def parse_regions(items: Sequence[str]) -> dict[str, str]:
    """``["person=none", "background=7"]`` -> ``{"person": "none", "background": "7"}``.

    Raises:
        ConfigError: (field ``regions``) a malformed item, an unknown or repeated region name.
    """
    regions: dict[str, str] = {}
    for item in items:
        name, style = split_named(item, "=", "regions", "NAME=STYLE, e.g. background=7 (STYLE may be 'none')")
        if name not in REGION_NAMES:
            raise ConfigError("regions", f"'{item}': unknown region '{name}'; regions are {', '.join(REGION_NAMES)}")
        if name in regions:
            raise ConfigError("regions", f"'{item}': region '{name}' is given twice")
        regions[name] = style
    return regions


def parse_region_keys(items: Sequence[str], matte: bool = False) -> dict[str, tuple[str, ...]]:
    """``["background@0s=7", "background@4s=3"]`` -> ``{"background": ("0s=7", "4s=3")}``: each region's
    ``TIME=STYLE`` keys, in the order given (times are read when the clip is open: they need its rate).

    Issue #16: "a region's style can have keys". The regions that can be keyed are
    those whose style ``--region``/``--matte-style`` set: ``person`` and
    ``background``, or with a ``matte`` the region inside it (outside is ``--style``,
    keyed by ``--style-at``).

    Raises:
        ConfigError: (field ``region_at``) a malformed item, an unknown region, a ``none`` key.
    """
    names = (MATTE_REGION,) if matte else REGION_NAMES
    keys: dict[str, list[str]] = {}
    for item in items:
        name, key = split_named(item, "@", "region_at", "NAME@TIME=STYLE, e.g. background@4s=7")
        if name not in names:
            other = ("; with --matte the region inside it is 'matte' and outside is --style (keyed by --style-at)"
                     if matte else "; 'matte' needs --matte" if name == MATTE_REGION else "")
            raise ConfigError("region_at", f"'{item}': unknown region '{name}'; keyed regions are "
                                           f"{', '.join(names)}{other}")
        if key.partition("=")[2].strip().lower() == ORIGINAL:
            raise ConfigError("region_at", f"'{item}': a key is a style; 'none' (as filmed) is --region {name}=none")
        keys.setdefault(name, []).append(key)
    return {name: tuple(k) for name, k in keys.items()}


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
        region_at: ``NAME@TIME=STYLE`` keys of a region's own style (``--region-at``; see
            :func:`parse_region_keys`); a keyed region has no fixed style.
    """

    person: str | None = None
    background: str | None = None
    matte: str | None = None
    matte_style: str | None = None
    feather: float = 0.0
    carry: float = 0.9
    matte_fit: bool = False
    region_at: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.feather < 0:
            raise ConfigError("feather", f"must be >= 0 pixels, got {self.feather:g}")
        if not 0.0 <= self.carry < 1.0:
            raise ConfigError("carry", f"must be in [0, 1), got {self.carry:g}")
        if self.matte and (self.person or self.background):
            raise ConfigError("matte", "cannot be combined with person/background regions: the matte decides the regions")
        if self.matte_style and not self.matte:
            raise ConfigError("matte_style", "needs a matte (--matte FILE)")
        fixed = {"person": self.person, "background": self.background, MATTE_REGION: self.matte_style}
        for name in self.region_keys:  # strings only: the times are read when the clip is open
            if fixed[name] is not None:
                raise ConfigError("region_at", f"region '{name}' has both a style ({fixed[name]}) and keys; "
                                               f"give its first style as a key at 0s instead")

    @property
    def region_keys(self) -> dict[str, tuple[str, ...]]:
        """Each keyed region's ``TIME=STYLE`` items."""
        return parse_region_keys(self.region_at, matte=bool(self.matte))

    @property
    def active(self) -> bool:
        return bool(self.person or self.background or self.matte or self.region_at)


def region_options(regions: Sequence[str] = (), matte: str | None = None, matte_style: str | None = None,
                   feather: float = 0.0, matte_fit: bool = False, region_at: Sequence[str] = ()) -> RegionOptions:
    """The options of the CLI's ``--region NAME=STYLE`` (repeatable), ``--matte``, ``--matte-style``, ``--feather``
    and ``--region-at NAME@TIME=STYLE`` (repeatable); the studio's form goes through here too."""
    named = parse_regions(regions)
    return RegionOptions(person=named.get("person"), background=named.get("background"), matte=matte,
                         matte_style=matte_style, feather=feather, matte_fit=matte_fit, region_at=tuple(region_at))


def compose(inside: np.ndarray, outside: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``outside`` where ``mask`` is 0, ``inside`` where it is 1, mixed between: uint8 (H, W, 3) with mask (H, W).

    OpenCV's blendLinear (rounded, saturated): 0.3 ms at 640x360 against 1.4 ms for the
    same sum in NumPy floats (the regions' speed budget, docs/regions.md).
    """
    mask = np.ascontiguousarray(mask, dtype=np.float32)
    return cv2.blendLinear(inside, outside, mask, 1.0 - mask)


def frame_rgb(frame: Frame) -> np.ndarray:
    """The frame's picture as uint8 (H, W, 3) for OpenCV and the masks (a deep source's float in [0, 1] rounded)."""
    if frame.rgb.dtype == np.uint8:
        return frame.rgb
    return (np.clip(frame.rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class RegionStylizer:
    """Stylize with ``inside`` where the mask is 1 and ``outside`` where it is 0 (None = the original frame).

    ``masks`` makes a frame's mask; it may keep state between frames (the flow-carried
    mask), so it is called in frame order: from :meth:`prepare` (the pipeline's ordered
    hook) or, without it, from :meth:`stylize`. A region whose mask is empty in a frame
    is not stylized at all.
    """

    def __init__(self, inside: Stylizer | None, outside: Stylizer | None, masks: MaskFn) -> None:
        self.inside, self.outside, self.masks = inside, outside, masks
        # A sequential region stylizer (none today) makes the composite sequential.
        self.sequential = any(s is not None and s.sequential for s in (inside, outside))
        self._ready: dict[int, np.ndarray] = {}  # masks made by prepare(), waiting for their frame's stylize()
        self._lock = threading.Lock()

    # The pipeline hands prepare() the temporal step's motion of the frame (pipeline.prepared).
    prepare_motion = True

    def prepare(self, frame: Frame, shot_start: bool, motion: Motion | None = None) -> None:
        """Make ``frame``'s mask; called by the pipeline in frame order on its decode thread, with the
        temporal step's motion of the frame when there is one."""
        mask = self.masks(frame, shot_start, motion)
        with self._lock:
            self._ready[frame.index] = mask
        for region in (self.inside, self.outside):  # the regions' own ordered hooks (a painting's content vector)
            hook = getattr(region, "prepare", None)
            if hook is not None:
                hook(frame, shot_start)

    def mask(self, frame: Frame, shot_start: bool) -> np.ndarray:
        with self._lock:
            mask = self._ready.pop(frame.index, None)
        return mask if mask is not None else self.masks(frame, shot_start, None)

    def _region(self, stylizer: Stylizer | None, frame: Frame, shot_start: bool) -> np.ndarray:
        return frame_rgb(frame) if stylizer is None else stylizer.stylize(frame, shot_start)

    def stylize(self, frame: Frame, shot_start: bool) -> np.ndarray:
        mask = self.mask(frame, shot_start)
        if float(mask.max()) <= 1e-3:
            return self._region(self.outside, frame, shot_start)
        if float(mask.min()) >= 1.0 - 1e-3:
            return self._region(self.inside, frame, shot_start)
        return compose(self._region(self.inside, frame, shot_start), self._region(self.outside, frame, shot_start),
                       mask)


def person_masks(segment: Callable[..., Tensor], feather_px: float = 0.0, carry: float = 0.9) -> MaskFn:
    """Flow-carried, feathered person masks of consecutive frames (``segment``: frames (B, 3, H, W) -> (B, 1, H, W)).

    In a render with a temporal step the tracker follows that step's backward flow, which
    the pipeline makes on its decode thread and hands to ``prepare``; otherwise it
    computes its own (docs/regions.md).
    """
    from .mask import MaskTracker

    tracker = MaskTracker(carry=carry, feather_px=feather_px)

    def masks(frame: Frame, shot_start: bool, motion: Motion | None = None) -> np.ndarray:
        if shot_start:  # a scene cut: the previous mask says nothing about this shot
            tracker.reset()
        rgb = frame_rgb(frame)
        x = rgb_to_tensor(rgb, torch.device("cpu"))
        size = tracker.working_size(rgb.shape[1], rgb.shape[0])
        # Square tiles (PersonSegmenter.tiles) where the segmenter has them: the whole-frame
        # landscape model missed small full-body people in 23 of chaplin.mp4's 241 frames.
        read = getattr(segment, "tiles", segment)
        with torch.inference_mode():
            raw = read(x, size)[0, 0].float().cpu().numpy()
        return tracker(rgb, raw, None if motion is None else motion.flow_bwd)

    return masks


def matte_masks(read: Callable[[int], np.ndarray], feather_px: float = 0.0) -> MaskFn:
    """The user's matte frame for each input frame (by index), feathered."""
    from .mask import feather

    return lambda frame, shot_start, motion=None: np.ascontiguousarray(feather(read(frame.index), feather_px))


def alpha_masks(input_name: str, feather_px: float = 0.0) -> MaskFn:
    """``--matte alpha``: each frame's own alpha channel (sources that deliver it, e.g. RGBA PNG sequences), feathered.

    Raises (on the first frame):
        InputError: the input has no alpha channel.
    """
    from .mask import feather

    def masks(frame: Frame, shot_start: bool, motion: Motion | None = None) -> np.ndarray:
        if frame.alpha is None:
            raise InputError(input_name, "--matte alpha: the input has no alpha channel; give a matte file instead")
        a = frame.alpha.astype(np.float32)
        if frame.alpha.dtype == np.uint8:
            a *= np.float32(1.0 / 255.0)
        return np.ascontiguousarray(feather(a, feather_px))

    return masks
