"""Issue #14: a render as segment tasks on a real Dask LocalCluster (2 worker processes), resumable.

The clip is made in-process: 96x54, 25 frames/s, 5 s with audio; shot A (frames
0-49) and shot B (50-124) are two different synthetic scenes, so there is one
cut, at 50. With 1 s segments the plan is A: [0, 25) [25, 50), B: [50, 75)
[75, 100) [100, 125): one seam on the cut, three inside shots. Everything is
encoded losslessly (crf 0), so decoded frames show the stylized frames themselves.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from flowstyle.distributed.engine import LOOPBACK_SCHEDULER, DistributedOptions, render_distributed, status_lines
from flowstyle.distributed.plan import Segment, make_plan, split, split_tail
from flowstyle.io.reader import SizePolicy
from flowstyle.io.writer import EncodeOptions
from flowstyle.metrics import evaluate
from flowstyle.render import RenderConfig, render
from flowstyle.threads import intra_op_threads

from synth import picture, write_clip

ROOT = Path(__file__).resolve().parent.parent
# Not 64x36: there the temporal flow works at 42x23, where OpenCV's DIS keeps state from
# call to call (flow of the same pair differs by 1.7 px after other pairs), so no render
# of a later shot could match; from 62x35 up (96x54 here) it does not.
SIZE = (96, 54)
CUT = 50
FRAMES = 125
CONFIG = RenderConfig(encode=EncodeOptions(crf=0))


def scene_b(i: int) -> np.ndarray:
    """A second scene: the first one's colours inverted and turned, the square moving the other way."""
    return np.ascontiguousarray(255 - picture(FRAMES - i, *SIZE)[::-1])


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dist") / "two_shots.mp4"
    frames = [picture(i, *SIZE) if i < CUT else scene_b(i) for i in range(FRAMES)]
    return write_clip(path, range(FRAMES), Fraction(1, 25), size=SIZE, rate=Fraction(25), frames=frames,
                      audio_seconds=FRAMES / 25, options={"crf": "0"})


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, scheduler_kwargs=LOOPBACK_SCHEDULER) as c:
        yield c


@pytest.fixture(scope="module")
def single(clip: Path) -> Path:
    # One stylize thread of one torch thread, as in each task: the network's sums in another
    # order change a level here and there, and the temporal state carries that on (4 levels).
    with intra_op_threads(1):
        return render(clip, clip.with_name("single.mp4"), dataclasses.replace(CONFIG, workers=1)).output


@pytest.fixture(scope="module")
def distributed_1s(clip: Path, cluster) -> Path:
    options = DistributedOptions(scheduler=cluster.scheduler_address, segment_seconds=1.0)
    return render_distributed(clip, clip.with_name("dist.mp4"), CONFIG, options).output


def decoded(path: Path) -> tuple[list[int], np.ndarray]:
    with av.open(str(path)) as c:
        frames = [(f.pts, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    return [p for p, _ in frames], np.stack([f for _, f in frames]).astype(np.int16)


def audio_packets(path: Path) -> list[tuple[int, bytes]]:
    with av.open(str(path)) as c:
        return [(p.pts, bytes(p)) for p in c.demux(audio=0) if p.size]


def test_split_puts_cuts_on_segment_starts_and_prerolls_inside_shots() -> None:
    segments = split(125, (50,), 25, preroll=12)
    assert [(s.start, s.stop, s.preroll) for s in segments] == [
        (0, 25, 0), (25, 50, 12), (50, 75, 0), (75, 100, 12), (100, 125, 12)]
    assert split(125, (50,), 25, split_shots=False) == (Segment(0, 0, 50), Segment(1, 50, 125))  # Gatys shots
    assert [s.frames for s in split(10, (), 4)] == [3, 4, 3]  # equal parts, not a short tail


def test_the_last_segment_is_shared_by_the_workers() -> None:
    """The render's last segment is cut in one part per worker (each pre-rolled), unless the parts
    would be shorter than twice the pre-roll: no worker idles through a whole last segment."""
    last = Segment(5, 100, 232, 0)
    assert split_tail(last, 2, 16, [0, 100]) == [Segment(5, 100, 166, 0), Segment(6, 166, 232, 16)]
    assert split_tail(last, 5, 16, [0, 100]) == [last]  # 26-frame parts would be under twice the pre-roll
    assert split_tail(Segment(0, 0, 20), 2, 0, [0]) == [Segment(0, 0, 10), Segment(1, 10, 20)]  # no pre-roll
    # A segment of grouped short shots keeps each cut in the part it falls in.
    grouped = Segment(3, 60, 160, 0, cuts=(100,))
    assert split_tail(grouped, 2, 4, [0, 60, 100]) == [Segment(3, 60, 110, 0, (100,)), Segment(4, 110, 160, 4)]
    assert split(250, (100,), 300, preroll=4, tail_parts=2) == (Segment(0, 0, 125, 0, (100,)),
                                                                Segment(1, 125, 250, 4))


def test_short_shots_are_grouped_into_segments_and_long_ones_split() -> None:
    # Shots of 40, 40, 40, 200 frames with 100-frame segments: the first two share a task
    # (the third would make it 120), the long one is split in two pre-rolled halves.
    assert split(320, (40, 80, 120), 100, preroll=8) == (
        Segment(0, 0, 80, 0, (40,)), Segment(1, 80, 120), Segment(2, 120, 220), Segment(3, 220, 320, 8))
    assert split(320, (40, 80, 120), 100, split_shots=False) == (  # Gatys: one task per shot, never split
        Segment(0, 0, 40), Segment(1, 40, 80), Segment(2, 80, 120), Segment(3, 120, 320))


def test_plan_finds_the_cut(clip: Path) -> None:
    plan = make_plan(clip, SizePolicy(), CONFIG.temporal.cuts, 1.0)
    assert plan.frames == FRAMES and plan.cuts == (CUT,)
    assert [s.start for s in plan.segments] == [0, 25, 50, 75, 100]


def test_same_as_single_process_at_cuts_and_steady_at_other_seams(clip: Path, single: Path,
                                                                  distributed_1s: Path) -> None:
    pts_a, a = decoded(single)
    pts_b, b = decoded(distributed_1s)
    assert pts_a == pts_b and len(pts_a) == FRAMES
    assert audio_packets(single) == audio_packets(distributed_1s)
    # Segments that start on a shot start (0 and the cut): frame for frame the single-process render.
    for start, stop in ((0, 25), (CUT, 75)):
        assert np.abs(a[start:stop] - b[start:stop]).max() <= 1
    # Seams inside a shot (pre-rolled): the pair across the seam as steady as mid-segment pairs.
    ewarp = evaluate(clip, distributed_1s, loss_every=0).per_frame["ewarp"]  # pair (t-1, t) of one shot
    ewarp = ewarp[:CUT - 1] + [float("nan")] + ewarp[CUT - 1:]  # pair index t-1 -> list position t-1
    seams = [25, 75, 100]
    mid = np.nanmean([ewarp[t - 1] for t in range(1, FRAMES) if t not in seams and t != CUT])
    for t in seams:
        assert ewarp[t - 1] <= 1.2 * mid, (t, ewarp[t - 1], mid)


def test_worker_killed_mid_render_is_retried(clip: Path, cluster, distributed_1s: Path, tmp_path: Path) -> None:
    from distributed import Client

    with Client(cluster) as client:
        pids = client.run(os.getpid)
    killed: list[int] = []

    def kill_one(result) -> None:
        if not killed:  # first segment back: the other worker is mid-task
            pid = next(p for p in pids.values() if not result.worker.endswith(f":{p}"))
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    options = DistributedOptions(scheduler=cluster.scheduler_address, segment_seconds=1.0)
    out = render_distributed(clip, tmp_path / "out.mp4", CONFIG, options, on_segment=kill_one).output
    assert killed
    assert np.array_equal(decoded(out)[1], decoded(distributed_1s)[1])


def _flowstyle(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "flowstyle", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True, **kw)


def test_kill_9_of_the_client_then_resume_renders_only_missing_segments(clip: Path, cluster,
                                                                         tmp_path: Path) -> None:
    args = ["render", str(clip), "--crf", "0", "--segment-seconds", "0.4", "--quiet"]  # 13 segments
    work = tmp_path / "out.mp4.flowstyle-segments"
    first = _flowstyle(*args, "-o", str(tmp_path / "out.mp4"), "--workers", "2")
    try:
        deadline = time.monotonic() + 60
        while len(list(work.glob("0*.mp4"))) < 3 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert first.poll() is None, first.communicate()[0]
        os.kill(first.pid, signal.SIGKILL)
    finally:
        first.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(first.pid, signal.SIGKILL)  # the cluster it started (its own session), if still there
    done = len(list(work.glob("0*.mp4")))
    assert not (tmp_path / "out.mp4").exists() and 3 <= done < 13
    assert f"{done} of 13 segments rendered" in status_lines(tmp_path / "out.mp4")[0]
    # The same command again (on the test's cluster rather than a second fresh one: the plan
    # and the segments do not depend on where they run, and it saves starting one).
    second = _flowstyle(*args, "-o", str(tmp_path / "out.mp4"), "--scheduler", cluster.scheduler_address)
    log = second.communicate(timeout=120)[0]
    assert second.returncode == 0, log
    assert f"{done} already rendered, {13 - done} to render" in log
    assert log.count("flowstyle: segment ") == 13 - done
    options = DistributedOptions(scheduler=cluster.scheduler_address, segment_seconds=0.4)
    whole = render_distributed(clip, tmp_path / "whole.mp4", CONFIG, options).output
    assert decoded(tmp_path / "out.mp4")[1].tolist() == decoded(whole)[1].tolist()
    assert status_lines(tmp_path / "out.mp4") == [f"{tmp_path / 'out.mp4'}: complete"]


def test_unreachable_scheduler_is_one_line(clip: Path, tmp_path: Path) -> None:
    p = _flowstyle("render", str(clip), "-o", str(tmp_path / "o.mp4"), "--scheduler", "tcp://127.0.0.1:9")
    out = p.communicate(timeout=60)[0]
    assert p.returncode == 1
    assert out.strip().splitlines()[-1].startswith("flowstyle: error: --scheduler tcp://127.0.0.1:9: cannot reach")
    assert not (tmp_path / "o.mp4").exists()


GATYS_CUT = 10  # two shots of 10 frames (the cut detector keeps shots >= 8 frames apart)


@pytest.fixture(scope="module")
def gatys_clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("dist_gatys") / "two_shots.mp4"
    frames = [picture(i, *SIZE) if i < GATYS_CUT else scene_b(i + 40) for i in range(2 * GATYS_CUT)]
    return write_clip(path, range(2 * GATYS_CUT), Fraction(1, 25), size=SIZE, rate=Fraction(25), frames=frames,
                      audio_seconds=0.8, options={"crf": "0"})


def test_gatys_runs_one_task_per_shot_and_matches_the_single_process_render(gatys_clip: Path, cluster, media: Path,
                                                                             tmp_path: Path) -> None:
    from flowstyle.gatys import GatysConfig, GatysOptions
    from flowstyle.render import render_gatys

    options = GatysOptions(style=str(media / "styles" / "starry_night.jpg"), first_iterations=8, iterations=4,
                           pyramid=2, seed=0)
    config = GatysConfig(options, encode=EncodeOptions(crf=0), device="cpu")
    with intra_op_threads(1):  # as each task runs: the optimisation's sums in the same order
        single = render_gatys(gatys_clip, tmp_path / "single.mp4", config).output
    seen: list = []
    results: list = []
    dist = render_distributed(gatys_clip, tmp_path / "dist.mp4", config,
                              DistributedOptions(scheduler=cluster.scheduler_address, segment_seconds=0.2),
                              progress=seen.append, on_segment=results.append)
    # Never split although segment_seconds asks for 5-frame parts: a Gatys frame depends on the ones before.
    assert sorted(r.frames for r in results) == [GATYS_CUT, GATYS_CUT]
    pts_a, a = decoded(single)
    pts_b, b = decoded(dist.output)
    assert pts_a == pts_b and len(pts_b) == 2 * GATYS_CUT
    assert audio_packets(single) == audio_packets(dist.output)
    assert np.abs(a - b).max() <= 1
    done = [p.done for p in seen]
    assert done == sorted(done) and done[-1] == seen[-1].total == 2 * GATYS_CUT
    assert not (tmp_path / "dist.mp4.flowstyle-segments").exists()


def test_source_timecode_survives_the_join(cluster, tmp_path: Path) -> None:
    from flowstyle.io.timecode import read_timecode
    from synth_deep import write_tagged_clip

    src = write_tagged_clip(tmp_path / "src.mov", 30, Fraction(30000, 1001), size=SIZE, codec="prores_ks",
                            pix_fmt="yuv422p10le", timecode="01:00:00;00")
    options = DistributedOptions(scheduler=cluster.scheduler_address, segment_seconds=0.25)  # 7-frame parts
    results: list = []
    out = render_distributed(src, tmp_path / "out.mov", RenderConfig(), options, on_segment=results.append).output
    assert len(results) == 5
    with av.open(str(out)) as c:
        assert str(read_timecode(c)) == "01:00:00;00"  # 29.97 drop-frame, from the source's tmcd track
        assert c.streams.video[0].average_rate == Fraction(30000, 1001)
    # Exact pts at every seam (mov's edit lists counted in ms moved a 0.5005 s start by 15 ticks).
    assert decoded(out)[0] == [1001 * i for i in range(30)]


def test_style_keys_render_distributed_as_in_one_process(clip: Path, cluster, tmp_path: Path) -> None:
    """Tasks are the in-process render on a range, so keys (issue #16) work there: segments that start
    a shot are frame for frame the single-process render."""
    from flowstyle.stylize.keyframes import KeyframeOptions

    config = dataclasses.replace(CONFIG, keys=KeyframeOptions(("0=7", "4s=3")))
    with intra_op_threads(1):
        single = render(clip, tmp_path / "single.mp4", dataclasses.replace(config, workers=1)).output
    options = DistributedOptions(scheduler=cluster.scheduler_address, segment_seconds=1.0)
    dist = render_distributed(clip, tmp_path / "dist.mp4", config, options).output
    a, b = decoded(single)[1], decoded(dist)[1]
    for start, stop in ((0, 25), (CUT, 75)):
        assert np.abs(a[start:stop] - b[start:stop]).max() <= 1
    assert np.abs(a[100:] - b[100:]).mean() < 3  # a pre-rolled segment late in the transition: close


def test_grouped_shots_reset_at_the_scanned_cut(clip: Path, single: Path, cluster, tmp_path: Path) -> None:
    """Both shots fit one 10 s segment: its task resets the temporal state at the cut the scan
    found (no detector inside the task), so every frame is the single-process render's."""
    results: list = []
    options = DistributedOptions(scheduler=cluster.scheduler_address, segment_seconds=10.0)
    dist = render_distributed(clip, tmp_path / "grouped.mp4", CONFIG, options, on_segment=results.append).output
    assert len(results) == 1
    pts_a, a = decoded(single)
    pts_b, b = decoded(dist)
    assert pts_a == pts_b
    assert np.abs(a - b).max() <= 1


def test_workers_without_weights_are_named_in_one_line(clip: Path, tmp_path: Path) -> None:
    """Workers whose FLOWSTYLE_WEIGHTS is an empty folder are named before any task runs."""
    from distributed import LocalCluster

    from flowstyle.errors import FlowstyleError

    empty = tmp_path / "no-weights"
    empty.mkdir()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      scheduler_kwargs=LOOPBACK_SCHEDULER, env={"FLOWSTYLE_WEIGHTS": str(empty)}) as c:
        options = DistributedOptions(scheduler=c.scheduler_address, segment_seconds=1.0)
        with pytest.raises(FlowstyleError) as err:
            render_distributed(clip, tmp_path / "o.mp4", CONFIG, options)
    message = str(err.value)
    assert "\n" not in message and message.count("worker tcp://127.0.0.1:") == 2, message
    assert not (tmp_path / "o.mp4").exists()


def test_local_cluster_listens_on_loopback_only_and_leaves_8787_alone() -> None:
    """A local cluster's sockets are all on 127.0.0.1, and with port 8787 taken (another
    render's cluster, a Jupyter dashboard) it starts without the "already in use" warning:
    the scheduler's HTTP routes take a free port (engine.LOOPBACK_SCHEDULER)."""
    import socket
    import warnings

    import psutil

    from flowstyle.distributed.engine import connect

    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8787))
        holder.listen()
    except OSError:
        pass  # already taken by something else: the same situation
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with connect(DistributedOptions(workers=1)) as client:
                assert len(client.scheduler_info()["workers"]) == 1
                me = psutil.Process()
                listening = [c.laddr for p in (me, *me.children(recursive=True))
                             for c in p.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    finally:
        holder.close()
    assert listening and all(addr.ip == "127.0.0.1" for addr in listening), listening
    assert not [w for w in caught if "already in use" in str(w.message)], [str(w.message) for w in caught]


def _paint(rgb: np.ndarray) -> np.ndarray:
    """A 'painting' that is a pointwise function of the frame (tests/test_painted_keys.py's kind)."""
    lut = np.clip((np.arange(256) / 255.0) ** 0.6 * 255, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(lut[rgb][..., ::-1])


def test_painted_keys_run_one_task_per_shot_as_in_one_process(clip: Path, cluster, tmp_path: Path) -> None:
    """A shot with its keys is one task (never split, no pre-roll), given the keys of its own frames:
    every frame is the single-process render's. Shot B has one key at its middle (carried both ways)."""
    from PIL import Image

    from flowstyle.distributed.engine import render_key
    from flowstyle.errors import ConfigError
    from flowstyle.keyed.options import PaintedKeyOptions

    frames = decoded(clip)[1].astype(np.uint8)
    keys = []
    for index in (0, 40, 80):
        path = tmp_path / f"key{index}.png"
        Image.fromarray(_paint(frames[index])).save(path)
        keys.append(f"{index}={path}")
    config = dataclasses.replace(CONFIG, painted=PaintedKeyOptions(tuple(keys)))
    single = render(clip, tmp_path / "single.mkv", config).output
    results: list = []
    options = DistributedOptions(scheduler=cluster.scheduler_address, segment_seconds=0.4)  # 10-frame parts
    dist = render_distributed(clip, tmp_path / "dist.mkv", config, options, on_segment=results.append).output
    assert sorted(r.frames for r in results) == [CUT, FRAMES - CUT]
    pts_a, a = decoded(single)
    pts_b, b = decoded(dist)
    assert pts_a == pts_b and len(pts_b) == FRAMES
    assert np.abs(a - b).max() <= 1
    assert audio_packets(single) == audio_packets(dist)
    for index in (0, 40, 80):  # the keys themselves, through crf-0 x264 (its 4:2:0 chroma costs ~1.5 levels)
        assert np.abs(b[index] - _paint(frames[index]).astype(np.int16)).mean() < 3.0

    # A key repainted under the same name is another render (its shot renders again on resume).
    resolved = dataclasses.replace(config, painted=PaintedKeyOptions(tuple(
        f"{k.split('=')[0]}={tmp_path / k.split('=')[1]}" for k in keys)))
    before = render_key("x", resolved, options)
    Image.fromarray(frames[40]).save(tmp_path / "key40.png")
    assert render_key("x", resolved, options) != before

    # Shot B without a key and no style to paint it: one line before any task runs, nothing written.
    bad = dataclasses.replace(CONFIG, painted=PaintedKeyOptions(tuple(keys[:2])))
    with pytest.raises(ConfigError, match="the shot of frames 50 to 124 has no key"):
        render_distributed(clip, tmp_path / "bad.mkv", bad, options)
    assert not list(tmp_path.glob("bad.mkv*"))


def test_gatys_keys_run_one_task_per_shot_as_in_one_process(gatys_clip: Path, cluster, media: Path,
                                                             tmp_path: Path) -> None:
    """``--method gatys --keyframes-every N`` on the engine: each shot, its keys and the frames that stop at
    their keys' style loss, is one task, frame for frame the single-process render."""
    from flowstyle.gatys import GatysConfig, GatysOptions
    from flowstyle.keyed.options import PaintedKeyOptions
    from flowstyle.render import render_gatys

    options = GatysOptions(style=str(media / "styles" / "starry_night.jpg"), first_iterations=8, iterations=4,
                           pyramid=2, seed=0)
    config = GatysConfig(options, encode=EncodeOptions(crf=0), device="cpu")
    keys = PaintedKeyOptions(every=4, paint_keyless=True)
    with intra_op_threads(1):
        single = render_gatys(gatys_clip, tmp_path / "single.mp4", config, painted=keys).output
    results: list = []
    dist = render_distributed(gatys_clip, tmp_path / "dist.mp4", config,
                              DistributedOptions(scheduler=cluster.scheduler_address, segment_seconds=0.2),
                              on_segment=results.append, gatys_keys=keys)
    assert sorted(r.frames for r in results) == [GATYS_CUT, GATYS_CUT]
    pts_a, a = decoded(single)
    pts_b, b = decoded(dist.output)
    assert pts_a == pts_b and len(pts_b) == 2 * GATYS_CUT
    assert np.abs(a - b).max() <= 1
