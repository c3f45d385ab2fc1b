"""Styles the user taught flowstyle (``flowstyle learn-style``), kept in a user folder.

A learned style is what Dumoulin et al. 2017 say a style is for a
conditional-instance-norm network: one row of per-channel scales and shifts for
every normalisation layer (about a thousand numbers). A style trained with the
temporal loss may also carry its own convolution weights (``network``): then it
renders with that network and cannot be blended with styles of another one.

Files live in ``$FLOWSTYLE_HOME/styles/NAME.pt`` (default
``$XDG_DATA_HOME/flowstyle`` or ``~/.local/share/flowstyle``), never inside the
package, and are written atomically. Each records the painting's sha256 and every
training setting.
"""

from __future__ import annotations

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
        rows: ``<layer>.gamma`` / ``<layer>.beta`` -> (C,) for every norm layer.
        network: full MultiStyleNet state dict when the convolutions were trained too
            (temporal training); None when the style rides on the built-in network.
        info: painting file name and sha256, settings, steps, final losses, base weights' sha256.
    """

    name: str
    rows: StyleRows
    network: dict[str, Tensor] | None = None
    info: dict = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return style_path(self.name)


def style_path(name: str) -> Path:
    return styles_dir() / f"{name}.pt"


def save_learned(style: LearnedStyle, overwrite: bool = True) -> Path:
    """Write ``style`` to its file atomically (temporary file + rename in the same folder)."""
    path = style.path
    if path.exists() and not overwrite:
        raise StyleError(f"{path}: a learned style '{style.name}' exists; pass --overwrite to replace it")
    payload = {"format": FORMAT, "name": style.name, "rows": style.rows, "network": style.network, "info": style.info}
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
        style = LearnedStyle(payload["name"], payload["rows"], payload.get("network"), payload.get("info", {}))
    except Exception as exc:  # truncated, foreign or future file: all mean "not usable"
        raise StyleError(f"{path}: cannot read learned style ({type(exc).__name__}: {exc}); "
                         f"learn it again with `flowstyle learn-style` or delete the file") from None
    _check_base(style, path)
    return style


def _check_base(style: LearnedStyle, path: Path) -> None:
    """Rows learned on the built-in network only fit the network they were learned on."""
    if style.network is not None:
        return
    base = style.info.get("base_sha256")
    if base != spec("multistyle26").sha256:
        raise StyleError(f"{path}: learned on other built-in weights (sha256 {str(base)[:12]}...) than the manifest pins; "
                         f"learn it again with `flowstyle learn-style`")


def learned_names() -> list[str]:
    """Names of the learned styles in the user folder, sorted."""
    folder = styles_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.pt") if NAME_RE.fullmatch(p.stem))
