"""Derive Arrow schemas from the pydantic models, so each table has one definition.

The pydantic model is the source of truth: it validates records, exports JSON Schema and, through
`arrow_schema`, gives the Arrow schema every Parquet file is written with. Field descriptions travel
into the Arrow field metadata (key ``description``), so a consumer reading a shard sees them too.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

import pyarrow as pa
from pydantic import BaseModel

SCHEMA_VERSION = "1.1.0"  # 1.1.0: pair_source swipe_choice
METADATA_VERSION_KEY = b"characterdial.schema_version"
METADATA_TABLE_KEY = b"characterdial.table"


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin is Union or origin is types.UnionType:
        args = [a for a in get_args(annotation) if a is not type(None)]
        nullable = len(args) != len(get_args(annotation))
        if len(args) == 1:
            return args[0], nullable
        raise TypeError(f"unions other than Optional[X] have no Arrow type: {annotation!r}")
    return annotation, False


def arrow_type(annotation: Any) -> pa.DataType:
    """The Arrow type of a (non-optional) Python annotation used in our models."""
    annotation, _ = _strip_optional(annotation)
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return arrow_type(get_args(annotation)[0])
    if origin is Literal:
        values = get_args(annotation)
        if all(isinstance(v, str) for v in values):
            return pa.string()
        raise TypeError(f"only string literals are supported: {annotation!r}")
    if origin in (list, tuple, set, frozenset):
        (item,) = get_args(annotation)[:1]
        return pa.list_(arrow_type(item))
    if origin is dict:
        # list<struct<key, value>> rather than an Arrow map: Hugging Face datasets cannot load maps.
        key, value = get_args(annotation)
        return pa.list_(pa.struct([pa.field("key", arrow_type(key), nullable=False), pa.field("value", arrow_type(value))]))
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return pa.struct(arrow_fields(annotation))
        if issubclass(annotation, Enum):
            return pa.string()
        if issubclass(annotation, bool):
            return pa.bool_()
        if issubclass(annotation, int):
            return pa.int64()
        if issubclass(annotation, float):
            return pa.float64()
        if issubclass(annotation, str):
            return pa.string()
        if issubclass(annotation, dt.datetime):
            return pa.timestamp("us", tz="UTC")
    raise TypeError(f"no Arrow type for annotation {annotation!r}")


def to_arrow_map(mapping: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    """A dict as the Arrow form of a dict field: [{"key": k, "value": v}, ...]."""
    return None if mapping is None else [{"key": k, "value": v} for k, v in mapping.items()]


def from_arrow_map(entries: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    return None if entries is None else {e["key"]: e["value"] for e in entries}


def arrow_fields(model: type[BaseModel]) -> list[pa.Field]:
    fields = []
    for name, info in model.model_fields.items():
        _, nullable = _strip_optional(info.annotation)
        metadata = {"description": info.description} if info.description else None
        fields.append(pa.field(name, arrow_type(info.annotation), nullable=nullable, metadata=metadata))
    return fields


def arrow_schema(model: type[BaseModel], table: str) -> pa.Schema:
    """The Arrow schema of `model`, tagged with the table name and schema version."""
    return pa.schema(
        arrow_fields(model),
        metadata={METADATA_VERSION_KEY: SCHEMA_VERSION.encode(), METADATA_TABLE_KEY: table.encode()},
    )


def _arrow_value(annotation: Any, value: Any) -> Any:
    if value is None:
        return None
    annotation, _ = _strip_optional(annotation)
    origin = get_origin(annotation)
    if origin is dict:
        return [{"key": k, "value": _arrow_value(get_args(annotation)[1], v)} for k, v in value.items()]
    if origin in (list, tuple, set, frozenset):
        (item,) = get_args(annotation)[:1]
        return [_arrow_value(item, v) for v in value]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {name: _arrow_value(info.annotation, value.get(name)) for name, info in annotation.model_fields.items()}
    return value


def to_arrow_row(record: BaseModel) -> dict[str, Any]:
    """A validated record as a row for `pa.Table.from_pylist(rows, schema=arrow_schema(...))`."""
    return _arrow_value(type(record), record.model_dump())


def _python_value(annotation: Any, value: Any) -> Any:
    if value is None:
        return None
    annotation, _ = _strip_optional(annotation)
    origin = get_origin(annotation)
    if origin is dict:
        return {e["key"]: _python_value(get_args(annotation)[1], e["value"]) for e in value}
    if origin in (list, tuple, set, frozenset):
        (item,) = get_args(annotation)[:1]
        return [_python_value(item, v) for v in value]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {name: _python_value(info.annotation, value.get(name)) for name, info in annotation.model_fields.items()}
    return value


def from_arrow_row(model: type[BaseModel], row: dict[str, Any]) -> dict[str, Any]:
    """The inverse of `to_arrow_row`: an Arrow row (from `to_pylist()`) as data for `model.model_validate`."""
    return _python_value(model, row)
