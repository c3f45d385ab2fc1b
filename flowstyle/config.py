"""Configs as JSON: ``dataclasses.asdict`` one way, :func:`from_dict` the other.

Configs are frozen dataclasses of plain values (docs/architecture.md, "Configs"),
so they can travel to a web form or a remote worker. JSON has no tuples, nested
dataclasses or ``X | None``; :func:`from_dict` rebuilds them from the type hints.
Hand-written (about 30 lines) rather than a dependency: dacite or cattrs would do
it, but neither is installed here and the configs need nothing more.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """The ``cls`` dataclass built from ``data`` (as ``dataclasses.asdict`` gives it, or parsed JSON)."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(data) - names
    if unknown:
        raise ConfigError(sorted(unknown)[0], f"is not a setting of {cls.__name__}")
    return cls(**{k: _value(hints[k], v) for k, v in data.items()})


def _value(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _value(inner[0], value) if len(inner) == 1 else value
    if dataclasses.is_dataclass(hint) and isinstance(value, Mapping):
        return from_dict(hint, value)
    if origin is tuple and isinstance(value, (list, tuple)):
        item = args[0] if args else Any
        return tuple(_value(item, v) for v in value)
    return value
