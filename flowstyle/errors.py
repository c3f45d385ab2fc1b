"""User-facing errors: one clear line naming the file and the problem.

The CLI prints ``str(error)`` and exits non-zero without a traceback; library
callers catch :class:`FlowstyleError` to handle any of them.
"""

from __future__ import annotations

from pathlib import Path


class FlowstyleError(Exception):
    """Base class of every error flowstyle raises for bad input or set-up."""


class InputError(FlowstyleError):
    """The input file is missing, unreadable or unusable."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class OutputError(FlowstyleError):
    """The output cannot be written where asked."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class StyleError(FlowstyleError):
    """A style specification is malformed or names an unknown style."""


class WeightsError(FlowstyleError):
    """A weight file is missing, corrupt or stale; the message says how to fix it."""


class DeviceError(FlowstyleError):
    """The requested compute device is not available."""


class ConfigError(FlowstyleError):
    """A configuration value is out of range or unknown.

    ``field`` is the dataclass field's name (``strength``, ``crf``, ``init``): the
    library knows nothing of command-line flags, and the CLI maps fields to its
    flags in one table (``cli.FLAGS``); a web form can map them to its inputs.
    """

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class Cancelled(FlowstyleError):
    """A render was stopped by its ``cancel`` event; nothing was written."""
