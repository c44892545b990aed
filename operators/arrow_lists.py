"""Vectorised helpers over the `turns` list<struct> column: flatten, transform, rebuild."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def combined(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def turn_field(turns: pa.ListArray, name: str) -> pa.Array:
    """One field of every turn, flattened (turn order preserved, nulls lists contribute nothing)."""
    return pc.struct_field(turns.flatten(), name)


def parents(turns: pa.ListArray) -> pa.Array:
    """For each flattened turn, the index of its dialogue."""
    return pc.list_parent_indices(turns)


def replace_turn_fields(turns: pa.ListArray, **fields: pa.Array) -> pa.ListArray:
    """The same lists with some struct fields of the turns replaced."""
    flat = turns.flatten()
    struct_type = flat.type
    children = [fields.get(f.name, flat.field(i)) for i, f in enumerate(struct_type)]
    new_flat = pa.StructArray.from_arrays(children, fields=list(struct_type))
    offsets = turns.offsets
    if turns.offset or len(offsets) and offsets[0].as_py() != 0:
        # flatten() already dropped the leading values: rebase the offsets
        offsets = pc.subtract(offsets, offsets[0])
    return pa.ListArray.from_arrays(offsets, new_flat, type=turns.type, mask=turns.is_null())


def per_dialogue(values: pa.Array, turns: pa.ListArray, aggregation: str, num_rows: int, fill: float = 0) -> list:
    """Aggregate a per-turn array to one value per dialogue (`sum`, `min`, `max`); `fill` where a dialogue has no turns."""
    table = pa.table({"p": parents(turns), "v": values})
    grouped = table.group_by("p").aggregate([("v", aggregation)])
    result = [fill] * num_rows
    for parent, value in zip(grouped.column("p").to_pylist(), grouped.column(f"v_{aggregation}").to_pylist(), strict=True):
        result[parent] = value
    return result
