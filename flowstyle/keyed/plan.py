"""Painted keys resolved against the clip, before anything is written: where each key sits, its picture
at the render's size, and the shots (a key belongs to its shot; propagation never crosses a cut).

Every refusal is one line naming the key or file (docs/keyframes.md, "Bad input").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError, InputError
from ..io.images import load_rgb
from ..io.source import FrameRange, FrameSource
from ..io.timecode import parse_position
from ..scenes import CutDetector, CutOptions
from ..tensors import to_uint8
from .options import PaintedKeyOptions

log = logging.getLogger(__name__)

ASPECT_TOLERANCE = 0.01  # a key may differ from the frame's aspect by 1% (rounding of a painted copy)
DEEP_SUFFIXES = {".tif", ".tiff", ".png"}


@dataclass(frozen=True)
class Shot:
    """Frames ``[start, stop)`` between cuts (within the rendered range) and its key frames, in order."""

    start: int
    stop: int
    keys: tuple[int, ...]


@dataclass(frozen=True)
class KeyPlan:
    """The shots and the given keys' pictures (frame -> picture at the render's size); a key frame of a
    shot that is not in ``given`` is painted by the render's style or method when it is reached."""

    shots: tuple[Shot, ...]
    given: dict[int, np.ndarray]

    @property
    def painted(self) -> int:
        return sum(k not in self.given for s in self.shots for k in s.keys)


def load_key(path: Path, size: tuple[int, int], deep: bool) -> np.ndarray:
    """The key picture at ``size`` (width, height): uint8 RGB, or float32 in [0, 1] when ``deep`` and the
    file holds 16 bits (what ``flowstyle frames`` writes for deep sources).

    Raises:
        InputError: a missing file, one that is not a picture, or an aspect that differs from the frame's.
    """
    if not path.is_file():
        raise InputError(path, "no such file" if not path.exists() else "not a file")
    picture = None
    if deep and path.suffix.lower() in DEEP_SUFFIXES:
        raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED | cv2.IMREAD_ANYDEPTH)
        if raw is not None and raw.dtype == np.uint16:
            raw = raw if raw.ndim == 3 else cv2.cvtColor(raw, cv2.COLOR_GRAY2BGR)
            picture = cv2.cvtColor(raw[..., :3], cv2.COLOR_BGR2RGB).astype(np.float32) / 65535.0
    if picture is None:
        picture = load_rgb(path)  # InputError: not a picture
    w, h = size
    kh, kw = picture.shape[:2]
    if abs((kw / kh) / (w / h) - 1.0) > ASPECT_TOLERANCE:
        raise InputError(path, f"a {kw}x{kh} key does not have the clip's aspect ({w}x{h} as rendered); "
                         "paint on a frame that flowstyle frames wrote")
    if (kw, kh) != (w, h):
        shrink = kw * kh > w * h
        picture = cv2.resize(picture, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4)
        if picture.dtype == np.float32:
            picture = np.clip(picture, 0.0, 1.0)
    return np.ascontiguousarray(picture)


def key_positions(options: PaintedKeyOptions, source: FrameSource, frames: FrameRange | None
                  ) -> list[tuple[int, Path]]:
    """``(frame, file)`` of each given key, in frame order; refused: two keys on one frame, a key before
    the range's first frame or at/after its end."""
    rate = source.frame_rate or 24
    start = frames.start if frames is not None else 0
    stop = frames.stop if frames is not None else None
    seen: dict[int, str] = {}
    out = []
    for text, file in options.parsed():
        index = parse_position(text, rate, source.timecode, "--keyframe")
        if index in seen:
            raise ConfigError("keyframes", f"two keys on frame {index}: {seen[index]} and {file}")
        if index < start or (stop is not None and index >= stop):
            last = f"{stop - 1}" if stop is not None else "the end"
            raise ConfigError("keyframes", f"the key {file} is on frame {index}, outside the frames rendered "
                                           f"({start} to {last})")
        seen[index] = file
        out.append((index, Path(file)))
    return sorted(out)


def resolve_keys(options: PaintedKeyOptions, source: FrameSource) -> PaintedKeyOptions:
    """``options`` with each key as ``INDEX=ABSOLUTE_PATH`` (a timecode or seconds turned into the frame
    it names on ``source``'s clock), every key file checked (missing, not a picture, another aspect):
    what a distributed render hands its tasks, which see a part of the clip and another working folder.

    Raises:
        ConfigError, InputError: one line each, as :func:`plan_keys`.
    """
    positions = key_positions(options, source, None)
    for _, path in positions:
        load_key(path, source.size, deep=False)
    return dataclasses.replace(options, keyframes=tuple(f"{index}={path.resolve()}" for index, path in positions))


def keys_within(options: PaintedKeyOptions, start: int, stop: int) -> PaintedKeyOptions:
    """The keys of resolved ``options`` (:func:`resolve_keys`) on frames ``[start, stop)``."""
    return dataclasses.replace(options, keyframes=tuple(
        text for text, (frame, _) in zip(options.keyframes, options.parsed()) if start <= int(frame) < stop))


def find_shots(source: FrameSource, frames: FrameRange | None, cuts: CutOptions | tuple[int, ...] | None
               ) -> list[tuple[int, int]]:
    """The shots ``(start, stop)`` of the rendered range: one decode pass with the render's cut detector
    (before the render, so a shot without a key is refused before anything is written)."""
    detector = CutDetector(cuts) if isinstance(cuts, CutOptions) else None
    known = set(cuts) if isinstance(cuts, tuple) else set()
    bounds, first, count = [], None, 0
    for frame in source.frames(frames):
        if first is None:
            first = frame.index
            bounds.append(first)
        cut = detector.is_cut(to_uint8(frame.rgb), frame.index) if detector is not None else frame.index in known
        if cut and frame.index != first:
            bounds.append(frame.index)
        count = frame.index + 1
    if first is None:
        raise InputError(getattr(source, "path", "input"), "no frames to render")
    return list(zip(bounds, bounds[1:] + [count]))


def plan_keys(options: PaintedKeyOptions, source: FrameSource, frames: FrameRange | None,
              cuts: CutOptions | tuple[int, ...] | None, deep: bool = False, can_paint: bool = True) -> KeyPlan:
    """Resolve ``options`` against ``source``: positions and files first (no decoding), then the shots.

    ``can_paint``: the render has a style or method to paint keys of its own (``--keyframes-every``,
    or a shot with no key); False refuses a shot without a given key.

    Raises:
        ConfigError, InputError: one line each (see :func:`key_positions`, :func:`load_key`), and a
            shot with no key when keys cannot be painted, or a key beyond the clip's last frame.
    """
    positions = key_positions(options, source, frames)
    given = {index: load_key(path, source.size, deep) for index, path in positions}
    shots = find_shots(source, frames, cuts)
    end = shots[-1][1]
    for index, path in positions:
        if index >= end:
            raise ConfigError("keyframes", f"the key {path} is on frame {index}, after the clip's last frame ({end - 1})")
    paint = options.every is not None or options.paint_keyless
    out = []
    for start, stop in shots:
        keys = tuple(k for k in given if start <= k < stop)
        if not keys:
            if not (paint and can_paint):
                raise ConfigError("keyframes", f"the shot of frames {start} to {stop - 1} has no key: give one "
                                               "with --keyframe, or a --style to paint its keys")
            keys = tuple(range(start, stop, options.spacing))
        out.append(Shot(start, stop, tuple(sorted(keys))))
    plan = KeyPlan(tuple(out), given)
    log.info("painted keys: %d given, %d to paint, over %d shot(s)", len(given), plan.painted, len(out))
    return plan


def spans(shot: Shot) -> Sequence[tuple[int, int, bool, bool]]:
    """``(first, last, key at first, key at last)`` of each stretch of ``shot`` between neighbouring keys
    (inclusive; consecutive spans share their key frame), the stretch before the first key and after
    the last one included."""
    k = shot.keys
    out = []
    if shot.start < k[0]:
        out.append((shot.start, k[0], False, True))
    out += [(a, b, True, True) for a, b in zip(k, k[1:])]
    out.append((k[-1], shot.stop - 1, True, False))
    return out
