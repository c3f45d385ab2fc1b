"""``--network original|stable``: which weights the feed-forward networks run with. Fine-tuned weights live
in the repository as ``[trained.NAME]`` manifest entries, pinned by sha256; a missing, altered or unknown
one is one line, and nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from flowstyle import registry
from flowstyle.errors import ConfigError, WeightsError
from flowstyle.models.multistyle import MultiStyleNet
from flowstyle.stylize.options import StyleOptions
from flowstyle.stylize.painter import make_stylizer
from synth import write_clip

CPU = torch.device("cpu")


def with_trained(folder: Path, state: dict[str, torch.Tensor], name: str = "multistyle26_stable") -> Path:
    """A weights folder holding the repo's converted weights and one trained entry made of ``state``."""
    src = registry.weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.symlink(src / "converted", folder / "converted")
    (folder / "stable").mkdir()
    path = folder / "stable" / f"{name}.pt"
    torch.save(state, path)
    manifest = (src / "manifest.toml").read_text(encoding="utf-8").split("\n[trained.")[0]  # trained entries last
    manifest += (f'\n[trained.{name}]\ndescription = "test"\nfile = "stable/{name}.pt"\n'
                 f'sha256 = "{registry.sha256_file(path)}"\nsize = {path.stat().st_size}\nbase = "multistyle26"\n'
                 f'licence = "Apache-2.0"\nrecipe = "a test"\n')
    (folder / "manifest.toml").write_text(manifest, encoding="utf-8")
    return path


@pytest.fixture
def perturbed() -> dict[str, torch.Tensor]:
    """The shipped multi-style weights with noise on every convolution: a network that draws differently
    (a scale alone would not: each convolution is followed by an instance norm)."""
    state = registry.load_state_dict("multistyle26")
    g = torch.Generator().manual_seed(0)
    return {k: v + 0.3 * v.std() * torch.randn(v.shape, generator=g) if k.endswith(".w") else v
            for k, v in state.items()}


def test_unknown_network_is_one_line() -> None:
    with pytest.raises(ConfigError, match="network: unknown network 'steady'; use stable or original"):
        StyleOptions(network="steady")


def test_stable_weights_are_used_when_the_manifest_has_them(tmp_path: Path, perturbed: dict,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with_trained(tmp_path / "weights", perturbed)
    monkeypatch.setenv("FLOWSTYLE_WEIGHTS", str(tmp_path / "weights"))
    x = torch.rand(1, 3, 48, 64, generator=torch.Generator().manual_seed(0))
    stable = make_stylizer(StyleOptions(style="7", network="stable"), CPU, torch.float32)(x)
    original = make_stylizer(StyleOptions(style="7"), CPU, torch.float32)(x)
    net = MultiStyleNet()
    net.load_state_dict(perturbed)
    w = torch.zeros(26)
    w[7] = 1.0
    with torch.no_grad():
        expected = net.eval()(x, w)
    torch.testing.assert_close(stable, expected, rtol=0, atol=1e-5)
    assert float((stable - original).abs().mean()) > 1e-3


def test_missing_or_altered_stable_weights_are_one_line(tmp_path: Path, perturbed: dict,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "none").mkdir()  # the repo's manifest without a trained entry
    text = (registry.weights_dir() / "manifest.toml").read_text(encoding="utf-8")
    (tmp_path / "none" / "manifest.toml").write_text(text.split("\n[trained.")[0], encoding="utf-8")
    os.symlink(registry.weights_dir() / "converted", tmp_path / "none" / "converted")
    monkeypatch.setenv("FLOWSTYLE_WEIGHTS", str(tmp_path / "none"))
    with pytest.raises(WeightsError, match="no stable version of the 'multistyle26' network"):
        make_stylizer(StyleOptions(style="7", network="stable"), CPU, torch.float32)
    path = with_trained(tmp_path / "weights", perturbed)
    monkeypatch.setenv("FLOWSTYLE_WEIGHTS", str(tmp_path / "weights"))
    with open(path, "r+b") as f:  # one byte changed
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 1]))
    with pytest.raises(WeightsError, match="sha256 does not match the manifest pin"):
        make_stylizer(StyleOptions(style="7", network="stable"), CPU, torch.float32)
    path.unlink()
    with pytest.raises(WeightsError, match="are missing from this checkout"):
        make_stylizer(StyleOptions(style="7", network="stable"), CPU, torch.float32)


def test_cli_refuses_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "in.mp4", list(range(4)), Fraction(1, 25))
    out = tmp_path / "out.mp4"
    env = {**os.environ, "FLOWSTYLE_WEIGHTS": str(registry.weights_dir())}
    for network, message in (("steady", "--network: unknown network 'steady'"),
                             ("stable", None)):
        proc = subprocess.run([sys.executable, "-m", "flowstyle", "render", str(src), "-o", str(out), "--network",
                               network], capture_output=True, text=True, timeout=300, env=env)
        if message is None and not registry.has_weights("multistyle26_stable"):
            message = "--network stable: this checkout has no stable version"
        if message is None:  # the repository ships stable weights: the render works
            assert proc.returncode == 0, proc.stderr
            out.unlink()
            continue
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
        assert not out.exists() and not list(tmp_path.glob(".*part*"))
