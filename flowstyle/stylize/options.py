"""How frames are stylized by the feed-forward networks: plain frozen data (docs/architecture.md, "Configs")."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .paintings import is_painting_spec
from .track import NETWORKS, ORIGINAL


@dataclass(frozen=True)
class StyleOptions:
    """How frames are stylized.

    Attributes:
        style: built-in style index or name, or a blend ``3:0.6,17:0.4``; or a
            painting file, or a blend of paintings ``a.jpg:0.6,b.png:0.4`` (the
            arbitrary-style network).
        strength: 1 fully stylized, 0 the input unchanged (built-in styles: linear
            mix; paintings: the style vector moves toward the content's own).
        preserve_colour: keep the input's colours, take the stylized luminance.
        style_scale: paintings only: > 1 paints larger strokes, < 1 smaller (0.25-4).
        network: which weights the networks run with: ``original`` (the shipped ones) or
            ``stable`` (fine-tuned for temporal stability, docs/stable.md).
    """

    style: str = "blue-brush"
    strength: float = 1.0
    preserve_colour: bool = False
    style_scale: float = 1.0
    network: str = ORIGINAL

    def __post_init__(self) -> None:
        # Pure values only: the style itself (files, learned styles) is resolved when
        # the stylizer is built (make_stylizer), so the options can travel as JSON.
        if not 0.0 <= self.strength <= 1.0:
            raise ConfigError("strength", f"must be between 0 and 1, got {self.strength}")
        if not 0.25 <= self.style_scale <= 4.0:
            raise ConfigError("style_scale", f"must be between 0.25 and 4, got {self.style_scale}")
        if self.network not in NETWORKS:
            raise ConfigError("network", f"unknown network '{self.network}'; use {' or '.join(NETWORKS)}")
        if not self.style.strip():
            raise ConfigError("style", "is empty; use e.g. 7, blue-brush or 3:0.6,17:0.4")

    @property
    def is_painting(self) -> bool:
        """True when the style names painting files (the arbitrary-style network)."""
        return is_painting_spec(self.style)
