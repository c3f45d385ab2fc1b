"""Styles the user taught flowstyle (``flowstyle learn-style``), kept in a user folder.

A learned style rides on one of the two feed-forward networks:

- ``arbitrary`` (the default of ``learn-style``): a 100-d style vector of the
  arbitrary-style network (Ghiasi et al. 2017), trained instead of predicted from
  the painting. It is used wherever a painting is: blends with paintings, keys,
  regions, strength (toward the content's own vector).
- ``multistyle``: what Dumoulin et al. 2017 say a style is for a
  conditional-instance-norm network: one row of per-channel scales and shifts for
  every normalisation layer (about a thousand numbers), blendable with the built-in
  styles. A style trained with the temporal loss may also carry its own convolution
  weights (``network``): then it renders with that network and cannot be blended
  with styles of another one.

Files live in ``$FLOWSTYLE_HOME/styles/NAME.pt`` (default
``$XDG_DATA_HOME/flowstyle`` or ``~/.local/share/flowstyle``), never inside the
package, and are written atomically. Each records the painting's sha256 and every
training setting.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ..errors import StyleError
from ..io.atomic import atomic_save
from ..models.multistyle import StyleRows
from ..registry import spec
from .builtin import BUILTIN_NAMES

FORMAT = 1
NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}")


def user_dir() -> Path:
    """flowstyle's per-user data folder: $FLOWSTYLE_HOME, else $XDG_DATA_HOME/flowstyle, else ~/.local/share/flowstyle."""
    if os.environ.get("FLOWSTYLE_HOME"):
        return Path(os.environ["FLOWSTYLE_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "flowstyle"


def styles_dir() -> Path:
    return user_dir() / "styles"


def check_name(name: str) -> str:
    """A learned style's name: lower-case letters, digits, - and _, starting with a letter; not a built-in name."""
    if not NAME_RE.fullmatch(name):
        raise StyleError(f"style name '{name}': use 1-40 lower-case letters, digits, '-' or '_', starting with a letter")
    if name in BUILTIN_NAMES:
        raise StyleError(f"style name '{name}' is a built-in style; choose another name")
    return name


@dataclass(frozen=True)
class LearnedStyle:
    """One learned style.

    Attributes:
        name: how ``--style`` names it.
        rows: ``<layer>.gamma`` / ``<layer>.beta`` -> (C,) for every norm layer of the
            multi-style network; empty for a style of the arbitrary network.
        network: full MultiStyleNet state dict when the convolutions were trained too
            (temporal training); None when the style rides on the built-in network.
        info: painting file name and sha256, settings, steps, final losses, base weights' sha256.
    """

    name: str
    rows: StyleRows
    network: dict[str, Tensor] | None = None
    info: dict = field(default_factory=dict)
    vector: Tensor | None = None  # (100,): a style of the arbitrary network (then rows is empty)

    @property
    def path(self) -> Path:
        return style_path(self.name)

    @property
    def base(self) -> str:
        """Which network the style rides on: ``arbitrary`` or ``multistyle``."""
        return "arbitrary" if self.vector is not None else "multistyle"


def style_path(name: str) -> Path:
    return styles_dir() / f"{name}.pt"


def save_learned(style: LearnedStyle, overwrite: bool = True) -> Path:
    """Write ``style`` to its file atomically (temporary file + rename in the same folder)."""
    path = style.path
    if path.exists() and not overwrite:
        raise StyleError(f"{path}: a learned style '{style.name}' exists; pass --overwrite to replace it")
    payload = {"format": FORMAT, "name": style.name, "rows": style.rows, "network": style.network, "info": style.info,
               "vector": style.vector}
    return atomic_save(lambda tmp: torch.save(payload, tmp), path)


def load_learned(name: str) -> LearnedStyle:
    """The learned style called ``name``; one-line errors for missing or unreadable files."""
    path = style_path(name)
    if not NAME_RE.fullmatch(name) or not path.is_file():
        raise StyleError(f"unknown style '{name}' (see `flowstyle styles` for built-in and learned styles)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload.get("format") != FORMAT:
            raise ValueError(f"format {payload.get('format')}")
        style = LearnedStyle(payload["name"], payload["rows"], payload.get("network"), payload.get("info", {}),
                             payload.get("vector"))
    except Exception as exc:  # truncated, foreign or future file: all mean "not usable"
        raise StyleError(f"{path}: cannot read learned style ({type(exc).__name__}: {exc}); "
                         f"learn it again with `flowstyle learn-style` or delete the file") from None
    _check_base(style, path)
    return style


BASE_WEIGHTS = {"multistyle": "multistyle26", "arbitrary": "arbitrary_transform"}


def _check_base(style: LearnedStyle, path: Path) -> None:
    """Rows and vectors learned on a shipped network only fit the weights they were learned on."""
    if style.network is not None:
        return
    base = style.info.get("base_sha256")
    if base != spec(BASE_WEIGHTS[style.base]).sha256:
        raise StyleError(f"{path}: learned on other built-in weights (sha256 {str(base)[:12]}...) than the manifest pins; "
                         f"learn it again with `flowstyle learn-style`")


def learned_names() -> list[str]:
    """Names of the learned styles in the user folder, sorted."""
    folder = styles_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.pt") if NAME_RE.fullmatch(p.stem))


@functools.lru_cache(maxsize=64)
def _base_of(path: str, mtime_ns: int) -> str:
    return load_learned(Path(path).stem).base


def learned_base(name: str) -> str | None:
    """The network the learned style ``name`` rides on, or None when no such style exists
    (read once per file version: style specs are parsed several times per render)."""
    path = style_path(name.strip().lower())
    if not NAME_RE.fullmatch(path.stem) or not path.is_file():
        return None
    return _base_of(str(path), path.stat().st_mtime_ns)
