"""The render pipeline: decode -> stylize -> encode with audio, streaming.

``render()`` is the Python API the CLI calls. It only wires the pieces:
:class:`~flowstyle.io.reader.VideoReader` on a prefetch thread, the stylizer on
the calling thread, :class:`~flowstyle.io.writer.VideoWriter` on an encode
thread, all inside :func:`~flowstyle.io.atomic.atomic_output` so a failed or
interrupted render leaves no file behind.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .device import resolve_device, resolve_precision
from .io.atomic import atomic_output, check_paths
from .io.frames import Frame
from .io.reader import SizePolicy, VideoReader
from .io.writer import EncodeOptions, VideoWriter
from .stylize.feedforward import StyleOptions, make_stylizer
from .flow import make_flow_backend
from .regions.build import make_render_stylizer
from .regions.composite import RegionOptions, RegionStylizer
from .stylize.keyframes import KeyframeOptions
from .scenes import CutDetector
from .temporal import Motion, Stabilizer, TemporalOptions
from .threads import BackgroundWorker, Prefetcher, intra_op_threads, ordered_map

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class Progress:
    """Where a render is: frames written so far, and how far into the clip by time.

    ``expected`` is the container's frame count, which VFR containers overstate
    (tree.avi announces 444 frames and codes 68); ``fraction`` (media time of the
    last frame over the duration) is the honest measure of progress.
    """

    frames: int
    expected: int | None
    fraction: float | None


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class RenderConfig:
    """Everything that decides a render's output (besides the input file)."""

    style: StyleOptions = field(default_factory=StyleOptions)
    encode: EncodeOptions = field(default_factory=EncodeOptions)
    size: SizePolicy = field(default_factory=SizePolicy)
    device: str = "auto"
    precision: str = "auto"
    copy_audio: bool = True
    temporal: TemporalOptions = field(default_factory=TemporalOptions)
    workers: int = 0  # frames stylized in parallel; 0 = auto (one per core on CPU, 1 on CUDA)
    io_threads: int = 0  # threads inside each of decode, scale and encode; 0 = auto (see io_threads())
    regions: RegionOptions = field(default_factory=RegionOptions)  # issue #16
    keys: KeyframeOptions = field(default_factory=KeyframeOptions)  # issue #16


def io_threads(requested: int, device: torch.device) -> int:
    """Threads libav may use inside the decoder, swscale and x264.

    When the network runs on the CPU, every core is already busy with a frame of
    its own, and libav's internal threads only add synchronisation: one thread each
    cuts the I/O's CPU time per 640x360 frame from 11 to 8.5 ms (decode 2.7 -> 2.3,
    AREA scaling 3.3 -> 2.0, RGB->YUV 1.1 -> 0.5, x264 3.9 -> 3.7). With a GPU the
    cores are free and decode becomes the bottleneck, so libav picks (0).
    """
    if requested > 0:
        return requested
    return 1 if device.type == "cpu" else 0


def stylize_workers(requested: int, device: torch.device) -> int:
    """How many frames to stylize at once.

    On CPU, one single-threaded network per core beats one network on all cores
    once decode and encode share those cores: an I/O thread that takes a core
    from a parallel region stalls the whole region, whereas independent frames
    just share time (measured on bigbuckbunny at 640 px, 2 cores: 25.5 -> 30 frames/s).
    A GPU runs one frame at a time.
    """
    if requested > 0:
        return requested
    return 1 if device.type != "cpu" else max(1, torch.get_num_threads())


@dataclass(frozen=True)
class RenderReport:
    input: Path
    output: Path
    frames: int
    lost_frames: int
    seconds: float
    size: tuple[int, int]
    device: str
    dtype: str

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def rgb_to_tensor(rgb: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (1, 3, H, W) in [0, 1] on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(rgb)).to(device, non_blocking=True)
    return t.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def frame_to_tensor(frame: Frame, device: torch.device) -> torch.Tensor:
    """A decoded frame as float (1, 3, H, W) in [0, 1] on ``device``."""
    return rgb_to_tensor(frame.rgb, device)


def tensor_to_rgb(t: torch.Tensor) -> np.ndarray:
    """float (1, 3, H, W) in [0, 1] -> uint8 (H, W, 3), rounded."""
    return t[0].mul(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).contiguous().cpu().numpy()


def with_predecessors(frames: Iterator[Frame], detector: CutDetector | None) -> Iterator[tuple[Frame, np.ndarray | None]]:
    """Pair each frame with the previous input frame, or None at the start of a shot (scene cut)."""
    prev: np.ndarray | None = None
    for frame in frames:
        if detector is not None and detector.is_cut(frame.rgb):
            log.info("scene cut at frame %d (%.3f s): temporal state reset", frame.index, frame.time)
            prev = None
        yield frame, prev
        prev = frame.rgb


def render(input_path: str | Path, output_path: str | Path, config: RenderConfig = RenderConfig(),
           overwrite: bool = False, progress: ProgressFn | None = None) -> RenderReport:
    """Stylize ``input_path`` into ``output_path`` (H.264, audio copied, timing kept).

    Raises:
        FlowstyleError: for bad input, outputs that cannot be written, unknown
            styles, missing weights or devices; no output file exists then.
    """
    src, dst = Path(input_path), Path(output_path)
    check_paths(src, dst, overwrite)
    device = resolve_device(config.device)
    dtype = resolve_precision(config.precision, device)
    timed = config.regions.active or config.keys.active  # issue #16: stylizer(frames, t), built once the clip is open
    stylizer = None if timed else make_stylizer(config.style, device, dtype)
    start = time.perf_counter()
    threads = io_threads(config.io_threads, device)
    encode = config.encode if config.encode.threads else dataclasses.replace(config.encode, threads=threads)
    with VideoReader(src, config.size, threads=threads) as reader, atomic_output(dst) as tmp:
        writer = VideoWriter(tmp, reader.size, reader.time_base, reader.rate, reader.colour,
                             encode, audio_source=src if config.copy_audio else None,
                             metadata=dict(reader.container.metadata), display_path=dst)
        log.info("%s: %dx%d -> %s, %s on %s", src, *reader.size, dst, str(dtype).removeprefix("torch."), device)
        if timed:  # keys need the clip's rate and duration, a matte its size and length
            stylizer = make_render_stylizer(config.style, config.regions, config.keys, device, dtype, reader.size,
                                            reader.rate, reader.duration, reader.stats.expected or None)
        topts = config.temporal
        detector = CutDetector(topts.cuts) if topts.cuts is not None and topts.mode != "none" else None
        pairs = with_predecessors(iter(reader), detector)
        if isinstance(stylizer, RegionStylizer):  # issue #16: masks follow the flow in frame order, on the decode thread
            pairs = stylizer.masked(pairs, device)
        frames = Prefetcher(pairs, depth=4, name="decode")
        encoder: BackgroundWorker[tuple[np.ndarray, int]] = BackgroundWorker(lambda item: writer.write(*item), depth=4, name="encode")
        workers = stylize_workers(config.workers, device)
        stabilizer = Stabilizer(topts)
        flows = threading.local()  # OpenCV flow objects keep state: one per worker thread

        def stylize(item: tuple[Frame, np.ndarray | None]) -> tuple[Frame, np.ndarray, Motion | None]:
            frame, prev = item
            x = frame_to_tensor(frame, device)
            t = frame.time - reader.start_time
            out = stylizer(x, t, key=frame.index) if isinstance(stylizer, RegionStylizer) else stylizer(x, t) if timed else stylizer(x)
            rgb = tensor_to_rgb(out)  # on the parallel worker
            motion = None
            if prev is not None and topts.mode != "none":
                if not hasattr(flows, "backend"):
                    flows.backend = make_flow_backend(topts.flow, topts.flow_scale)
                motion = stabilizer.motion(prev, frame.rgb, flows.backend)
            return frame, rgb, motion

        done = 0
        duration = reader.duration
        try:
            with intra_op_threads(1 if workers > 1 else None):
                for frame, stylized, motion in ordered_map(stylize, iter(frames), workers):
                    encoder.submit((stabilizer(stylized, motion), frame.pts))
                    done += 1
                    if progress is not None:
                        fraction = min(1.0, max(0.0, (frame.time - reader.start_time) / duration)) if duration else None
                        progress(Progress(done, reader.stats.expected or None, fraction))
            encoder.finish()
            writer.close()
        except BaseException:
            frames.close()
            encoder.cancel()
            writer.abort()
            raise
        stats = reader.stats
    seconds = time.perf_counter() - start
    if stats.lost:
        log.warning("%s: %d of %d frames could not be decoded (damaged or truncated file); wrote the %d that did",
                    src, stats.lost, stats.expected, done)
    return RenderReport(input=src, output=dst, frames=done, lost_frames=stats.lost, seconds=seconds,
                        size=reader.size, device=str(device), dtype=str(dtype).removeprefix("torch."))
