"""``render --method gatys``: the loss functions (gradchecked, with known answers), the
long-term temporal weights, the resume folder, the optimiser on a problem with a known
minimum, and tiny real renders of a Big Buck Bunny clip: timing and audio kept,
stylized, and a render interrupted with Ctrl-C that resumes to the identical video."""

from __future__ import annotations

import dataclasses
import json
import shutil
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from flowstyle.errors import FlowstyleError
from flowstyle.gatys import GatysConfig, GatysOptions
from flowstyle.progress import Progress
from flowstyle.render import render_gatys
from flowstyle.gatys.optimize import optimize, plateaued
from flowstyle.gatys.workdir import WorkFolder, work_path
from flowstyle.io.writer import EncodeOptions
from flowstyle.losses import content_loss, gram, long_term_weights, style_loss, temporal_loss, total_variation
from synth import audio_duration, video_pts_seconds, write_clip

SIZE = (96, 54)  # (width, height) of the test clip
PTS = [i * 512 for i in range(4)]
TIME_BASE = Fraction(1, 12800)


def rand64(*shape: int, seed: int, grad: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=torch.float64).requires_grad_(grad)


# --- losses ------------------------------------------------------------------------------


def test_gradcheck_temporal_loss_and_total_variation() -> None:
    image, warped = rand64(2, 3, 5, 6, seed=0), rand64(2, 3, 5, 6, seed=1)
    weight = rand64(2, 1, 5, 6, seed=2)  # soft weights, as upsampled masks are
    assert torch.autograd.gradcheck(temporal_loss, (image, warped, weight))
    assert torch.autograd.gradcheck(total_variation, (rand64(2, 3, 5, 6, seed=3),))
    assert temporal_loss(image, warped, weight).shape == (2,) and total_variation(image).shape == (2,)


def test_gradcheck_content_and_style_loss() -> None:
    layers = ("relu1_1", "relu2_1")
    shapes = {"relu1_1": (1, 3, 5, 6), "relu2_1": (1, 4, 3, 3)}
    feats = {k: rand64(*s, seed=i) for i, (k, s) in enumerate(shapes.items())}
    grams = {k: gram(rand64(*s, seed=10 + i, grad=False)) for i, (k, s) in enumerate(shapes.items())}
    content = {"relu1_1": rand64(1, 3, 5, 6, seed=20, grad=False)}
    assert content_loss(feats, content, "relu1_1").dtype == torch.float64
    assert style_loss(feats, grams, layers).dtype == torch.float64
    x = feats["relu1_1"]
    assert torch.autograd.gradcheck(lambda f: content_loss({"relu1_1": f}, content, "relu1_1"), (x,))
    assert torch.autograd.gradcheck(
        lambda a, b: style_loss({"relu1_1": a, "relu2_1": b}, grams, layers, (0.5, 2.0)), tuple(feats.values()))


def test_content_and_style_gradients_match_the_closed_form() -> None:
    """What the float32 path computes, checked against the analytic gradients (in float64):
    content d/dF mean((F-T)^2) = 2(F-T)/N; style, with G = F F^T / N and A symmetric,
    d/dF w mean((G-A)^2) = 4 w (G-A) F / (C^2 N), N = C*H*W."""
    b, c, h, w = 2, 4, 5, 6
    n = c * h * w
    f64 = rand64(b, c, h, w, seed=0, grad=False)
    t64 = rand64(b, c, h, w, seed=1, grad=False)
    a64 = gram(rand64(1, c, h, w, seed=2, grad=False))  # one style image for the whole batch

    f = f64.float().requires_grad_(True)
    loss = content_loss({"x": f}, {"x": t64.float()}, "x")
    assert loss.shape == (b,)
    torch.testing.assert_close(loss.double(), (f64 - t64).pow(2).mean(dim=(1, 2, 3)), rtol=1e-5, atol=0)
    loss.sum().backward()
    torch.testing.assert_close(f.grad.double(), 2 * (f64 - t64) / n, rtol=1e-4, atol=1e-9)

    f = f64.float().requires_grad_(True)
    loss = style_loss({"x": f}, {"x": a64.float()}, ("x",), (3.0,))
    g64 = gram(f64)
    assert loss.shape == (b,)
    torch.testing.assert_close(loss.double(), 3.0 * (g64 - a64).pow(2).mean(dim=(1, 2)), rtol=1e-4, atol=0)
    loss.sum().backward()
    expected = 4 * 3.0 * ((g64 - a64) @ f64.reshape(b, c, h * w)).reshape(b, c, h, w) / (c * c * n)
    torch.testing.assert_close(f.grad.double(), expected, rtol=1e-3, atol=1e-9)


def test_temporal_loss_counts_only_weighted_pixels() -> None:
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 8, 8, generator=g)
    warped = torch.rand(1, 3, 8, 8, generator=g)
    weight = (torch.rand(1, 1, 8, 8, generator=g) > 0.5).float()
    assert 0 < weight.sum() < 64
    assert temporal_loss(image, image.clone(), weight).item() == 0.0

    base = temporal_loss(image, warped, weight)
    torch.testing.assert_close(base, (weight * (image - warped) ** 2).sum().reshape(1) / (3 * 8 * 8))
    free = image + (1 - weight) * torch.rand(1, 3, 8, 8, generator=g)  # changed only where weight == 0
    assert torch.equal(temporal_loss(free, warped, weight), base)
    away = image + weight * 0.25 * torch.sign(image - warped)  # pushed away where weight == 1
    assert temporal_loss(away, warped, weight).item() > base.item() * 1.1
    # D = C*H*W: the same picture at twice the size has the same loss.
    up = lambda t: t.repeat_interleave(2, -1).repeat_interleave(2, -2)  # noqa: E731
    torch.testing.assert_close(temporal_loss(up(image), up(warped), up(weight)), base)


@pytest.mark.parametrize("kind", ["binary", "soft"])
def test_long_term_weights_never_count_a_pixel_twice(kind: str) -> None:
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        masks = [torch.rand(1, 1, 8, 8, generator=g, dtype=torch.float64) for _ in range(3)]
        if kind == "binary":
            masks = [(m > 0.5).double() for m in masks]
        weights = long_term_weights(masks)
        assert len(weights) == 3
        assert torch.equal(weights[0], masks[0])
        total = sum(weights)
        assert total.max().item() <= 1 + 1e-6
        for w in weights:
            assert w.min().item() >= 0 and w.max().item() <= 1
        # The sum of the weights is max_j c_j (the union, for binary masks).
        torch.testing.assert_close(total, torch.stack(masks).amax(0), rtol=0, atol=1e-12)
        if kind == "binary":
            for j in range(1, 3):
                nearer = torch.stack(masks[:j]).amax(0)
                assert torch.all(weights[j][nearer == 1] == 0)
                # Elsewhere the farther frame keeps its whole mask (Ruder et al. 2018, eq. 9).
                assert torch.equal(weights[j][nearer == 0], masks[j][nearer == 0])


# --- the resume folder -------------------------------------------------------------------


def test_work_folder_key_restart_roundtrip_and_contiguous_frames(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    key = {"input": {"sha256": "ab" * 32}, "size": (96, 54), "gatys": {"style_weight": 1000.0, "seed": 0}}
    path = tmp_path / "out.mp4.flowstyle-work"
    work = WorkFolder(path, key)
    assert work.finished == 0 and (path / "key.json").exists()
    frames = [rng.integers(0, 256, (54, 96, 3), dtype=np.uint8) for _ in range(3)]
    for i in range(2):
        work.save(i, frames[i])
    assert work.finished == 2

    again = WorkFolder(path, json.loads(json.dumps(key)))  # tuples and lists are the same key
    assert again.finished == 2
    for i in range(2):
        loaded = again.load(i)
        assert loaded.dtype == np.uint8 and np.array_equal(loaded, frames[i])

    # A frame after a gap does not count: the render continues from the first missing one.
    shutil.copy(path / "000000.png", path / "000003.png")
    assert WorkFolder(path, key).finished == 2
    (path / "000003.png").unlink()

    changed = {**key, "gatys": {"style_weight": 2000.0, "seed": 0}}
    with pytest.raises(FlowstyleError) as info:
        WorkFolder(path, changed)
    message = str(info.value)
    assert "changed: gatys.style_weight)" in message and "--restart" in message and "2 frames" in message
    assert WorkFolder(path, key).finished == 2  # refusing discards nothing

    fresh = WorkFolder(path, changed, restart=True)
    assert fresh.finished == 0 and not list(path.glob("*.png"))
    assert WorkFolder(path, changed).finished == 0  # the new key was written
    with pytest.raises(FlowstyleError, match="gatys.style_weight"):
        WorkFolder(path, key)


# --- the optimiser -----------------------------------------------------------------------


def test_plateaued() -> None:
    assert not plateaued([10.0, 9.0, 8.0], window=2, tolerance=0.1)  # fell 20 %
    assert plateaued([10.0, 9.99, 9.98], window=2, tolerance=0.1)  # fell 0.2 %
    assert plateaued([10.0, 11.0, 12.0], window=2, tolerance=0.01)  # rose
    assert not plateaued([10.0, 10.0], window=2, tolerance=0.1)  # not a whole window yet
    assert not plateaued([10.0, 10.0, 10.0, 10.0], window=2, tolerance=0.0)  # 0 turns it off
    assert plateaued([100.0, 50.0, 0.0, 1e-12, 1e-12, 1e-12], window=3, tolerance=1e-3)  # relative to the window's start
    assert not plateaued([100.0, 50.0, 0.0, 1e-12, 1e-12, 1e-12], window=5, tolerance=1e-3)


@pytest.mark.parametrize("method, budget, max_error", [("lbfgs", 60, 1e-5), ("adam", 400, 1e-3)])
def test_optimize_converges_and_stops_early_on_a_quadratic(method: str, budget: int, max_error: float) -> None:
    g = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 8, 8, generator=g)
    init = torch.rand(1, 3, 8, 8, generator=g)
    start = init.clone()
    objective = lambda x: ((x - target) ** 2).sum()  # noqa: E731
    seen: list[tuple[int, float]] = []

    full = optimize(objective, init, budget, GatysOptions(style="x.jpg", optimizer=method, stop_tolerance=0.0),
                    lambda i, loss: seen.append((i, loss)))
    assert torch.equal(init, start)  # the start is not modified
    assert full.iterations == budget == len(full.losses)  # one evaluation per iteration, no early stop
    assert seen == list(enumerate(full.losses, 1))
    assert full.losses[0] == pytest.approx(float(objective(init)))
    assert (full.image - target).abs().max().item() < max_error
    assert full.loss < 1e-6 * full.losses[0]

    options = GatysOptions(style="x.jpg", optimizer=method, stop_tolerance=1e-3, stop_window=5)
    early = optimize(objective, init, 4 * budget, options)
    assert early.iterations < 4 * budget
    assert plateaued(list(early.losses), 5, 1e-3) and not plateaued(list(early.losses[:-1]), 5, 1e-3)
    assert (early.image - target).abs().max().item() < max_error


@pytest.mark.parametrize("method", ["lbfgs", "adam"])
def test_optimize_until_stops_on_the_image_it_judged(method: str) -> None:
    """``until(n, image)`` is asked with the image iteration n evaluated; when it says stop, the result
    is that image, not the one the optimiser stepped to after evaluating it."""
    g = torch.Generator().manual_seed(0)
    target = torch.rand(1, 3, 8, 8, generator=g)
    init = torch.rand(1, 3, 8, 8, generator=g)
    evaluated: list[torch.Tensor] = []

    def objective(x: torch.Tensor) -> torch.Tensor:
        evaluated.append(x.detach().clone())
        return ((x - target) ** 2).sum()

    judged: list[tuple[int, torch.Tensor]] = []

    def until(n: int, image: torch.Tensor) -> bool:
        judged.append((n, image.clone()))
        return float(((image - target) ** 2).sum()) < 0.5 * float(((init - target) ** 2).sum())

    options = GatysOptions(style="x.jpg", optimizer=method, warmup=0, stop_tolerance=0.0)
    result = optimize(objective, init, 200, options, until=until)
    assert 1 < result.iterations < 200 and len(judged) == result.iterations == len(evaluated)
    assert [n for n, _ in judged] == list(range(1, result.iterations + 1))
    for (_, image), x in zip(judged, evaluated, strict=True):
        assert torch.allclose(image, x, atol=1e-6)  # judged what the objective saw
    assert torch.allclose(result.image, evaluated[-1].clamp(0, 1), atol=1e-6)
    assert float(((result.image - target) ** 2).sum()) < 0.5 * float(((init - target) ** 2).sum())


def test_as_written_is_the_picture_the_render_writes_and_reads_back() -> None:
    """The stop rule judges frames in torch as they will be saved: clamped and rounded to 8 bits
    exactly as tensor_to_rgb writes them, half-way values included."""
    from flowstyle.gatys.stylizer import as_written
    from flowstyle.tensors import rgb_to_tensor, tensor_to_rgb

    x = torch.rand(1, 3, 50, 70, generator=torch.Generator().manual_seed(0)) * 1.4 - 0.2  # some out of range
    x[0, 0, 0, :5] = torch.tensor([0.5, 1.5, 2.5, 254.5, 255.0]) / 255
    assert torch.equal(as_written(x), rgb_to_tensor(tensor_to_rgb(x), torch.device("cpu")))


# --- real renders ------------------------------------------------------------------------


def decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


def png_count(folder: Path) -> int:
    return len(list(folder.glob("[0-9][0-9][0-9][0-9][0-9][0-9].png")))


@pytest.fixture(scope="module")
def clip(media: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 4 frames of Big Buck Bunny at 96x54, 25 fps, with 0.3 s of audio."""
    frames = []
    with av.open(str(media / "videos" / "bigbuckbunny.mp4")) as c:
        for f in c.decode(c.streams.video[0]):
            frames.append(cv2.resize(f.to_ndarray(format="rgb24"), SIZE, interpolation=cv2.INTER_AREA))
            if len(frames) == 4:
                break
    return write_clip(tmp_path_factory.mktemp("gatys") / "in.mp4", PTS, TIME_BASE, size=SIZE, frames=frames,
                      audio_seconds=0.3)


@pytest.fixture(scope="module")
def config(media: Path) -> GatysConfig:
    options = GatysOptions(style=str(media / "styles" / "starry_night.jpg"), first_iterations=8, iterations=4,
                           pyramid=2, seed=0)
    # crf 0: the encoder adds as little as it can, so equal frames decode equal.
    return GatysConfig(options, encode=EncodeOptions(crf=0), device="cpu")


@pytest.fixture(scope="module")
def rendered(clip: Path, config: GatysConfig) -> Path:
    """One uninterrupted render, its work folder kept."""
    out = clip.with_name("a.mp4")
    report = render_gatys(clip, out, dataclasses.replace(config, keep_work=True))
    assert report.frames == 4 and report.lost_frames == 0 and report.size == SIZE
    return out


def interrupted(clip: Path, out: Path, config: GatysConfig, at: int = 2) -> None:
    """Render until ``at`` frames are finished, then Ctrl-C."""
    def progress(p: Progress) -> None:
        if p.done == at:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        render_gatys(clip, out, config, progress=progress)
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.stem}.*"))  # no partial output left behind
    work = work_path(out)
    assert png_count(work) == at and not list(work.glob(".*.part*"))  # no half-written checkpoint frame


def test_render_keeps_timing_and_audio_and_stylizes(clip: Path, rendered: Path) -> None:
    assert rendered.exists()
    assert video_pts_seconds(rendered) == pytest.approx(video_pts_seconds(clip), abs=1e-3)
    assert video_pts_seconds(rendered) == pytest.approx([0.0, 0.04, 0.08, 0.12], abs=1e-3)
    assert audio_duration(rendered) == pytest.approx(audio_duration(clip), abs=0.05)
    inp, out = decode(clip), decode(rendered)
    assert len(out) == 4 and out[0].shape == (SIZE[1], SIZE[0], 3)
    # Measured 21-26 grey levels per frame with a bf16 loss network, 25-30 in fp32 (starry
    # night, 8 + 8 / 4 iterations). The upper bound: the picture is still the frame's
    # (the optimisation starts from it), not noise or grey.
    diffs = [np.abs(a.astype(np.int16) - b).mean() for a, b in zip(inp, out)]
    assert all(10 < d < 60 for d in diffs), diffs
    work = work_path(rendered)  # keep_work=True keeps the checkpoints
    assert work.is_dir() and png_count(work) == 4 and (work / "key.json").exists()


def test_finished_work_folder_is_reencoded_and_removed(clip: Path, config: GatysConfig, rendered: Path) -> None:
    """A render whose frames are all checkpointed only re-encodes them, and (keep_work
    False) removes the work folder once the output is in place."""
    out = clip.with_name("copy.mp4")
    shutil.copytree(work_path(rendered), work_path(out))
    seen: list[Progress] = []
    render_gatys(clip, out, config, progress=seen.append)
    assert [p.done for p in seen] == [1, 2, 3, 4] and seen[-1].resumed == 4
    assert all(p.iteration == 0 for p in seen)  # nothing was optimised
    assert all(np.array_equal(a, b) for a, b in zip(decode(out), decode(rendered), strict=True))
    assert not work_path(out).exists()


def test_interrupted_render_resumes_to_the_same_video(clip: Path, config: GatysConfig, rendered: Path) -> None:
    out = clip.with_name("b.mp4")
    interrupted(clip, out, config, at=2)

    seen: list[Progress] = []
    render_gatys(clip, out, config, progress=seen.append)
    assert seen[-1].done == 4 and seen[-1].resumed == 2
    optimised = {p.item for p in seen if p.iteration > 0}
    assert optimised == {2, 3}  # frames 0 and 1 came from the checkpoints
    a, b = decode(rendered), decode(out)
    assert len(b) == 4
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert video_pts_seconds(out) == pytest.approx(video_pts_seconds(clip), abs=1e-3)
    assert audio_duration(out) == pytest.approx(audio_duration(clip), abs=0.05)
    assert not work_path(out).exists()  # keep_work False: removed after success


def test_changed_setting_refuses_to_mix_frames(clip: Path, config: GatysConfig) -> None:
    out = clip.with_name("c.mp4")
    interrupted(clip, out, config, at=2)

    changed = dataclasses.replace(config, gatys=dataclasses.replace(config.gatys, style_weight=2e3))
    with pytest.raises(FlowstyleError) as info:
        render_gatys(clip, out, changed)
    message = str(info.value)
    assert "style_weight" in message and "--restart" in message
    assert not out.exists() and not list(out.parent.glob(f".{out.stem}.*"))
    assert png_count(work_path(out)) == 2  # nothing discarded without --restart

    seen: list[Progress] = []
    report = render_gatys(clip, out, changed, restart=True, progress=seen.append)
    assert report.frames == 4 and len(decode(out)) == 4
    assert all(p.resumed == 0 for p in seen)
    assert {p.item for p in seen if p.iteration > 0} == {0, 1, 2, 3}  # every frame optimised anew
    assert not work_path(out).exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_interrupted_render_resumes_to_the_same_video_on_cuda(clip: Path, config: GatysConfig) -> None:
    """As above on the GPU, where cuDNN must be made deterministic for resume to be exact."""
    cuda = dataclasses.replace(config, device="cuda", keep_work=True)
    whole = clip.with_name("cuda_a.mp4")
    report = render_gatys(clip, whole, cuda)
    assert report.device.startswith("cuda") and report.frames == 4
    out = clip.with_name("cuda_b.mp4")
    interrupted(clip, out, cuda, at=2)
    seen: list[Progress] = []
    render_gatys(clip, out, cuda, progress=seen.append)
    assert seen[-1].resumed == 2
    assert all(np.array_equal(x, y) for x, y in zip(decode(whole), decode(out), strict=True))


def test_pyramid_ends_at_the_frame_size_for_any_size() -> None:
    """Issue #13: ``--max-width 64`` on a wide clip (64x28) optimised at 64x32 and then did not fit its flow."""
    from flowstyle.gatys.optimize import pyramid_sizes

    for h in range(2, 80, 3):
        for w in range(2, 80, 5):
            for levels in (1, 2, 3):
                sizes = pyramid_sizes(h, w, levels)
                assert sizes[-1] == (h, w) and all(a <= h and b <= w for a, b in sizes)


def test_per_frame_gatys_frames_do_not_depend_on_the_past(clip: Path, config: GatysConfig, tmp_path: Path) -> None:
    """Temporal weight 0 with content initialisation (``--temporal none``): a frame comes out
    the same whether or not other frames were stylized before it."""
    from flowstyle.flow import make_flow_backend
    from flowstyle.gatys.objective import StyleTarget
    from flowstyle.gatys.stylizer import FrameStylizer, GatysStylizer
    from flowstyle.io.reader import VideoReader
    from flowstyle.losses import load_vgg16
    from flowstyle.stylize.paintings import parse_paintings

    o = dataclasses.replace(config.gatys, temporal_weight=0.0, init="content", first_iterations=3)
    vgg = load_vgg16()
    frames = FrameStylizer(o, StyleTarget(parse_paintings(o.style), o.style_scale, vgg), vgg, torch.device("cpu"))

    def stylizer(name: str) -> GatysStylizer:
        return GatysStylizer(frames, make_flow_backend(o.flow), WorkFolder(tmp_path / name, {"k": name}))

    with VideoReader(clip) as reader:
        decoded = list(reader.frames())
    after = stylizer("a")
    for f in decoded[:3]:
        last = after.stylize(f, f.index == 0)
    alone = stylizer("b").stylize(decoded[2], True)
    assert np.array_equal(last, alone)
