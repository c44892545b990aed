"""Maps YAML names to operator classes.

Built-in operators register with `@register`; the modules under `operators/` are imported on first
lookup. A YAML step may also name any importable class as `package.module:ClassName`, so users plug in
their own operators without touching this package.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any, TypeVar

T = TypeVar("T")

_REGISTRY: dict[str, type] = {}
_LOADED = False


def register(cls: T) -> T:
    """Class decorator: make the operator available under its `name`."""
    name = cls.name  # type: ignore[attr-defined]
    existing = _REGISTRY.get(name)
    if existing is not None and existing is not cls:
        raise ValueError(f"operator name {name!r} registered twice: {existing.__module__} and {cls.__module__}")  # type: ignore[attr-defined]
    _REGISTRY[name] = cls  # type: ignore[assignment]
    return cls


def _load_builtins() -> None:
    global _LOADED
    if _LOADED:
        return
    import operators

    for module in pkgutil.walk_packages(operators.__path__, prefix="operators."):
        importlib.import_module(module.name)
    _LOADED = True


def lookup(name: str) -> Any:
    """The operator class for a YAML name or a `module:Class` path; KeyError with the known names."""
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as error:
            raise KeyError(f"cannot import operator {name!r}: {error}") from None
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown operator {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def all_operators() -> dict[str, type]:
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))
