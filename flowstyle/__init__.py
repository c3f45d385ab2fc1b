"""flowstyle: temporally-consistent video stylization."""

from .errors import FlowstyleError
from .version import __version__
from .render import RenderConfig, RenderReport, render

__all__ = ["FlowstyleError", "RenderConfig", "RenderReport", "__version__", "render"]
