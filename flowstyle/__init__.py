"""flowstyle: temporally-consistent video stylization."""

from .errors import FlowstyleError
from .render import RenderConfig, RenderReport, render

__all__ = ["FlowstyleError", "RenderConfig", "RenderReport", "render"]
__version__ = "0.1.0"
