"""Training data streamed from video files and pictures: random crops with a fixed seed.

No folder of extracted frames is needed: each source (a clip, or a folder of
pictures taken in name order as a sequence) is decoded front to back, frames are
kept at random (``rate``), cropped at a random place, scale and mirror, and go
through a small shuffle buffer so a batch mixes sources and shots. With
``pairs=True`` the items are neighbouring frames (t-1, t) of one shot, cropped
alike, with the flow from t back to t-1 and its reliability mask (Ruder et al.'s
forward-backward check), computed once and cached (:mod:`flowstyle.train.flowcache`).

Everything random comes from one NumPy generator seeded by ``seed``, drawn in a
fixed order, and :meth:`CropStream.state_dict` captures the generator, the
position in the current source and the buffer, so a resumed run draws exactly
the crops an uninterrupted one would.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..flow.remap import identity_grid
from ..io.images import load_rgb
from ..io.reader import SizePolicy, VideoReader
from ..scenes import CutDetector
from .flowcache import FlowCache

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class Source:
    """A clip, or pictures shown in order (a folder's images sorted by name)."""

    path: Path
    pictures: tuple[Path, ...] = ()

    @property
    def is_video(self) -> bool:
        return not self.pictures

    @property
    def label(self) -> str:
        return str(self.path)


def find_sources(paths: Sequence[str | Path], exclude: Sequence[str | Path] = ()) -> list[Source]:
    """Clips and picture folders under ``paths`` (files or folders, searched recursively), sorted.

    A folder's pictures form one source (a sequence: neighbouring names are
    neighbouring frames where they belong to one shot; cuts between unrelated
    pictures are detected and never used as pairs). ``exclude`` drops files, e.g. held-out clips.
    """
    skip = {Path(p).resolve() for p in exclude}
    sources: list[Source] = []
    for given in paths:
        root = Path(given).expanduser()
        if not root.exists():
            raise InputError(root, "no such file or folder")
        if root.is_file():
            suffix = root.suffix.lower()
            if suffix in VIDEO_SUFFIXES:
                sources.append(Source(root))
            elif suffix in IMAGE_SUFFIXES:
                sources.append(Source(root, (root,)))
            else:
                raise InputError(root, "not a clip or picture (use a video file, an image or a folder of them)")
            continue
        by_folder: dict[Path, list[Path]] = {}
        for f in sorted(root.rglob("*")):
            if not f.is_file() or f.resolve() in skip:
                continue
            if f.suffix.lower() in VIDEO_SUFFIXES:
                sources.append(Source(f))
            elif f.suffix.lower() in IMAGE_SUFFIXES:
                by_folder.setdefault(f.parent, []).append(f)
        sources += [Source(folder, tuple(files)) for folder, files in by_folder.items()]
    sources = sorted({s.label: s for s in sources if s.path.resolve() not in skip}.values(), key=lambda s: s.label)
    if not sources:
        raise InputError(", ".join(map(str, paths)) or "(none)", "no clips or pictures to train on")
    return sources


def _fit(rgb: np.ndarray, short_side: int) -> np.ndarray:
    """``rgb`` scaled so its shorter side is ``short_side`` (area when shrinking, cubic when enlarging)."""
    h, w = rgb.shape[:2]
    s = short_side / min(h, w)
    size = (max(short_side, round(w * s)), max(short_side, round(h * s)))
    if size == (w, h):
        return rgb
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)


def iter_frames(source: Source, short_side: int) -> Iterator[np.ndarray]:
    """uint8 RGB frames of ``source`` in order, shorter side ``short_side``."""
    if not source.is_video:
        for picture in source.pictures:
            yield _fit(load_rgb(picture), short_side)
        return
    # Decoded straight to the training scale: swscale resizes in the colour conversion,
    # from the displayed (rotated, square-pixel) size.
    with VideoReader(source.path, SizePolicy(short_side=short_side), threads=1) as reader:
        for frame in reader:
            yield frame.rgb


@dataclass
class Batch:
    """uint8 crops (N, S, S, 3); for pairs also the previous frames, flows (N, S, S, 2) and masks (N, S, S)."""

    frames: np.ndarray
    prev: np.ndarray | None = None
    flow_bwd: np.ndarray | None = None
    mask: np.ndarray | None = None


class CropStream:
    """An endless, seeded, resumable stream of random crops (or crop pairs) from ``sources``.

    Args:
        sources: clips and picture sequences (:func:`find_sources`).
        crop: side of the square crops.
        seed: seeds every random choice.
        pairs: neighbouring frames with flow and mask (temporal training) instead of single frames.
        rate: fraction of a clip's frames (or pairs) used per pass; pictures are always used.
        buffer: shuffle-buffer size.
        scale: single frames are enlarged by a random factor in [1, scale] before cropping
            (pairs are not: their flow is cached at one scale).
        flow_cache: where pair flows are cached (required with ``pairs``).
    """

    def __init__(self, sources: Sequence[Source], crop: int = 256, seed: int = 0, pairs: bool = False,
                 rate: float = 0.25, buffer: int = 16, scale: float = 1.5, flow_cache: FlowCache | None = None) -> None:
        if pairs and flow_cache is None:
            raise ValueError("pairs need a flow cache")
        if pairs and not any(s.is_video or len(s.pictures) > 1 for s in sources):
            raise InputError(sources[0].label if sources else "(none)", "temporal training needs clips or picture sequences")
        self.sources = list(sources)
        self.crop = crop
        self.short_side = round(crop * 1.125)  # a little context around every crop
        self.pairs = pairs
        self.rate = rate
        self.buffer_size = buffer
        self.scale = scale
        self.flow_cache = flow_cache
        self.rng = np.random.default_rng(seed)
        self.order: list[int] = []
        self.position = 0  # index into order
        self.consumed = 0  # frames read from the current source
        self.buffer: list[tuple[np.ndarray, ...]] = []
        self._frames: Iterator[np.ndarray] | None = None
        self._prev: np.ndarray | None = None
        self._prev_frame: np.ndarray | None = None
        self._cuts = CutDetector()

    # -- state ------------------------------------------------------------
    def state_dict(self) -> dict:
        """Everything needed to continue the stream exactly (JSON-able but for the buffer arrays)."""
        return {"rng": self.rng.bit_generator.state, "order": list(self.order), "position": self.position,
                "consumed": self.consumed, "buffer": [list(item) for item in self.buffer]}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.order, self.position, self.consumed = list(state["order"]), state["position"], state["consumed"]
        self.buffer = [tuple(item) for item in state["buffer"]]
        self._frames = None
        if self.order and self.consumed:
            self._open()
            for _ in range(self.consumed):  # back to where the saved stream stood (one source's frames at most)
                self._read(replay=True)

    # -- reading ----------------------------------------------------------
    def _open(self) -> None:
        source = self.sources[self.order[self.position]]
        self._frames = iter_frames(source, self.short_side)
        self._prev = None
        self._cuts = CutDetector()

    def _next_source(self) -> None:
        self.position += 1
        if self.position >= len(self.order):
            self.order = [int(i) for i in self.rng.permutation(len(self.sources))]
            self.position = 0
        self.consumed = 0
        self._open()

    def _read(self, replay: bool = False) -> tuple[np.ndarray, bool] | None:
        """The next frame of the current source and whether it follows the previous one in its shot."""
        assert self._frames is not None
        rgb = next(self._frames, None)
        if rgb is None:
            return None
        cut = self._cuts.is_cut(rgb)
        follows = self._prev is not None and not cut and self._prev.shape == rgb.shape
        self._prev_frame, self._prev = self._prev, rgb
        if not replay:
            self.consumed += 1
        return rgb, follows

    def _candidate(self) -> tuple[np.ndarray, ...]:
        """The next crop (or crop pair) from the sources, in the seeded order."""
        while True:
            if self._frames is None:
                if not self.order:
                    self.order = [int(i) for i in self.rng.permutation(len(self.sources))]
                    self.position = 0
                self._open()
            got = self._read()
            if got is None:
                self._next_source()
                continue
            rgb, follows = got
            source = self.sources[self.order[self.position]]
            if self.pairs:
                if not follows:
                    continue
                take = self.rng.random() < self.rate
                if take:
                    return self._crop_pair(source, self.consumed - 1, self._prev_frame, rgb)
            else:
                take = (not source.is_video) or self.rng.random() < self.rate
                if take:
                    return (self._crop(rgb),)

    def _crop(self, rgb: np.ndarray) -> np.ndarray:
        s = self.rng.uniform(1.0, self.scale)
        flip = self.rng.random() < 0.5
        h, w = rgb.shape[:2]
        if s > 1.0:
            rgb = cv2.resize(rgb, (max(self.crop, round(w * s)), max(self.crop, round(h * s))), interpolation=cv2.INTER_CUBIC)
        h, w = rgb.shape[:2]
        y, x = int(self.rng.integers(h - self.crop + 1)), int(self.rng.integers(w - self.crop + 1))
        out = rgb[y:y + self.crop, x:x + self.crop]
        return np.ascontiguousarray(out[:, ::-1] if flip else out)

    def _crop_pair(self, source: Source, index: int, prev: np.ndarray, rgb: np.ndarray) -> tuple[np.ndarray, ...]:
        assert self.flow_cache is not None
        flow, mask = self.flow_cache.get(source.label, index, prev, rgb)
        h, w = rgb.shape[:2]
        y, x = int(self.rng.integers(h - self.crop + 1)), int(self.rng.integers(w - self.crop + 1))
        sl = (slice(y, y + self.crop), slice(x, x + self.crop))
        f = flow[sl].astype(np.float32)
        # A crop's flow may point outside the crop: those pixels have no source here.
        xs, ys = identity_grid(self.crop, self.crop)
        sx, sy = xs + f[..., 0], ys + f[..., 1]
        inside = (sx >= 0) & (sx <= self.crop - 1) & (sy >= 0) & (sy <= self.crop - 1)
        m = mask[sl].astype(np.float32) * inside
        return (np.ascontiguousarray(rgb[sl]), np.ascontiguousarray(prev[sl]), f, m)

    def next_item(self) -> tuple[np.ndarray, ...]:
        """One crop (tuple of one array) or pair (frame, prev, flow, mask), through the shuffle buffer."""
        while len(self.buffer) < self.buffer_size:
            self.buffer.append(self._candidate())
        i = int(self.rng.integers(len(self.buffer)))
        item = self.buffer[i]
        self.buffer[i] = self._candidate()
        return item

    def next_batch(self, n: int) -> Batch:
        items = [self.next_item() for _ in range(n)]
        if not self.pairs:
            return Batch(np.stack([it[0] for it in items]))
        return Batch(*(np.stack([it[k] for it in items]) for k in range(4)))
