"""train-stable (issue 30): the compound loss, the training loop, resume, export, the CLI.

Training runs here are real (the converted loss network and shipped networks, two real
photos from ../shared/media) but tiny: 64 px crops, a few steps.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from flowstyle.errors import FlowstyleError
from flowstyle.models.arbitrary import ArbitraryTransformer
from flowstyle.models.multistyle import NUM_STYLES, MultiStyleNet
from flowstyle.registry import load_state_dict, sha256_file
from flowstyle.stylize.feedforward import load_multistyle
from flowstyle.stylize.network import load_network
from flowstyle.train import StableOptions, train_stable
from flowstyle.train.data import CropStream, find_sources
from flowstyle.train.pictures import opencv_pictures, skimage_folder, stable_label
from flowstyle.train.stable import laplacian_energy, random_warp, recipe_path, sharpness_loss, stability_loss
from flowstyle.train.students import to_tensor


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own user folder (checkpoints, picture cache)."""
    monkeypatch.setenv("FLOWSTYLE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def tiny(media: Path, **kw) -> StableOptions:
    photos = media / "photos"
    base = dict(data=(str(photos / "astronaut.png"), str(photos / "chelsea.png")), registry_pictures=False,
                crop=64, batch=2, steps=4, precision="fp32", device="cpu", checkpoint_seconds=1e9)
    return StableOptions(**{**base, **kw})


def state(options: StableOptions) -> dict:
    from flowstyle.train.stable import checkpoint_path

    return torch.load(checkpoint_path(options), map_location="cpu", weights_only=False)


# -- the losses -----------------------------------------------------------------

def test_compound_loss_is_zero_for_an_equivariant_network_and_not_for_the_shipped_one() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.nn.functional.avg_pool2d(torch.rand(2, 3, 68, 68, generator=g), 5, 1)  # 64x64, smooth-ish
    flow = random_warp(2, 64, 64, torch.Generator().manual_seed(1))
    torch.testing.assert_close(flow, random_warp(2, 64, 64, torch.Generator().manual_seed(1)))  # seeded
    # Bounded as promised: 4 px shift, a 2 px smooth flow (bicubic overshoot: up to 2.5), 1 degree and 2% about
    # the centre (1.2 px at most 31.5 px from it).
    assert 0.5 < float(flow.abs().amax()) <= 4 + 2.5 + 1.2
    assert float(stability_loss(lambda v: v, x, flow).max()) < 1e-12  # the identity moves with its input
    net = load_multistyle(torch.device("cpu"), torch.float32)
    style = torch.zeros(NUM_STYLES)
    style[7] = 1.0
    with torch.no_grad():
        shipped = stability_loss(lambda v: net(v, style), x, flow)
    assert float(shipped.min()) > 1e-4, shipped
    # Sharpness: equal energies cost nothing; a blurred output costs.
    out = net(x, style).detach()
    assert float(sharpness_loss(out, out).max()) == 0.0
    blurred = torch.nn.functional.avg_pool2d(out, 3, 1, padding=1, count_include_pad=False)
    assert float(laplacian_energy(blurred).max()) < float(laplacian_energy(out).min())
    assert float(sharpness_loss(blurred, out).min()) > 0.1


# -- training -------------------------------------------------------------------

def test_training_resumes_exactly_exports_and_refuses_other_settings(media: Path, home: Path, tmp_path: Path) -> None:
    export = tmp_path / "out" / "stable.pt"
    full = train_stable(tiny(media, export=str(export), checkpoint=str(tmp_path / "full.ckpt.pt")))
    assert full.steps == 4 and full.resumed_from == 0 and full.sha256 == sha256_file(export)
    history = state(tiny(media, checkpoint=str(tmp_path / "full.ckpt.pt")))["history"]
    assert len(history) == 4 and all(torch.isfinite(torch.tensor(list(h.values()))).all() for h in history)
    assert history[0]["stability"] > 0 and set(history[0]) == {"gram", "content", "colour", "sharpness", "stability"}

    # Ctrl-C after step 2 (a real SIGINT: the step in flight finishes), then the same command:
    # it continues from step 2 and ends where the uninterrupted run ended.
    stopped = tiny(media, checkpoint=str(tmp_path / "stopped.ckpt.pt"))

    def stop_after_two(p) -> None:
        if p.done == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train_stable(stopped, progress=stop_after_two)
    assert state(stopped)["step"] == 2
    again = train_stable(stopped)
    assert again.resumed_from == 2 and again.steps == 4
    a, b = state(tiny(media, checkpoint=str(tmp_path / "full.ckpt.pt")))["net"], state(stopped)["net"]
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=0)
    # A finished run of 2 steps continues with a budget of 4 (default checkpoint in $FLOWSTYLE_HOME/training).
    assert train_stable(tiny(media, steps=2)).steps == 2
    assert (home / "training" / "stable-multistyle" / "checkpoint.pt").exists()
    assert train_stable(tiny(media)).resumed_from == 2

    # The export is the network alone, with the shipped file's keys, and runs as it does.
    weights = torch.load(export, weights_only=True)
    assert set(weights) == set(load_state_dict("multistyle26"))
    net = load_network(MultiStyleNet(), weights, torch.device("cpu"), torch.float32)
    style = torch.zeros(NUM_STYLES)
    style[16] = 1.0
    out = net(torch.rand(1, 3, 64, 96), style)
    assert out.shape == (1, 3, 64, 96) and torch.isfinite(out).all()
    recipe = json.loads(recipe_path(export).read_text())
    assert recipe["steps"] == 4 and recipe["sha256"] == full.sha256 and recipe["settings"]["lr"] == 1e-4
    assert recipe["teacher"] == "multistyle26" and recipe["cpu_minutes"] >= 0 and len(recipe["sources"]) == 2

    # Other settings: one line naming the setting; --restart starts over.
    with pytest.raises(FlowstyleError, match=r"changed: settings\.lr\)") as info:
        train_stable(tiny(media, lr=3e-4))
    assert "\n" not in str(info.value) and "--restart" in str(info.value)
    assert train_stable(tiny(media, lr=3e-4, steps=1), restart=True).steps == 1
    # A damaged checkpoint: one line too.
    broken = tmp_path / "broken.ckpt.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(FlowstyleError, match="unreadable checkpoint") as info:
        train_stable(tiny(media, checkpoint=str(broken)))
    assert "\n" not in str(info.value)


def test_a_stage_starts_from_an_earlier_runs_weights(media: Path, tmp_path: Path) -> None:
    first = tiny(media, steps=2, checkpoint=str(tmp_path / "first.ckpt.pt"), export=str(tmp_path / "first.pt"))
    train_stable(first)
    earlier = state(first)["net"]
    # A one-step stage at lr ~0 from the checkpoint (or from the export) keeps the earlier
    # weights, not the shipped ones; the stage records where it started.
    for i, start in enumerate((first.checkpoint, str(tmp_path / "first.pt"))):
        stage = tiny(media, steps=1, lr=1e-12, stability_weight=600.0, start_from=start,
                     checkpoint=str(tmp_path / f"stage{i}.ckpt.pt"), export=str(tmp_path / f"stage{i}.pt"))
        report = train_stable(stage)
        assert report.resumed_from == 0 and report.steps == 1
        net = state(stage)["net"]
        for k in earlier:
            torch.testing.assert_close(net[k], earlier[k], rtol=0, atol=1e-6)
        recipe = json.loads(recipe_path(Path(stage.export)).read_text())
        assert recipe["started_from"]["sha256"] == sha256_file(Path(start))
        assert recipe["started_from"]["step"] == (2 if i == 0 else None)
    shipped = load_state_dict("multistyle26")
    assert any(not torch.equal(earlier[k], shipped[k]) for k in shipped)  # the earlier run moved them
    # Continuing a stage needs no --start-from (its checkpoint has the weights).
    assert train_stable(tiny(media, steps=2, lr=1e-12, stability_weight=600.0,
                             checkpoint=str(tmp_path / "stage0.ckpt.pt"))).resumed_from == 1
    # Bad starts: one line each, no checkpoint written.
    (tmp_path / "junk.pt").write_bytes(b"junk")
    torch.save(ArbitraryTransformer().state_dict(), tmp_path / "other.pt")
    for path, reason in ((tmp_path / "missing.pt", "no such file"), (tmp_path / "junk.pt", "unreadable"),
                         (tmp_path / "other.pt", "not weights of the multistyle network")):
        bad = tiny(media, start_from=str(path), checkpoint=str(tmp_path / "bad.ckpt.pt"))
        with pytest.raises(FlowstyleError, match=reason) as info:
            train_stable(bad)
        assert "\n" not in str(info.value) and str(path) in str(info.value)
        assert not (tmp_path / "bad.ckpt.pt").exists()


def test_a_few_steps_lower_the_compound_loss_on_held_out_crops(media: Path, tmp_path: Path) -> None:
    export = tmp_path / "stable.pt"
    train_stable(tiny(media, steps=8, lr=1e-3, export=str(export)))
    cpu = torch.device("cpu")
    teacher = load_multistyle(cpu, torch.float32)
    student = load_network(MultiStyleNet(), torch.load(export, weights_only=True), cpu, torch.float32)
    photos = media / "photos"
    x = to_tensor(CropStream(find_sources([photos / "coffee.png", photos / "rocket.jpg"]), 64, 3).next_batch(4).frames, cpu)
    flow = random_warp(4, 64, 64, torch.Generator().manual_seed(2))
    styles = torch.eye(NUM_STYLES).repeat_interleave(4, 0)  # every built-in style on every crop
    x, flow = x.repeat(NUM_STYLES, 1, 1, 1), flow.repeat(NUM_STYLES, 1, 1, 1)
    with torch.no_grad():
        before = stability_loss(lambda v: teacher(v, styles), x, flow).mean()
        after = stability_loss(lambda v: student(v, styles), x, flow).mean()
    assert float(after / before) < 0.99, float(after / before)  # measured 0.968


def test_arbitrary_network_trains_on_predicted_style_vectors(media: Path, tmp_path: Path) -> None:
    export = tmp_path / "arbitrary.pt"
    report = train_stable(tiny(media, network="arbitrary", steps=2, lr=1e-3, export=str(export),
                               paintings=(str(media / "styles"),)))
    assert report.steps == 2 and all(v == v for v in report.losses.values())
    weights = torch.load(export, weights_only=True)
    shipped = load_state_dict("arbitrary_transform")
    assert set(weights) == set(shipped) and any(not torch.equal(weights[k], shipped[k]) for k in shipped)
    net = load_network(ArbitraryTransformer(), weights, torch.device("cpu"), torch.float32)
    out = net(torch.rand(1, 3, 64, 64), net.norm_params(torch.zeros(100)))
    assert out.shape == (1, 3, 64, 64) and torch.isfinite(out).all()
    with pytest.raises(FlowstyleError, match="paintings: invalid"):
        tiny(media, paintings=(str(media / "styles"),))  # the multi-style network has no paintings


def test_default_pictures_are_named_alike_on_every_machine(tmp_path: Path) -> None:
    assert stable_label(skimage_folder() / "astronaut.png") == "scikit-image==0.26.0:astronaut.png"
    assert stable_label(tmp_path / "mine.png") == str(tmp_path / "mine.png")
    assert opencv_pictures(tmp_path / "absent") == []
    (tmp_path / "cv").mkdir()
    for name in ("lena.jpg", "notes.txt", "fruits.png"):
        (tmp_path / "cv" / name).write_bytes(b"x")
    assert [p.name for p in opencv_pictures(tmp_path / "cv")] == ["fruits.png", "lena.jpg"]
    with pytest.raises(FlowstyleError, match="data: invalid"):
        StableOptions(registry_pictures=False)


# -- CLI ------------------------------------------------------------------------

def test_cli_trains_and_exports(media: Path, tmp_path: Path, home: Path) -> None:
    from typer.testing import CliRunner

    from flowstyle.cli import app

    runner = CliRunner()
    help_text = runner.invoke(app, ["train-stable", "--help"])
    assert help_text.exit_code == 0 and "--minutes" in help_text.output and "--export" in help_text.output
    export = tmp_path / "net.pt"
    photos = media / "photos"
    args = ["train-stable", "--data", str(photos / "coffee.png"), "--no-registry-pictures", "--steps", "1", "--crop", "64",
            "--batch", "1", "--precision", "fp32", "--device", "cpu", "--export", str(export)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert export.exists() and recipe_path(export).exists() and sha256_file(export) in result.output
    # Bad input: one line, exit 1, no traceback.
    proc = subprocess.run([sys.executable, "-m", "flowstyle", "train-stable", "--network", "nope"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == "flowstyle: error: --network: invalid 'nope' (choose multistyle, arbitrary)"


def test_options_key_ignores_budgets_and_paths() -> None:
    a = StableOptions(steps=10, minutes=5, checkpoint="a.pt", export="b.pt", data=("x",))
    assert a.key_settings() == dataclasses.replace(a, steps=20, minutes=None, checkpoint=None, export=None,
                                                   data=()).key_settings()
    assert a.key_settings() != dataclasses.replace(a, stability_weight=3.0).key_settings()
    # The anti-aliased form is keyed only when asked for, so runs made before the option continue.
    assert "antialias" not in a.key_settings()
    assert dataclasses.replace(a, antialias=True).key_settings()["antialias"] is True


def test_default_learning_rate_is_the_networks_own_and_keys_as_given() -> None:
    """The arbitrary network's weights are ~10x smaller, so its default rate is smaller too; a
    run left to the default continues a checkpoint made with that rate given (and not another)."""
    multi, arb = StableOptions(), StableOptions(network="arbitrary")
    assert (multi.learning_rate, arb.learning_rate) == (1e-4, 2e-5)
    assert arb.key_settings() == dataclasses.replace(arb, lr=2e-5).key_settings()
    assert arb.key_settings() != dataclasses.replace(arb, lr=1e-4).key_settings()
    assert multi.key_settings() == dataclasses.replace(multi, lr=1e-4).key_settings()


def test_antialiased_stage_trains_exports_and_renders(media: Path, tmp_path: Path) -> None:
    """--antialias trains the blurred form from plain weights (shipped or an earlier stage's); its
    export says it is anti-aliased, loads as the network it is, and is refused as the start of a
    plain stage in one line."""
    plain = tiny(media, steps=1, checkpoint=str(tmp_path / "plain.ckpt.pt"))
    train_stable(plain)
    export = tmp_path / "aa.pt"
    options = tiny(media, steps=2, antialias=True, start_from=plain.checkpoint, export=str(export),
                   checkpoint=str(tmp_path / "aa.ckpt.pt"))
    train_stable(options)
    weights = torch.load(export, map_location="cpu", weights_only=True)
    assert "antialias" in weights
    assert json.loads(recipe_path(export).read_text())["settings"]["antialias"] is True
    net = load_network(MultiStyleNet.for_state(weights), weights, torch.device("cpu"), torch.float32).fold_antialias()
    style = torch.zeros(NUM_STYLES)
    style[3] = 1.0
    with torch.no_grad():
        out = net(torch.rand(1, 3, 32, 48), style)
    assert out.shape == (1, 3, 32, 48) and 0 <= float(out.min()) and float(out.max()) <= 1
    bad = tiny(media, start_from=str(export), checkpoint=str(tmp_path / "bad.ckpt.pt"))
    with pytest.raises(FlowstyleError, match="anti-aliased: add --antialias") as info:
        train_stable(bad)
    assert "\n" not in str(info.value) and not (tmp_path / "bad.ckpt.pt").exists()
