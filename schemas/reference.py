"""Render docs/schemas.md, the field reference for consumers, from the models themselves."""

from __future__ import annotations

import pyarrow as pa
from pydantic import BaseModel

from schemas.arrow import SCHEMA_VERSION, arrow_type
from schemas.tables import TABLES

HEADER = f"""# Schemas (version {SCHEMA_VERSION})

Generated from `schemas/` by `chardial schema docs --out docs/schemas.md`; a test fails when it is stale.
Every Parquet file carries `characterdial.schema_version` and `characterdial.table` in its schema metadata.
`chardial schema export DIR` writes the same as JSON Schema. Dict fields (`meta`, `attributes.extra`) are
stored as `list<struct<key, value>>`, which every Parquet reader (and Hugging Face `datasets`) loads.

Ids: `character_id` = `c_` + BLAKE2b-64 of the NFKC-casefolded name and work (or the id the source gives);
`dialogue_id` = `d_` + BLAKE2b-128 of source, the source's own record id, and the exact content.
"""


def _rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    rows = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = info.annotation
        try:
            arrow = arrow_type(annotation)
            shown = "struct" if pa.types.is_struct(arrow) else str(arrow)
            if pa.types.is_list(arrow) and pa.types.is_struct(arrow.value_type):
                shown = "list<struct>"
        except TypeError:  # JSON-only tables (the manifest) may hold free-form objects
            arrow, shown = pa.null(), "object"
        required = "yes" if info.is_required() else "no"
        rows.append((path, shown, required, (info.description or "").replace("|", "\\|")))
        inner = annotation
        for _ in range(3):
            args = getattr(inner, "__args__", None)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                break
            inner = next((a for a in (args or ()) if a is not type(None)), None)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            is_list = pa.types.is_list(arrow)
            rows.extend(_rows(inner, f"{path}[]." if is_list else f"{path}."))
    return rows


def render_reference() -> str:
    parts = [HEADER]
    for table in TABLES.values():
        parts.append(f"\n## `{table.name}`\n\n{table.doc}\n\n{(table.model.__doc__ or '').strip()}\n")
        parts.append("| field | type | required | meaning |\n|---|---|---|---|")
        for path, arrow, required, description in _rows(table.model):
            parts.append(f"| `{path}` | `{arrow}` | {required} | {description} |")
    return "\n".join(parts) + "\n"
