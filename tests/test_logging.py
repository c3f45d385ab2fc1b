"""The CLI shows the library's log lines (issue #13: ``_setup_logging`` was never called,
so ``--verbose`` did nothing and the lines the README promises never appeared)."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from synth import picture, write_clip


@pytest.fixture(scope="module")
def cut_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 frames with a hard cut at frame 10, and PCM audio (which .mp4 cannot hold)."""
    frames = [picture(i, 64, 48) for i in range(10)] + [np.ascontiguousarray(255 - picture(i, 64, 48)[::-1])
                                                        for i in range(10)]
    return write_clip(tmp_path_factory.mktemp("cut") / "cut.mkv", range(20), Fraction(1, 25), frames=frames,
                      audio_seconds=0.8, audio_codec="pcm_s16le")


def render(clip: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "flowstyle", "render", str(clip), "-o", str(out), "--quiet", *extra],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_default_shows_the_promised_lines(cut_clip: Path, tmp_path: Path) -> None:
    err = render(cut_clip, tmp_path / "out.mp4").stderr
    assert "flowstyle: scene cut at frame 10 (0.400 s): temporal state reset" in err
    assert "the mp4 container cannot hold pcm_s16le audio; re-encoding stream #1 to AAC" in err
    assert not any(line.startswith("flowstyle: ") and " -> " in line for line in err.splitlines())  # no DEBUG


def test_verbose_adds_debug_lines(cut_clip: Path, tmp_path: Path) -> None:
    err = render(cut_clip, tmp_path / "out.mp4", "--verbose").stderr
    assert "scene cut at frame 10" in err
    assert any(line.startswith("flowstyle: ") and " -> " in line and "cut.mkv" in line for line in err.splitlines())


def test_lines_go_to_the_current_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler follows ``sys.stderr``: set up under one stream (a test runner's capture, later closed),
    a line logged afterwards by a server in the same process reaches the stream now in place."""
    import io
    import logging

    from flowstyle.cli import _setup_logging

    first = io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    _setup_logging(False)
    first.close()
    now = io.StringIO()
    monkeypatch.setattr(sys, "stderr", now)
    logging.getLogger("flowstyle.studio").info("upload %s", "x.mp4")
    assert now.getvalue() == "flowstyle: upload x.mp4\n"
