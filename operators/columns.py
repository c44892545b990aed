"""The working table: the dialogue columns plus the internal columns that carry rejects and provenance.

Rows flow through a pipeline in this shape. Nothing is ever dropped between operators: a row that an
operator rejects keeps flowing with `_reject_reason` set, and the writer routes it to `rejects/`.
"""

from __future__ import annotations

import pyarrow as pa

from schemas import DIALOGUE_SCHEMA

REJECT_REASON = "_reject_reason"
REJECT_OPERATOR = "_reject_operator"
REJECT_DETAIL = "_reject_detail"
DUPLICATE_OF = "_duplicate_of"
INPUT_FILE = "_input_file"
INPUT_LINE = "_input_line"
RAW = "_raw"
PARTITION = "_partition"  # hash partition of a global step's key (Ray plan only)

INTERNAL_FIELDS: tuple[pa.Field, ...] = (
    pa.field(REJECT_REASON, pa.string()),
    pa.field(REJECT_OPERATOR, pa.string()),
    pa.field(REJECT_DETAIL, pa.string()),
    pa.field(DUPLICATE_OF, pa.string()),
    pa.field(INPUT_FILE, pa.string()),
    pa.field(INPUT_LINE, pa.int64()),
    pa.field(RAW, pa.string()),
    pa.field(PARTITION, pa.int64()),
)
INTERNAL_COLUMNS: tuple[str, ...] = tuple(f.name for f in INTERNAL_FIELDS)
DIALOGUE_COLUMNS: tuple[str, ...] = tuple(DIALOGUE_SCHEMA.names)


def working_schema(extra: tuple[pa.Field, ...] = ()) -> pa.Schema:
    """Dialogue fields (nullable at top level, since a malformed input has none) + extra + internal."""
    fields = [f.with_nullable(True) for f in DIALOGUE_SCHEMA] + list(extra) + list(INTERNAL_FIELDS)
    return pa.schema(fields)


WORKING_SCHEMA = working_schema()


def conform(table: pa.Table, schema: pa.Schema = WORKING_SCHEMA) -> pa.Table:
    """Reorder, add missing columns as nulls, and cast to `schema`; unknown columns are an error."""
    unknown = set(table.column_names) - set(schema.names)
    if unknown:
        raise ValueError(f"columns not in the working schema: {sorted(unknown)}")
    columns = []
    for f in schema:
        if f.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, f.type))
        else:
            column = table.column(f.name)
            columns.append(column if column.type == f.type else column.cast(f.type))
    return pa.Table.from_arrays(columns, schema=schema)


def live_mask(table: pa.Table) -> pa.ChunkedArray:
    """True for rows no operator has rejected yet."""
    import pyarrow.compute as pc

    return pc.is_null(table.column(REJECT_REASON))
