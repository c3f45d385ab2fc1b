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
from fake_weights import noisy, with_trained
from synth import write_clip

CPU = torch.device("cpu")


@pytest.fixture
def perturbed() -> dict[str, torch.Tensor]:
    """The shipped multi-style weights with noise on every convolution: a network that draws differently
    (a scale alone would not: each convolution is followed by an instance norm)."""
    return noisy("multistyle26", 0.3)


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


def test_contact_sheet_draws_each_style_with_each_network_side_by_side(media: Path, tmp_path: Path, perturbed: dict,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    from PIL import Image

    from flowstyle.sheet import contact_sheet

    with_trained(tmp_path / "weights", perturbed)
    monkeypatch.setenv("FLOWSTYLE_WEIGHTS", str(tmp_path / "weights"))
    out = contact_sheet(media / "photos" / "chelsea.png", tmp_path / "sheet.png", tile=32, columns=7,
                        networks=("original", "stable"))
    sheet = np.asarray(Image.open(out).convert("RGB")).astype(int)
    tw, pad, label = 32, 6, 14  # a landscape picture's thumbnail is as wide as the tile
    columns = 6  # 7 rounded down to a multiple of the two networks
    tiles = 2 + 2 * 26  # the picture and its empty partner, then each built-in style twice
    th = (sheet.shape[0] - pad) // -(-tiles // columns) - label - pad
    assert sheet.shape[1] == columns * (tw + pad) + pad

    def tile(n: int) -> np.ndarray:
        r, c = divmod(n, columns)
        x0, y0 = pad + c * (tw + pad), pad + r * (th + label + pad) + label
        return sheet[y0:y0 + th, x0:x0 + tw]

    assert (tile(1) == 255).all()  # the picture's partner: blank, so each style's pair shares a row
    for style in (0, 7):  # original left, stable right: drawn by different weights
        assert np.abs(tile(2 + 2 * style) - tile(3 + 2 * style)).mean() > 1.0
