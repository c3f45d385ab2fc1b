"""The int8 path (issue #17): closeness to fp32 on real frames, on every CPU kind; the
calibration cache and what invalidates it; how a precision is chosen."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from flowstyle.cpu import cpu_info, describe
from flowstyle.device import INT8, no_int8_path, resolve_precision
from flowstyle.errors import DeviceError
from flowstyle.models import quantize as q
from flowstyle.stylize import int8 as int8_stylize
from flowstyle.stylize.feedforward import load_multistyle, pad_to_multiple
from flowstyle.stylize.options import StyleOptions
from flowstyle.stylize.painter import make_stylizer
from flowstyle.stylize.styles import resolve_style

ROOT = Path(__file__).resolve().parent.parent
needs_int8 = pytest.mark.skipif(no_int8_path(torch.device("cpu")) is not None, reason="no int8 path on this CPU")
WIDTH = 256  # small frames keep calibration to a few seconds


def _frames(media: Path, clip: str, count: int) -> list[torch.Tensor]:
    return int8_stylize.calibration_frames(media / "videos" / clip, count, WIDTH)


def _style() -> torch.Tensor:
    return resolve_style("16").weights


def _run(net, x):
    return net(pad_to_multiple(x)[0], _style())


def _quantized(media: Path, cache: Path, calls: list | None = None, min_psnr: float = 0.0, count: int = 3,
               width: int = WIDTH):
    net = load_multistyle(torch.device("cpu"), torch.float32)

    def frames():
        if calls is not None:
            calls.append(1)
        return int8_stylize.calibration_frames(media / "videos" / "bigbuckbunny.mp4", count, width)

    return q.quantize(net, _run, frames, f"bbb-{count}-{width}", cache, [_style()], min_psnr)


@pytest.fixture(scope="module")
def calibrated(media: Path, tmp_path_factory: pytest.TempPathFactory):
    """The multi-style network calibrated once for this module: (network, PSNR, cache file)."""
    cache = tmp_path_factory.mktemp("int8-cache")
    net, quality = _quantized(media, cache)
    return net, quality, next(cache.glob("*.pt"))


@needs_int8
def test_int8_network_is_close_to_fp32_on_held_out_frames(media: Path, calibrated) -> None:
    """Calibrated on the demo clip, checked on other footage: >= 35 dB on every frame.

    Measured 37-41 dB worst frame on bikes and chaplin at 640 px, 41.8 on bigbuckbunny.
    """
    net, quality, _ = calibrated
    assert quality >= 38.0
    ref = load_multistyle(torch.device("cpu"), torch.float32)
    with torch.inference_mode():
        for x in _frames(media, "bikes.mp4", 3) + _frames(media, "chaplin.mp4", 2):
            assert q.psnr(_run(net, x), _run(ref, x)) >= 35.0


PROBE = """
import sys, torch
from pathlib import Path
sys.path.insert(0, {root!r})
from flowstyle.models import quantize as q
from flowstyle.stylize.feedforward import load_multistyle, pad_to_multiple
from flowstyle.stylize.int8 import calibration_frames
from flowstyle.stylize.styles import resolve_style
style = resolve_style("16").weights
run = lambda net, x: net(pad_to_multiple(x)[0], style)
frames = lambda: calibration_frames(Path({clip!r}), 3, {width})
net, _ = q.quantize(load_multistyle(torch.device("cpu"), torch.float32), run, frames, "bbb", Path({cache!r}), [style])
with torch.inference_mode():
    torch.save(run(net, torch.load({x!r})), {out!r})
print(torch.backends.cpu.get_cpu_capability(), q.weight_qmax())
"""


def test_weight_bits_follow_what_the_int8_kernel_sums_exactly() -> None:
    """8-bit weights where oneDNN's int8 conv is exact (VNNI/AMX), 7-bit where pairs of products
    saturate in int16 (AVX2 without VNNI); the calibration uses no more."""
    limited = os.environ.get("ONEDNN_MAX_CPU_ISA", "ALL").upper() not in ("ALL", "DEFAULT")
    if no_int8_path(torch.device("cpu")) is not None:
        pytest.skip("no int8 path on this CPU")
    assert q.weight_qmax() == (127 if cpu_info().vnni and not limited else 63)


@needs_int8
@pytest.mark.skipif("avx512f" not in cpu_info().flags, reason="simulating AVX2 needs a bigger CPU")
def test_int8_holds_the_bar_on_a_simulated_avx2_machine(media: Path, tmp_path: Path, calibrated) -> None:
    """oneDNN limited to AVX2 (no VNNI) calibrates with 7-bit weights and holds the bar against fp32,
    as the network calibrated here does; neither result is the other's reference (issue #17)."""
    net, _, path = calibrated
    x = _frames(media, "chaplin.mp4", 1)[0]
    torch.save(x, tmp_path / "x.pt")
    with torch.inference_mode():
        here = _run(net, x)
        ref = _run(load_multistyle(torch.device("cpu"), torch.float32), x)
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    code = PROBE.format(root=str(ROOT), clip=str(media / "videos" / "bigbuckbunny.mp4"), width=WIDTH,
                        cache=str(tmp_path / "cache"), x=str(tmp_path / "x.pt"), out=str(tmp_path / "avx2.pt"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["AVX2", "63"]
    there = torch.load(tmp_path / "avx2.pt", weights_only=True)
    assert q.psnr(there, ref) >= 35.0 and q.psnr(here, ref) >= 35.0
    # A calibration is never carried across: the AVX2 run wrote its own cache entry (another CPU kind).
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 1 and path.exists()


@needs_int8
def test_calibration_cache_is_used_and_foreign_ones_are_rebuilt(media: Path, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    calls: list = []
    small = dict(count=1, width=128)  # what is checked here is the cache, not the quality
    _quantized(media, tmp_path, calls, **small)
    assert len(calls) == 1
    _, quality = _quantized(media, tmp_path, calls, **small)
    assert len(calls) == 1  # served from the cache: no frames decoded, nothing calibrated
    (path,) = tmp_path.glob("*.pt")
    for field, foreign in (("torch_version", "1.13.0"), ("cpu", "avx2 | AVX2 | onednn max isa ALL")):
        payload = torch.load(path, weights_only=True)
        payload["key"][field] = foreign
        torch.save(payload, path)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="flowstyle"):
            _, rebuilt = _quantized(media, tmp_path, calls, **small)
        assert any("calibrating again" in r.getMessage() and foreign.split(" |")[0] in r.getMessage() for r in caplog.records)
        assert torch.load(path, weights_only=True)["key"][field] != foreign  # rewritten for this torch / CPU
        assert rebuilt == pytest.approx(quality, abs=0.5)
    assert len(calls) == 3
    path.write_bytes(b"truncated")
    _quantized(media, tmp_path, calls, **small)
    assert len(calls) == 4


@needs_int8
def test_a_network_that_misses_the_bar_runs_fp32(media: Path, tmp_path: Path) -> None:
    """The quality gate: below the bar the float convolutions come back (what auto relies on)."""
    net, quality = _quantized(media, tmp_path, min_psnr=99.0, count=1, width=128)
    assert quality < 99.0
    assert all(isinstance(p, torch.nn.Parameter) for p in (net.contract[0].w, net.expand[2].w))
    x = _frames(media, "bikes.mp4", 1)[0]
    with torch.inference_mode():
        assert torch.equal(_run(net, x), _run(load_multistyle(torch.device("cpu"), torch.float32), x))
    again, _ = _quantized(media, tmp_path, min_psnr=99.0, count=1, width=128)  # from the cache: still float
    assert isinstance(again.contract[0].w, torch.nn.Parameter)


@needs_int8
def test_stylizer_runs_int8_with_a_calibration_clip(media: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(int8_stylize, "CALIBRATION_WIDTH", WIDTH)
    monkeypatch.setattr(int8_stylize, "CALIBRATION_FRAMES", 2)
    monkeypatch.setattr(int8_stylize, "GATE_PSNR", int8_stylize.MIN_PSNR)  # the wiring, not the gate (tested below)
    monkeypatch.setenv("FLOWSTYLE_DEMO_CLIP", str(media / "videos" / "bigbuckbunny.mp4"))
    stylizer = make_stylizer(StyleOptions(style="16"), torch.device("cpu"), INT8)
    assert stylizer.dtype == INT8
    x = _frames(media, "chaplin.mp4", 1)[0][..., :90, :130]  # any size, as in a render
    ref = make_stylizer(StyleOptions(style="16"), torch.device("cpu"), torch.float32)(x)
    assert stylizer(x).shape == x.shape
    assert q.psnr(stylizer(x), ref) >= 33.0


@needs_int8
def test_keyed_styles_run_int8_calibrated_over_every_key(media: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A track with keys of two styles runs int8 like a plain style: the network is calibrated once over
    every style it will draw, so each key holds the bar against fp32."""
    from flowstyle.stylize.keyframes import Key
    from flowstyle.stylize.painter import make_stylizers
    from flowstyle.stylize.resolve import resolve_track

    monkeypatch.setattr(int8_stylize, "CALIBRATION_WIDTH", WIDTH)
    monkeypatch.setattr(int8_stylize, "CALIBRATION_FRAMES", 2)
    monkeypatch.setattr(int8_stylize, "GATE_PSNR", int8_stylize.MIN_PSNR)  # the wiring, not the gate
    monkeypatch.setenv("FLOWSTYLE_DEMO_CLIP", str(media / "videos" / "bigbuckbunny.mp4"))
    track = resolve_track(StyleOptions(), (Key(0.0, "16"), Key(1.0, "3")))
    keyed, = make_stylizers([track], torch.device("cpu"), INT8)
    assert keyed.dtype == INT8
    x = _frames(media, "chaplin.mp4", 1)[0][..., :90, :130]
    refs = {t: make_stylizer(StyleOptions(style=style), torch.device("cpu"), torch.float32)(x)
            for t, style in ((0.0, "16"), (1.0, "3"))}
    assert q.psnr(refs[0.0], refs[1.0]) < 20.0  # two different looks
    for t, ref in refs.items():
        # A held-out frame, 2 calibration frames: 31.9-40 dB measured (7-bit weights on AVX2 the lowest);
        # drawing the other key's style would be < 20 dB.
        assert q.psnr(keyed(x, t), ref) >= 28.0, t


def test_without_calibration_frames_the_stylizer_runs_fp32(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(int8_stylize, "calibration_clip", lambda: None)
    stylizer = make_stylizer(StyleOptions(style="3"), torch.device("cpu"), INT8)
    assert stylizer.dtype == torch.float32
    assert any("no calibration frames" in r.getMessage() for r in caplog.records)


CPUS = {
    "amx": "flags : avx2 avx512f avx512_bf16 amx_bf16 amx_tile amx_int8 avx512_vnni",
    "avx2": "flags : fpu sse2 avx avx2 fma",
    "arm": "Features : fp asimd evtstrm aes",
}


@pytest.mark.parametrize("kind, capability, auto", [
    ("amx", "AVX512", torch.bfloat16),  # bf16 where native
    ("amx", "AVX2", torch.float32),  # the same CPU lowered to AVX2: no native bf16; auto is not int8 yet (device.py)
    ("avx2", "AVX2", torch.float32),
    ("arm", "DEFAULT", torch.float32),
])
def test_auto_precision(monkeypatch: pytest.MonkeyPatch, kind: str, capability: str, auto: torch.dtype) -> None:
    monkeypatch.setattr("flowstyle.device.cpu_info", lambda: describe(CPUS[kind], capability))
    assert resolve_precision("auto", torch.device("cpu")) == auto


def test_int8_without_an_int8_path_says_what_runs_instead(monkeypatch: pytest.MonkeyPatch,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("flowstyle.device.cpu_info", lambda: describe(CPUS["arm"], "DEFAULT"))
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert resolve_precision("int8", cpu) == torch.float32
    assert resolve_precision("int8", cuda) == torch.float16
    lines = [r.getMessage() for r in caplog.records if "--precision int8" in r.getMessage()]
    assert lines == ["--precision int8: there is no int8 path on this CPU (it needs an x86 CPU with AVX2); using float32 instead",
                     "--precision int8: there is no int8 path on cuda; using float16 instead"]
    for device in (cpu, cuda):
        with pytest.raises(DeviceError, match="--precision int8: there is no int8 path on"):
            resolve_precision("int8", device, strict=True)
