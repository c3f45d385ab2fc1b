"""learn-style: streamed training data, cached flow, the training loop, learned styles in render.

Training runs here are real (the converted VGG16 loss network and multi-style
network, real photos and clips from ../shared/media) but tiny: 64-96 px crops,
a few steps.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from flowstyle.errors import FlowstyleError, InputError, StyleError
from flowstyle.models.multistyle import MultiStyleNet, style_rows
from flowstyle.stylize.feedforward import load_multistyle, multistyle_state
from flowstyle.stylize.options import StyleOptions
from flowstyle.stylize.painter import make_stylizer
from flowstyle.stylize.track import ARBITRARY
from flowstyle.stylize.learned import learned_names, load_learned
from flowstyle.stylize.styles import resolve_style
from flowstyle.train import LearnOptions, learn_style
from flowstyle.train.data import CropStream, find_sources
from flowstyle.train.flowcache import FlowCache
from flowstyle.train.learn import Checkpoint, output_temporal_loss, training_dir

from synth import write_clip


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own user folder (learned styles, checkpoints, flow cache)."""
    monkeypatch.setenv("FLOWSTYLE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def tiny(media: Path, **kw) -> LearnOptions:
    base = dict(painting=str(media / "styles" / "udnie.jpg"), name="udnie-test", sources=(str(media / "photos"),),
                crop=64, batch=2, steps=6, base="multistyle", init="16", precision="fp32", device="cpu", lr=2e-2)
    base.update(kw)
    return LearnOptions(**base)


def texture_clip(path: Path, shift: int = 2, frames: int = 5, size: tuple[int, int] = (96, 80)) -> Path:
    """A random texture translated right by ``shift`` px a frame: known flow (t -> t-1 is -shift in x)."""
    rng = np.random.default_rng(3)
    w, h = size
    big = rng.integers(0, 256, (h // 4, (w + shift * frames) // 4 + 1, 3), dtype=np.uint8)
    big = np.kron(big, np.ones((4, 4, 1), np.uint8))  # 4x4 blocks: texture DIS can follow
    import cv2

    big = cv2.GaussianBlur(big, (5, 5), 1.0)
    pics = [np.ascontiguousarray(big[:h, shift * (frames - i):shift * (frames - i) + w]) for i in range(frames)]
    return write_clip(path, list(range(frames)), Fraction(1, 25), size=size, frames=pics, codec="libx264rgb",
                      pix_fmt="rgb24", options={"qp": "0"})


# -- data ---------------------------------------------------------------------

def test_crop_stream_is_seeded_and_resumes_exactly(media: Path) -> None:
    sources = find_sources([media / "photos", media / "videos" / "bikes.mp4"])
    a = CropStream(sources, crop=64, seed=5, buffer=4)
    first = [a.next_batch(3).frames for _ in range(3)]
    state = a.state_dict()
    rest = [a.next_batch(3).frames for _ in range(4)]
    b = CropStream(sources, crop=64, seed=5, buffer=4)
    again = [b.next_batch(3).frames for _ in range(3)]
    assert all(np.array_equal(x, y) for x, y in zip(first, again))
    c = CropStream(sources, crop=64, seed=5, buffer=4)
    c.load_state_dict(state)
    assert all(np.array_equal(x, y) for x, y in zip(rest, [c.next_batch(3).frames for _ in range(4)]))
    other = CropStream(sources, crop=64, seed=6, buffer=4).next_batch(3).frames
    assert not np.array_equal(other, first[0])
    assert first[0].shape == (3, 64, 64, 3) and first[0].dtype == np.uint8
    assert len({x.tobytes() for batch in first + rest for x in batch}) == 21  # no crop repeated


def test_size_policy_short_side_scales_the_shorter_displayed_side() -> None:
    from flowstyle.io.reader import SizePolicy

    assert SizePolicy(short_side=288).target(1280, 720) == (512, 288)
    assert SizePolicy(short_side=288).target(720, 1280) == (288, 512)  # portrait (e.g. a rotated phone clip)
    assert SizePolicy(short_side=72).target(96, 80) == (86, 72)  # enlarges too; sides even


def test_find_sources_excludes_and_refuses(media: Path, tmp_path: Path) -> None:
    videos = find_sources([media / "videos"], exclude=[media / "videos" / "bigbuckbunny.mp4"])
    names = [s.path.name for s in videos]
    # The shared folder gains clips over time (chaplin.mp4 did), so no exact listing here.
    assert names == sorted(names) and "bigbuckbunny.mp4" not in names and {"bikes.mp4", "tree.avi"} <= set(names)
    with pytest.raises(InputError, match="no such file"):
        find_sources([tmp_path / "missing"])
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="no clips or pictures"):
        find_sources([tmp_path])


def test_pairs_carry_known_flow_and_are_cached(tmp_path: Path) -> None:
    clip = texture_clip(tmp_path / "texture.mkv", shift=2)
    cache = FlowCache("dis-medium", folder=tmp_path / "cache")
    stream = CropStream(find_sources([clip]), crop=64, seed=0, pairs=True, rate=1.0, buffer=1, flow_cache=cache)
    batch = stream.next_batch(3)
    assert batch.prev is not None and batch.flow_bwd.shape == (3, 64, 64, 2) and batch.mask.shape == (3, 64, 64)
    reliable = batch.mask > 0.5
    assert reliable.mean() > 0.6
    # Frame t shows frame t-1 moved right by 2 px, so t -> t-1 is -2 px in x, at the stream's
    # working scale: shorter side 1.125 x the crop (72 of the clip's 80 rows).
    assert stream.short_side == 72
    np.testing.assert_allclose(np.median(batch.flow_bwd[..., 0][reliable]), -2.0 * 72 / 80, atol=0.1)
    np.testing.assert_allclose(np.median(batch.flow_bwd[..., 1][reliable]), 0.0, atol=0.1)
    assert cache.computed >= 3 and len(list((tmp_path / "cache").glob("*.npz"))) == cache.computed
    # A second run reads the cached flows instead of computing them again.
    again = FlowCache("dis-medium", folder=tmp_path / "cache")
    b2 = CropStream(find_sources([clip]), crop=64, seed=0, pairs=True, rate=1.0, buffer=1, flow_cache=again).next_batch(3)
    assert again.computed == 0 and again.loaded >= 3
    np.testing.assert_array_equal(b2.flow_bwd, batch.flow_bwd)


# -- losses -----------------------------------------------------------------

def test_output_temporal_loss_zero_for_consistent_output_and_gradcheck() -> None:
    g = torch.Generator().manual_seed(0)
    prev_in = torch.rand(1, 3, 12, 12, generator=g, dtype=torch.float64)
    prev_out = torch.rand(1, 3, 12, 12, generator=g, dtype=torch.float64)
    flow = torch.zeros(1, 2, 12, 12, dtype=torch.float64)
    flow[:, 0] = -1.0  # every pixel came from one to the left
    from flowstyle.flow.warp import warp

    frame, out = warp(prev_in, flow), warp(prev_out, flow)
    mask = torch.ones(1, 1, 12, 12, dtype=torch.float64)
    assert float(output_temporal_loss(out, prev_out, frame, prev_in, flow, mask)) < 1e-20
    # A brighter input allows an equally brighter output (ReCoNet: luminance change is not flicker).
    assert float(output_temporal_loss(out + 0.1, prev_out, frame + 0.1, prev_in, flow, mask)) < 1e-20
    flicker = out + 0.1 * torch.rand(out.shape, generator=g, dtype=torch.float64)
    assert float(output_temporal_loss(flicker, prev_out, frame, prev_in, flow, mask)) > 1e-4
    assert float(output_temporal_loss(flicker, prev_out, frame, prev_in, flow, torch.zeros_like(mask))) == 0.0
    x = flicker.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda o: output_temporal_loss(o, prev_out, frame, prev_in, flow, mask), (x,))


# -- training -----------------------------------------------------------------

def test_training_lowers_the_loss_and_changes_only_the_new_style(media: Path) -> None:
    options = tiny(media, steps=12, batch=2)
    before = multistyle_state()
    report = learn_style(options)
    history = torch.load(training_dir("udnie-test") / "checkpoint.pt", weights_only=False)["history"]
    total = [sum(h.values()) for h in history]
    assert np.mean(total[-4:]) < 0.7 * np.mean(total[:4]), total
    assert report.steps == 12 and report.path.exists()
    style = load_learned("udnie-test")
    assert style.network is None and style.info["painting"] == "udnie.jpg" and len(style.info["painting_sha256"]) == 64
    start = style_rows(_loaded(before), 16)
    assert set(style.rows) == set(start)
    changed = [k for k in start if not torch.equal(style.rows[k], start[k])]
    assert len(changed) == len(start)  # every scale and shift of the new style moved
    # Built-in weights on disk are untouched, and so are their rows in a net with the new style.
    assert all(torch.equal(before[k], v) for k, v in multistyle_state().items())
    mix = resolve_style("udnie-test")
    state = multistyle_state(mix)
    for k, v in before.items():
        assert torch.equal(state[k][:26] if k.endswith((".gamma", ".beta")) else state[k], v)


def _loaded(state: dict) -> MultiStyleNet:
    net = MultiStyleNet()
    net.load_state_dict(state)
    return net


def test_saved_style_renders_what_was_trained(media: Path) -> None:
    learn_style(tiny(media, steps=3))
    ckpt = torch.load(training_dir("udnie-test") / "checkpoint.pt", weights_only=False)
    student = MultiStyleNet(num_styles=1)
    student.load_state_dict(ckpt["net"])
    x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = student(x, torch.ones(1))
    stylizer = make_stylizer(StyleOptions(style="udnie-test"), torch.device("cpu"), torch.float32)
    torch.testing.assert_close(stylizer(x), expected, rtol=0, atol=1e-6)
    # Blends: learned and built-in rows mix like built-in ones.
    blend = make_stylizer(StyleOptions(style="udnie-test:0.5,3:0.5"), torch.device("cpu"), torch.float32)
    weights = blend.track.keys[0][1].value.tolist()
    assert weights[3] == 0.5 and weights[26] == 0.5
    assert float((blend(x) - stylizer(x)).abs().mean()) > 1e-3
    assert learned_names() == ["udnie-test"]


def test_a_vector_style_is_used_as_a_painting_is(media: Path) -> None:
    """The default base (issue #17): a trained style vector of the arbitrary network."""
    from flowstyle.stylize.arbitrary import load_predictor, load_transformer, predict_style
    from flowstyle.io.images import load_rgb
    from flowstyle.train.students import VectorStudent

    options = tiny(media, base="arbitrary", init="nearest", steps=8, batch=2, lr=5e-2)
    assert options.content_weight == 100.0  # the base's default
    learn_style(options)
    history = torch.load(training_dir("udnie-test") / "checkpoint.pt", weights_only=False)["history"]
    assert np.mean([h["style"] for h in history[-3:]]) < np.mean([h["style"] for h in history[:3]])
    style = load_learned("udnie-test")
    assert style.base == "arbitrary" and style.rows == {} and style.vector.shape == (100,)
    predicted = predict_style(load_predictor(), load_rgb(media / "styles" / "udnie.jpg"))
    assert float((style.vector - predicted).abs().max()) > 1e-3  # trained away from the prediction
    # Rendered exactly as trained, through the arbitrary network's stylizer.
    x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    stylizer = make_stylizer(StyleOptions(style="udnie-test"), torch.device("cpu"), torch.float32)
    assert [c.kind for c in stylizer.track.conditionings] == [ARBITRARY]
    with torch.no_grad():
        expected = VectorStudent(load_transformer(torch.device("cpu"), torch.float32), style.vector)(x)
    torch.testing.assert_close(stylizer(x), expected, rtol=0, atol=1e-5)
    # Blends with paintings mix the vectors; built-in styles drive another network.
    painting = str(media / "styles" / "starry_night.jpg")
    blend = make_stylizer(StyleOptions(style=f"udnie-test:0.5,{painting}:0.5"), torch.device("cpu"), torch.float32)
    starry = predict_style(load_predictor(), load_rgb(Path(painting)))
    torch.testing.assert_close(blend.track.keys[0][1].value, 0.5 * style.vector + 0.5 * starry, rtol=0, atol=1e-5)
    with pytest.raises(StyleError, match="blends with paintings"):
        resolve_style("udnie-test:0.5,3:0.5")
    with pytest.raises(FlowstyleError, match="needs --base multistyle|needs painting files"):
        from flowstyle.stylize.paintings import parse_paintings
        parse_paintings("udnie-test")
    # A run stopped and resumed ends where an uninterrupted one does.
    full = torch.load(training_dir("udnie-test") / "checkpoint.pt", weights_only=False)["net"]

    def stop_at_four(p) -> None:
        if p.done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        learn_style(options, restart=True, overwrite=True, progress=stop_at_four)
    assert learn_style(options, overwrite=True).resumed_from == 4
    torch.testing.assert_close(torch.load(training_dir("udnie-test") / "checkpoint.pt", weights_only=False)["net"]["vector"],
                               full["vector"], rtol=0, atol=0)
    for bad, needle in (({"train": "all"}, "needs --base multistyle"), ({"init": "3"}, "needs --base multistyle"),
                        ({"base": "other"}, "base: invalid 'other'")):
        with pytest.raises(FlowstyleError, match=needle):
            tiny(media, **{"base": "arbitrary", "init": "nearest", **bad})


def test_stop_and_resume_matches_an_uninterrupted_run(media: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    options = tiny(media, steps=6, checkpoint_seconds=1e9)  # checkpoints only at the stop and the end
    learn_style(options)
    full = torch.load(training_dir("udnie-test") / "checkpoint.pt", weights_only=False)["net"]

    monkeypatch.setenv("FLOWSTYLE_HOME", str(home.parent / "home2"))

    def stop_after_two(p) -> None:
        if p.done == 2:  # a real Ctrl-C: the step in flight finishes, then the run stops
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        learn_style(options, progress=stop_after_two)
    assert torch.load(training_dir("udnie-test") / "checkpoint.pt", weights_only=False)["step"] == 2
    assert learned_names() == []  # no style file until training finishes
    report = learn_style(options)
    assert report.resumed_from == 2 and report.steps == 6
    resumed = torch.load(training_dir("udnie-test") / "checkpoint.pt", weights_only=False)["net"]
    for k in full:
        torch.testing.assert_close(resumed[k], full[k], rtol=0, atol=0)
    # A larger budget continues the finished run; other settings would replace the style (--overwrite).
    assert learn_style(dataclasses.replace(options, steps=7)).resumed_from == 6
    with pytest.raises(StyleError, match="--overwrite"):
        learn_style(dataclasses.replace(options, content_weight=1.0))

    def stop_at_eight(p) -> None:
        if p.done == 8:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        learn_style(dataclasses.replace(options, steps=9), progress=stop_at_eight)
    # An unfinished run is never discarded silently: a changed setting is refused until --restart.
    with pytest.raises(FlowstyleError, match="changed: settings.content_weight"):
        learn_style(dataclasses.replace(options, content_weight=1.0), overwrite=True)
    assert learn_style(dataclasses.replace(options, content_weight=1.0, steps=1), restart=True, overwrite=True).steps == 1


def test_temporal_training_on_pairs_trains_the_network(media: Path, tmp_path: Path) -> None:
    clip = texture_clip(tmp_path / "texture.mkv", shift=2, frames=6)
    options = tiny(media, sources=(str(clip),), temporal_weight=1e3, train="all", steps=2, crop=64)
    learn_style(options)
    style = load_learned("udnie-test")
    assert style.network is not None
    base = multistyle_state()
    assert any(not torch.equal(style.network[k], base[k]) for k in base if k.endswith(".w"))
    assert list((Path(str(training_dir("udnie-test").parent.parent)) / "cache" / "flow").glob("*.npz"))
    with pytest.raises(StyleError, match="own network"):
        resolve_style("udnie-test:0.5,3:0.5")
    out = make_stylizer(StyleOptions(style="udnie-test"), torch.device("cpu"), torch.float32)(torch.rand(1, 3, 32, 32))
    assert out.shape == (1, 3, 32, 32) and torch.isfinite(out).all()


def test_existing_style_needs_overwrite_and_names_are_checked(media: Path) -> None:
    learn_style(tiny(media, steps=1))
    with pytest.raises(StyleError, match="--overwrite"):
        learn_style(tiny(media, steps=1, seed=9))
    with pytest.raises(StyleError, match="built-in style"):
        learn_style(tiny(media, name="blue-brush"))
    with pytest.raises(StyleError, match="lower-case"):
        learn_style(tiny(media, name="My Style"))
    with pytest.raises(InputError, match="no such file"):
        learn_style(tiny(media, painting=str(media / "styles" / "missing.jpg")))
    with pytest.raises(StyleError, match="unknown style 'nope'"):
        resolve_style("nope")
    with pytest.raises(FlowstyleError, match="crop: invalid 30"):
        tiny(media, crop=30)


def test_unwritable_user_folder_is_refused_before_training(media: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from flowstyle.errors import OutputError

    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("FLOWSTYLE_HOME", str(tmp_path / "a-file" / "home"))
    steps = []
    with pytest.raises(OutputError, match="set FLOWSTYLE_HOME to a writable folder"):
        learn_style(tiny(media, steps=1), progress=steps.append)
    assert steps == []


def test_corrupt_learned_style_is_one_line(home: Path) -> None:
    (home / "styles").mkdir(parents=True)
    (home / "styles" / "broken.pt").write_bytes(b"not a torch file")
    with pytest.raises(StyleError, match="cannot read learned style"):
        resolve_style("broken")
    assert isinstance(Checkpoint("x", {}).load(restart=False), type(None))


def test_render_with_a_learned_style(media: Path, tmp_path: Path) -> None:
    from flowstyle import RenderConfig, render
    from flowstyle.temporal import TemporalOptions

    learn_style(tiny(media, steps=1))
    clip = write_clip(tmp_path / "in.mp4", list(range(4)), Fraction(1, 25), size=(64, 48))
    report = render(clip, tmp_path / "out.mp4", RenderConfig(style=StyleOptions(style="udnie-test:0.7,blue-brush:0.3"),
                                                             device="cpu", temporal=TemporalOptions(mode="none")))
    assert report.frames == 4 and (tmp_path / "out.mp4").exists()
    umask = os.umask(0)
    os.umask(umask)
    # Outputs and learned styles get ordinary file permissions, not the temporary file's 0600.
    assert (tmp_path / "out.mp4").stat().st_mode & 0o777 == 0o666 & ~umask
    assert load_learned("udnie-test").path.stat().st_mode & 0o777 == 0o666 & ~umask
    net = load_multistyle(torch.device("cpu"), torch.float32, resolve_style("udnie-test"))
    assert net.num_styles == 27


def test_a_learned_style_rides_on_the_stable_network(media: Path, tmp_path: Path) -> None:
    """A learned style's rows (Dumoulin et al. 2017: a style is its norm rows) are appended to whichever
    weights the render runs with: with ``--network stable`` the shipped stable convolutions draw them, alone
    or blended with a built-in style, and the picture is the same style drawn by another network."""
    from flowstyle import registry
    from flowstyle.stylize.network import network_weights

    if not registry.has_weights("multistyle26_stable"):
        pytest.skip("this checkout has no stable weights")
    learn_style(tiny(media, steps=1))
    mix = resolve_style("udnie-test:0.7,blue-brush:0.3")
    stable = load_multistyle(torch.device("cpu"), torch.float32, mix, weights="stable")
    original = load_multistyle(torch.device("cpu"), torch.float32, mix)
    assert stable.num_styles == original.num_styles == 27
    torch.testing.assert_close(stable.contract[0].w, network_weights("multistyle26", "stable")["contract.0.w"])
    torch.testing.assert_close(stable.contract[0].gamma[26], original.contract[0].gamma[26])  # the learned row
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = stable(x, mix.weights), original(x, mix.weights)
    diff = float((a - b).abs().mean())
    assert 0.002 < diff < 0.1, diff  # another network, the same look



def test_a_learned_vector_rides_on_the_stable_arbitrary_network(media: Path, tmp_path: Path) -> None:
    """A style learned on the arbitrary network is a style vector (Ghiasi et al. 2017), used as a painting's
    is: with ``--network stable`` the shipped stable transformer draws it, the same look by another network."""
    from flowstyle import registry
    from flowstyle.stylize.arbitrary import load_transformer
    from flowstyle.train.students import VectorStudent

    if not registry.has_weights("arbitrary_transform_stable"):
        pytest.skip("this checkout has no stable arbitrary weights")
    learn_style(tiny(media, base="arbitrary", init="nearest", steps=1, lr=1e-2))
    vector = load_learned("udnie-test").vector
    x = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(1))
    cpu = torch.device("cpu")
    stylizer = make_stylizer(StyleOptions(style="udnie-test", network="stable"), cpu, torch.float32)
    assert [c.kind for c in stylizer.track.conditionings] == [ARBITRARY]
    with torch.no_grad():
        stable = VectorStudent(load_transformer(cpu, torch.float32, weights="stable"), vector)(x)
        original = VectorStudent(load_transformer(cpu, torch.float32), vector)(x)
    torch.testing.assert_close(stylizer(x), stable, rtol=0, atol=1e-5)
    diff = float((stable - original).abs().mean())
    assert 0.002 < diff < 0.1, diff  # another network, the same look


# -- CLI ----------------------------------------------------------------------

def test_cli_learns_lists_and_renders_a_style(media: Path, tmp_path: Path, home: Path) -> None:
    import subprocess
    import sys

    env = {**os.environ, "FLOWSTYLE_HOME": str(home)}
    run = lambda *a: subprocess.run([sys.executable, "-m", "flowstyle", *a], capture_output=True, text=True,  # noqa: E731
                                    timeout=600, env=env)
    painting = str(media / "styles" / "udnie.jpg")
    proc = run("learn-style", painting, "--name", "cli-udnie", "--on", str(media / "photos"), "--steps", "2",
               "--crop", "64", "--batch", "1", "--base", "multistyle", "--init", "3")
    assert proc.returncode == 0, proc.stderr
    assert "style 'cli-udnie' after 2 steps" in proc.stderr and "step" in proc.stderr  # progress bar drawn
    listing = run("styles").stdout
    assert "cli-udnie  (from udnie.jpg, 2 steps, multistyle network" in listing
    clip = write_clip(tmp_path / "in.mp4", list(range(3)), Fraction(1, 25), size=(64, 48))
    # With no --on, the clip to stylize is the training data (issue #17), and a log line says so.
    proc = run("learn-style", painting, str(clip), "--name", "for-clip", "--steps", "1", "--crop", "64", "--batch", "1")
    assert proc.returncode == 0 and f"training on {clip} (the clip to stylize)" in proc.stderr, proc.stderr
    assert "for-clip  (from udnie.jpg, 1 steps, arbitrary network" in run("styles").stdout
    proc = run("render", str(clip), "-o", str(tmp_path / "out.mp4"), "--style", "cli-udnie:0.5,3:0.5", "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    # Bad input: one line, exit 1, no traceback, nothing written.
    for args, needle in (
        (("learn-style", str(tmp_path / "missing.jpg"), "--name", "x"), "missing.jpg: no such file"),
        (("learn-style", painting, "--name", "x", "--on", str(tmp_path / "nowhere")), "nowhere: no such file or folder"),
        (("learn-style", painting, "--name", "Bad Name", "--on", str(media / "photos")), "lower-case"),
        (("learn-style", painting, "--name", "cli-udnie", "--on", str(media / "photos"), "--seed", "4"), "--overwrite"),
        (("learn-style", painting, "--name", "x", "--train", "some"), "--train: invalid 'some'"),
        (("learn-style", painting, "--name", "x", "--train", "all"), "--train: invalid 'all' (training the convolutions needs --base multistyle)"),
        (("learn-style", painting, "--name", "x", "--init", "3"), "--init needs --base multistyle"),
        (("render", str(clip), "-o", str(tmp_path / "o2.mp4"), "--style", "not-learned"), "unknown style 'not-learned'"),
    ):
        proc = run(*args)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        lines = [line for line in proc.stderr.splitlines() if line.startswith("flowstyle: error:")]
        assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert not (tmp_path / "o2.mp4").exists() and learned_names() == ["cli-udnie", "for-clip"]


def test_default_training_data_is_the_demo_clip(media: Path, monkeypatch: pytest.MonkeyPatch,
                                               caplog: pytest.LogCaptureFixture) -> None:
    # Issue #17: not the developers' ../shared/media, but the demo clip every user has.
    from flowstyle.train import learn

    monkeypatch.setenv("FLOWSTYLE_DEMO_CLIP", str(media / "videos" / "bigbuckbunny.mp4"))
    with caplog.at_level(logging.INFO, logger="flowstyle.train.learn"):
        assert learn.default_sources() == [str(media / "videos" / "bigbuckbunny.mp4")]
    assert "training on the demo clip" in caplog.text
    monkeypatch.setattr(learn, "demo_clip", lambda fetch: None)  # not here and not downloadable
    with pytest.raises(FlowstyleError, match="pass --on"):
        learn.default_sources()
