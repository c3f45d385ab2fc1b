"""Gatys optimisation with temporal losses (artistic videos), resumable."""

from .options import GatysOptions
from .render import GatysConfig, GatysProgress, render_gatys

__all__ = ["GatysConfig", "GatysOptions", "GatysProgress", "render_gatys"]
