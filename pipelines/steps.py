"""What runs inside each task: one step over a batch, and the shard writer.

Both executors (Ray Data and in-process) call these functions, so they produce the same rows.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from operators.base import Operator
from operators.columns import (
    DUPLICATE_OF,
    INPUT_FILE,
    INPUT_LINE,
    RAW,
    REJECT_DETAIL,
    REJECT_OPERATOR,
    REJECT_REASON,
    conform,
)
from schemas import REJECT_SCHEMA, SCHEMA_VERSION
from schemas.arrow import METADATA_TABLE_KEY, METADATA_VERSION_KEY, from_arrow_map


class OperatorContractError(RuntimeError):
    """An operator broke the contract (changed the number of rows, or returned foreign columns)."""


def split_live(batch: pa.Table, only: dict[str, list[str]] | None = None) -> tuple[pa.Table | None, pa.Table | None]:
    """(rows the step works on, rows that pass it untouched); either may be None when there are none.

    A step works on live rows (no reject reason yet) that match its `only` filter, if any."""
    if batch.num_rows == 0:
        return None, None
    live = pc.is_null(batch.column(REJECT_REASON))
    for column, values in (only or {}).items():
        live = pc.and_(live, pc.fill_null(pc.is_in(batch.column(column), value_set=pa.array(values, pa.string())), False))
    live_count = pc.sum(pc.cast(live, pa.int64())).as_py() or 0
    if live_count == 0:
        return None, batch
    if live_count == batch.num_rows:
        return batch, None
    return batch.filter(live), batch.filter(pc.invert(live))


def merge_step(name: str, rows: pa.Table, out: pa.Table, dead: pa.Table | None, schema: pa.Schema) -> pa.Table:
    """Check the operator's output, stamp its name on the rows it rejected, and put the batch back together."""
    if out.num_rows != rows.num_rows:
        raise OperatorContractError(f"operator {name} returned {out.num_rows} rows for {rows.num_rows}: operators must not add or drop rows")
    try:
        out = conform(out, schema)
    except ValueError as error:
        raise OperatorContractError(f"operator {name}: {error}") from None
    rejected_now = pc.and_(pc.is_valid(out.column(REJECT_REASON)), pc.is_null(out.column(REJECT_OPERATOR)))
    operator = pc.if_else(rejected_now, pa.scalar(name), out.column(REJECT_OPERATOR))
    out = out.set_column(out.schema.get_field_index(REJECT_OPERATOR), REJECT_OPERATOR, operator)
    return pa.concat_tables([out, dead]) if dead is not None else out


def run_step(op: Operator, batch: pa.Table, schema: pa.Schema, only: dict[str, list[str]] | None = None) -> pa.Table:
    """Apply `op` to the live rows of `batch`; rejected rows pass through untouched.

    Rows the operator rejects get `_reject_operator` = its name. Rows in == rows out, or it raises.
    An async operator (`async def __call__`) runs here through its synchronous `run(batch)`.
    """
    rows, dead = split_live(batch, only)
    if rows is None:
        return batch
    out = op.run(rows) if is_async(op) else op(rows)  # type: ignore[attr-defined]
    return merge_step(op.name, rows, out, dead, schema)


async def run_step_async(op: Operator, batch: pa.Table, schema: pa.Schema, only: dict[str, list[str]] | None = None) -> pa.Table:
    """`run_step` for an async operator inside an async Ray actor (Ray Data awaits it)."""
    rows, dead = split_live(batch, only)
    if rows is None:
        return batch
    return merge_step(op.name, rows, await op(rows), dead, schema)  # type: ignore[misc]


def is_async(op: object) -> bool:
    """Whether the operator's `__call__` is a coroutine function (LLM steps are)."""
    return getattr(op, "asynchronous", None) or inspect.iscoroutinefunction(type(op).__call__)


def record_json(row: dict[str, Any], dialogue_columns: list[str]) -> str:
    record = {name: row.get(name) for name in dialogue_columns}
    record["meta"] = from_arrow_map(record.get("meta"))
    character = record.get("character")
    if isinstance(character, dict) and isinstance(character.get("attributes"), dict):
        character["attributes"]["extra"] = from_arrow_map(character["attributes"].get("extra"))
    return json.dumps(record, ensure_ascii=False, default=str)


def reject_table(dead: pa.Table, dialogue_columns: list[str], run_id: str) -> pa.Table:
    """Rejected working rows -> rows of the reject table."""
    rows = []
    for row in dead.to_pylist():
        parsed = row.get("dialogue_id") is not None
        rows.append(
            {
                "operator": row[REJECT_OPERATOR] or "unknown",
                "reason": row[REJECT_REASON],
                "detail": row[REJECT_DETAIL],
                "input_file": row[INPUT_FILE],
                "input_line": row[INPUT_LINE],
                "dialogue_id": row.get("dialogue_id"),
                "duplicate_of": row[DUPLICATE_OF],
                "record": record_json(row, dialogue_columns) if parsed else (row[RAW] or ""),
                "pipeline_run_id": run_id,
            }
        )
    return pa.Table.from_pylist(rows, schema=REJECT_SCHEMA)


def corpus_table(live: pa.Table, corpus_schema: pa.Schema, run_id: str) -> pa.Table:
    table = live.select(corpus_schema.names)
    table = table.set_column(table.schema.get_field_index("pipeline_run_id"), "pipeline_run_id", pa.array([run_id] * table.num_rows, pa.string()))
    return table.cast(corpus_schema)


def write_part(table: pa.Table, keys: list[str], directory: str, compression: str, level: int | None, rows_per_shard: int) -> list[dict[str, Any]]:
    """Write `table` as parts of at most `rows_per_shard` rows, named by a hash of their row keys, so a
    retried task rewrites the same files instead of adding copies."""
    written = []
    os.makedirs(directory, exist_ok=True)
    for start in range(0, table.num_rows, rows_per_shard):
        part = table.slice(start, rows_per_shard)
        part_keys = keys[start : start + rows_per_shard]
        digest = hashlib.blake2b("\x1e".join(part_keys).encode("utf-8"), digest_size=12).hexdigest()
        path = os.path.join(directory, f"tmp-{digest}.parquet")
        pq.write_table(part, path + ".partial", compression=None if compression == "none" else compression, compression_level=level)
        os.replace(path + ".partial", path)
        written.append({"path": path, "rows": part.num_rows, "first": min(part_keys)})
    return written


def with_table_metadata(schema: pa.Schema, table_name: str) -> pa.Schema:
    return schema.with_metadata({**(schema.metadata or {}), METADATA_VERSION_KEY: SCHEMA_VERSION.encode(), METADATA_TABLE_KEY: table_name.encode()})


def write_block(
    batch: pa.Table,
    staging: str,
    corpus_schema: pa.Schema,
    dialogue_columns: list[str],
    run_id: str,
    compression: str,
    level: int | None,
    rows_per_shard: int,
) -> pa.Table:
    """Route one block: live rows to corpus/, rejected rows to rejects/. Returns the files written."""
    live = pc.is_null(batch.column(REJECT_REASON))
    written: list[dict[str, Any]] = []
    corpus = batch.filter(live)
    if corpus.num_rows:
        table = corpus_table(corpus, corpus_schema, run_id)
        keys = table.column("dialogue_id").to_pylist()
        written += [{"table": "corpus", **w} for w in write_part(table, keys, os.path.join(staging, "corpus"), compression, level, rows_per_shard)]
    dead = batch.filter(pc.invert(live))
    if dead.num_rows:
        rejects = reject_table(dead, dialogue_columns, run_id)
        keys = [
            f"{f or ''}\x1f{(line if line is not None else -1):012d}\x1f{d or ''}"
            for f, line, d in zip(*(rejects.column(c).to_pylist() for c in ("input_file", "input_line", "dialogue_id")), strict=True)
        ]
        written += [{"table": "rejects", **w} for w in write_part(rejects, keys, os.path.join(staging, "rejects"), compression, level, rows_per_shard)]
    return pa.Table.from_pylist(written, schema=WRITTEN_SCHEMA)


WRITTEN_SCHEMA = pa.schema([("table", pa.string()), ("path", pa.string()), ("rows", pa.int64()), ("first", pa.string())])
