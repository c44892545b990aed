"""Checks for the loosely typed community chat formats: every error names the field path."""

from __future__ import annotations

from typing import Any

from operators.ingest.base import RecordError


def require_list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        found = "missing" if key not in data else f"a {type(value).__name__}"
        raise RecordError("invalid_record", f"{key}: expected a list of messages, {found}")
    return value


def require_str(item: Any, key: str, where: str, optional: bool = False) -> Any:
    if not isinstance(item, dict):
        raise RecordError("invalid_record", f"{where}: expected an object, got {type(item).__name__}")
    value = item.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        found = "missing" if key not in item else f"a {type(value).__name__}"
        raise RecordError("invalid_record", f"{where}.{key}: expected a string, {found}")
    return value


def unknown_fields(item: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    """The fields of `item` the reader does not map: kept for the exporter, so nothing is lost."""
    return {k: v for k, v in item.items() if k not in known}
