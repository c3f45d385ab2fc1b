"""The seams of issue #13 (docs/architecture.md, "Seams"): one contract suite over every
FrameSource and FrameSink format, and the pipeline and its threads under failure and
cancellation.

To add a format, add an entry to SOURCE_KINDS / SINK_KINDS: a function that writes
the given pictures in that format (sources) or reads a written output back (sinks).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from flowstyle.errors import Cancelled, ConfigError
from flowstyle.io.colour import ColourTags
from flowstyle.io.formats import SINKS, SOURCES, get_sink, get_source
from flowstyle.io.frames import Frame
from flowstyle.io.sink import FrameSink
from flowstyle.io.source import FrameRange, FrameSource, ReadOptions, StreamSpec
from flowstyle.pipeline import run
from flowstyle.progress import Progress
from flowstyle.stylize.base import Stylizer
from flowstyle.temporal import PerFrame, Stabilizer, TemporalOptions
from flowstyle.threads import BackgroundWorker, Prefetcher, ordered_map

from synth import picture, write_clip

N, SIZE, TB = 24, (64, 48), Fraction(1, 25)
PICTURES = [picture(i, *SIZE) for i in range(N)]


def write_video(folder: Path, pictures: list[np.ndarray]) -> Path:
    """Lossless RGB H.264 with a keyframe every 5 frames, so seeks land mid-GOP."""
    return write_clip(folder / "src.mkv", range(len(pictures)), TB, size=SIZE, codec="libx264rgb", pix_fmt="rgb24",
                      frames=pictures, options={"qp": "0", "g": "5", "keyint_min": "5", "bf": "2"})


def read_video(path: Path) -> list[Frame]:
    with get_source(path) as source:
        return list(source.frames())


def write_sequence(folder: Path, pictures: list[np.ndarray]) -> Path:
    """PNG images numbered from 1001 (film numbering), read back as a folder."""
    pattern = folder / "shot" / "f_%04d.png"
    sink = get_sink(pattern, StreamSpec(SIZE, TB, Fraction(25), ColourTags(1, 1, 1, 1), first_number=1001))
    for i, rgb in enumerate(pictures):
        sink.write(rgb, i)
    sink.close()
    return pattern.parent


def read_sequence(path: Path) -> list[Frame]:
    with get_source(path, options=ReadOptions(fps=25, allow_gaps=True)) as source:
        return list(source.frames())


# name in io.formats -> (write pictures in the format, output file name for sinks, read the output back)
SOURCE_KINDS: dict[str, Callable[[Path, list[np.ndarray]], Path]] = {"video": write_video, "sequence": write_sequence}
SINK_KINDS: dict[str, tuple[str, Callable[[Path], list[Frame]], float]] = {
    "video": ("out.mp4", read_video, 4.0),  # yuv420p at crf 18: mean error in grey levels
    "sequence": ("out/f_%06d.png", read_sequence, 0.0),  # PNG is lossless
}


def test_every_registered_format_has_a_contract_fixture() -> None:
    assert {f.name for f in SOURCES} <= set(SOURCE_KINDS)
    assert {f.name for f in SINKS} <= set(SINK_KINDS)


@pytest.fixture(params=sorted(SOURCE_KINDS))
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrameSource]:
    path = SOURCE_KINDS[request.param](tmp_path_factory.mktemp("source"), PICTURES)
    with get_source(path, format=request.param, options=ReadOptions(fps=25)) as s:
        yield s


def spec() -> StreamSpec:
    return StreamSpec(SIZE, TB, Fraction(25), ColourTags(1, 1, 1, 1))


@pytest.fixture(params=sorted(SINK_KINDS))
def sink_kind(request: pytest.FixtureRequest) -> str:
    return request.param


# -- sources -----------------------------------------------------------------
def test_source_properties(source: FrameSource) -> None:
    assert source.size == SIZE
    assert isinstance(source.time_base, Fraction) and source.time_base > 0
    assert source.frame_rate == Fraction(25)
    assert isinstance(source.colour, ColourTags)
    assert source.timecode is None or isinstance(source.timecode, str)
    assert source.frame_count in (0, N)
    assert source.spec.size == SIZE


def test_source_delivers_every_frame_in_order(source: FrameSource) -> None:
    frames = list(source.frames())
    assert [f.index for f in frames] == list(range(N))
    assert all(b.pts > a.pts for a, b in zip(frames, frames[1:]))
    assert [float(f.pts * f.time_base) for f in frames] == pytest.approx([i / 25 for i in range(N)])
    for f, want in zip(frames, PICTURES):
        assert f.rgb.dtype == np.uint8 and f.rgb.shape == (SIZE[1], SIZE[0], 3)
        assert np.abs(f.rgb.astype(int) - want).max() <= 2  # lossless source: only RGB rounding


@pytest.mark.parametrize("start, stop", [(0, 5), (7, 13), (10, 11), (20, None)])
def test_source_range_seeks_to_exactly_those_frames(source: FrameSource, start: int, stop: int | None) -> None:
    """Frames [start, stop), identical to the same frames of a full decode (7 and 13 are mid-GOP)."""
    full = list(source.frames())
    part = list(source.frames(FrameRange(start, stop)))
    want = full[start:stop]
    assert [f.index for f in part] == [f.index for f in want]
    assert [f.pts for f in part] == [f.pts for f in want]
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(part, want))


def test_source_can_be_read_twice(source: FrameSource) -> None:
    first, second = list(source.frames()), list(source.frames())
    assert len(first) == len(second) == N
    assert all(np.array_equal(a.rgb, b.rgb) and a.pts == b.pts for a, b in zip(first, second))


def test_source_fraction_counts_the_end_of_each_frame(source: FrameSource) -> None:
    """Issue #13: the progress total jumped because the estimate counted frame starts."""
    frames = list(source.frames())
    estimates = {round((i + 1) / source.fraction(f)) for i, f in enumerate(frames)}
    assert estimates == {N}


def test_bad_ranges_name_the_field() -> None:
    with pytest.raises(ConfigError, match="stop"):
        FrameRange(10, 5)
    with pytest.raises(ConfigError, match="start"):
        FrameRange(-1)


# -- sinks -------------------------------------------------------------------
def test_sink_writes_frames_with_their_pts(tmp_path: Path, sink_kind: str) -> None:
    name, read, tolerance = SINK_KINDS[sink_kind]
    out = tmp_path / name
    sink = get_sink(out, spec(), format=sink_kind)
    assert isinstance(sink, FrameSink)
    pts = [0, 1, 2, 4, 5, 9]  # a gap: timing comes from the pts, not a rate
    for p in pts:
        sink.write(PICTURES[p], p)
    top = tmp_path / Path(name).parts[0]  # the file, or the folder of an image sequence
    assert not top.exists()  # appears only when closed
    sink.close()
    frames = read(out)
    assert [f.time for f in frames] == pytest.approx([p / 25 for p in pts])
    for f, p in zip(frames, pts):
        assert np.abs(f.rgb.astype(float) - PICTURES[p]).mean() <= tolerance
    assert sorted(x.name for x in tmp_path.iterdir()) == [top.name]


def test_sink_abort_leaves_nothing(tmp_path: Path, sink_kind: str) -> None:
    name = SINK_KINDS[sink_kind][0]
    sink = get_sink(tmp_path / name, spec(), format=sink_kind)
    for p in range(3):
        sink.write(PICTURES[p], p)
    sink.abort()
    assert list(tmp_path.iterdir()) == []


# -- the pipeline ------------------------------------------------------------
class Invert:
    """A real (if simple) stateless stylizer; ``slow`` seconds a frame; raises at frame ``fail``."""

    sequential = False

    def __init__(self, slow: float = 0.0, fail: int | None = None) -> None:
        self.slow, self.fail, self.calls = slow, fail, 0

    def stylize(self, frame: Frame, shot_start: bool) -> np.ndarray:
        self.calls += 1
        if frame.index == self.fail:
            raise RuntimeError(f"stylizer failed at frame {frame.index}")
        time.sleep(self.slow)
        return 255 - frame.rgb


class Recorder:
    """A sink that keeps what it is given and how it ended (wraps a real one)."""

    def __init__(self, inner: FrameSink) -> None:
        self.inner, self.pts, self.closed, self.aborted = inner, [], 0, 0

    def write(self, rgb: np.ndarray, pts: int, alpha: np.ndarray | None = None) -> None:
        self.pts.append(pts)
        self.inner.write(rgb, pts, alpha)

    def close(self) -> None:
        self.closed += 1
        self.inner.close()

    def abort(self) -> None:
        self.aborted += 1
        self.inner.abort()


def test_run_writes_every_frame_and_reports_progress(source: FrameSource, tmp_path: Path) -> None:
    assert isinstance(Invert(), Stylizer)
    sink = Recorder(get_sink(tmp_path / "out.mp4", source.spec))
    seen: list[Progress] = []
    result = run(source, Invert(), Stabilizer(TemporalOptions()), sink, on_frame=seen.append, workers=2)
    assert result.frames == N and sink.closed == 1 and sink.aborted == 0
    assert [p.done for p in seen] == list(range(1, N + 1))
    assert {p.estimated_total() for p in seen} <= {N}  # no jumping total
    out = read_video(tmp_path / "out.mp4")
    assert len(out) == N and np.abs(out[5].rgb.astype(float) - (255 - PICTURES[5])).mean() < 6


def test_run_over_a_range(source: FrameSource, tmp_path: Path) -> None:
    sink = Recorder(get_sink(tmp_path / "out.mp4", source.spec))
    seen: list[Progress] = []
    result = run(source, Invert(), PerFrame(), sink, on_frame=seen.append, frames=FrameRange(7, 15))
    assert result.frames == 8 and len(read_video(tmp_path / "out.mp4")) == 8
    assert seen[-1].fraction == 1.0 and seen[-1].total == 8


@pytest.mark.parametrize("workers", [1, 3])
def test_stylizer_failure_propagates_once_and_aborts(source: FrameSource, tmp_path: Path, workers: int) -> None:
    sink = Recorder(get_sink(tmp_path / "out.mp4", source.spec))
    with pytest.raises(RuntimeError, match="frame 6"):
        run(source, Invert(fail=6), PerFrame(), sink, workers=workers)
    assert sink.aborted == 1 and sink.closed == 0
    assert list(tmp_path.iterdir()) == []  # no partial output, no temporary file


class Prepared(Invert):
    """A stylizer with the ordered ``prepare`` hook (as the region masks of issue #16): records the order."""

    def __init__(self, fail: int | None = None) -> None:
        super().__init__(slow=0.002)
        self.prepared: list[tuple[int, bool]] = []
        self.prepare_fail = fail

    def prepare(self, frame: Frame, shot_start: bool) -> None:
        if frame.index == self.prepare_fail:
            raise RuntimeError(f"prepare failed at frame {frame.index}")
        self.prepared.append((frame.index, shot_start))


def test_prepare_runs_in_frame_order_before_parallel_stylize(source: FrameSource, tmp_path: Path) -> None:
    stylizer = Prepared()
    result = run(source, stylizer, PerFrame(), Recorder(get_sink(tmp_path / "out.mp4", source.spec)), workers=3)
    assert result.frames == N and stylizer.calls == N
    assert stylizer.prepared == [(i, i == 0) for i in range(N)]
    sink = Recorder(get_sink(tmp_path / "bad.mp4", source.spec))
    with pytest.raises(RuntimeError, match="prepare failed at frame 5"):
        run(source, Prepared(fail=5), PerFrame(), sink, workers=2)
    assert sink.aborted == 1 and not (tmp_path / "bad.mp4").exists()


def test_sink_failure_propagates_and_aborts(source: FrameSource, tmp_path: Path) -> None:
    class Full(Recorder):
        def write(self, rgb: np.ndarray, pts: int, alpha: np.ndarray | None = None) -> None:
            if len(self.pts) == 4:
                raise OSError(28, "No space left on device")
            super().write(rgb, pts, alpha)

    sink = Full(get_sink(tmp_path / "out.mp4", source.spec))
    with pytest.raises(OSError, match="No space"):
        run(source, Invert(), PerFrame(), sink)
    assert sink.aborted == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_stops_soon_and_leaves_nothing(source: FrameSource, tmp_path: Path, workers: int) -> None:
    cancel = threading.Event()
    stylizer = Invert(slow=0.05)
    sink = Recorder(get_sink(tmp_path / "out.mp4", source.spec))
    timer = threading.Timer(0.3, cancel.set)
    timer.start()
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        run(source, stylizer, PerFrame(), sink, cancel=cancel, workers=workers)
    # Stops within a frame or two of each worker (0.05 s each), far before the clip's end (24 x 0.05 s).
    assert time.perf_counter() - started < 0.3 + 0.5
    assert stylizer.calls < N and sink.aborted == 1 and sink.closed == 0
    assert list(tmp_path.iterdir()) == []


# -- threads.py under failure ------------------------------------------------
def finishes(fn: Callable[[], None], seconds: float = 10.0) -> None:
    """Run ``fn`` on a thread; fail (rather than hang the suite) if it does not return in time."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "hung"
    if errors:
        raise errors[0]


def test_prefetcher_reraises_the_producers_exception_once() -> None:
    def produce() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("decoder broke")

    def consume() -> None:
        got = []
        with pytest.raises(ValueError, match="decoder broke"):
            for item in Prefetcher(produce(), depth=1):
                got.append(item)
        assert got == [1, 2]

    finishes(consume)


def test_prefetcher_close_stops_a_blocked_producer() -> None:
    produced = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    def consume() -> None:
        p = Prefetcher(endless(), depth=2)
        assert next(iter(p)) == 0
        p.close()
        assert not p._thread.is_alive()
        n = len(produced)
        time.sleep(0.3)
        assert len(produced) == n  # nothing more was produced

    finishes(consume)


def test_background_worker_failure_is_raised_once_to_the_submitter() -> None:
    def consume() -> None:
        done = []

        def work(i: int) -> None:
            if i == 3:
                raise OSError("encoder broke")
            done.append(i)

        w = BackgroundWorker(work, depth=2)
        with pytest.raises(OSError, match="encoder broke"):
            for i in range(100):  # the queue is bounded: submit raises once the worker has failed
                w.submit(i)
            w.finish()
        assert done == [0, 1, 2]
        w.cancel()  # does not hang after a failure

    finishes(consume)


def test_ordered_map_propagates_a_worker_exception_and_stops() -> None:
    started = []

    def fn(i: int) -> int:
        started.append(i)
        if i == 5:
            raise KeyError("frame 5")
        time.sleep(0.01)
        return i * 2

    def consume() -> None:
        out = []
        with pytest.raises(KeyError, match="frame 5"):
            for r in ordered_map(fn, iter(range(1000)), workers=3):
                out.append(r)
        assert out == [0, 2, 4, 6, 8]
        assert len(started) < 20  # at most workers + 1 in flight: the rest never started

    finishes(consume)
