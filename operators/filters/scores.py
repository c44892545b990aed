"""Writing a filter's score columns: set the column when the batch has it, append it otherwise."""

from __future__ import annotations

import pyarrow as pa


def with_scores(batch: pa.Table, columns: dict[pa.Field, list]) -> pa.Table:
    """The batch with each score column (declared in the operator's `new_fields`) set to `values`."""
    for field, values in columns.items():
        array = pa.array(values, field.type)
        index = batch.schema.get_field_index(field.name)
        batch = batch.set_column(index, field, array) if index >= 0 else batch.append_column(field, array)
    return batch
