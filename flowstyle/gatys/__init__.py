"""Gatys optimisation with temporal losses (artistic videos), resumable.

The render itself is ``flowstyle.render.render_gatys`` (the pipeline drives
:class:`GatysStylizer` like any other stylizer).
"""

from .options import GatysOptions
from .stylizer import GatysConfig, GatysStylizer

__all__ = ["GatysConfig", "GatysOptions", "GatysStylizer"]
