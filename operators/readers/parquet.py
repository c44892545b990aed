"""`read.parquet`: dialogue Parquet in the corpus schema (e.g. a previous run's `corpus/`), as a source.

Every row becomes one working row, its provenance `file` and 1-based row number. A file whose schema
lacks dialogue columns, or has them with other types, is one reject naming the file and the columns (its
rows are not guessed at); an unreadable file is one reject too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pyarrow as pa
import pyarrow.parquet as pq

from operators.base import Source, SourceConfig
from operators.columns import INPUT_FILE, INPUT_LINE, WORKING_SCHEMA, conform
from operators.readers.native_jsonl import reject_row
from operators.registry import register
from schemas import DIALOGUE_SCHEMA


class ParquetConfig(SourceConfig):
    """Paths of dialogue Parquet files (`.parquet`), or folders of them."""


def schema_problems(schema: pa.Schema) -> list[str]:
    """What keeps a Parquet schema from being read as dialogues: missing columns, other types."""
    problems = []
    for field in DIALOGUE_SCHEMA:
        if field.name not in schema.names:
            if not field.nullable:
                problems.append(f"missing column {field.name!r}")
        elif not schema.field(field.name).type.equals(field.type):
            problems.append(f"column {field.name!r} is {schema.field(field.name).type}, expected {field.type}")
    return problems


@register
class ParquetReader(Source):
    name: ClassVar[str] = "read.parquet"
    Config = ParquetConfig
    suffixes = (".parquet",)
    summary = "Dialogue Parquet in the corpus schema (a previous run's corpus/); files with another schema are rejects."

    def read(self, path: str, rows_per_block: int) -> Iterator[pa.Table]:
        try:
            handle = pq.ParquetFile(path)
        except (OSError, pa.ArrowInvalid) as error:
            yield pa.Table.from_pylist([reject_row(self.name, path, 0, "unreadable_parquet", f"{path}: {error}", "")], schema=WORKING_SCHEMA)
            return
        problems = schema_problems(handle.schema_arrow)
        if problems:
            detail = f"{path}: not dialogue Parquet: {'; '.join(problems)}"
            yield pa.Table.from_pylist([reject_row(self.name, path, 0, "schema_mismatch", detail, "")], schema=WORKING_SCHEMA)
            return
        columns = [name for name in DIALOGUE_SCHEMA.names if name in handle.schema_arrow.names]
        row = 0
        for batch in handle.iter_batches(batch_size=rows_per_block, columns=columns):
            table = pa.Table.from_batches([batch])
            table = table.append_column(INPUT_FILE, pa.array([path] * table.num_rows, pa.string()))
            table = table.append_column(INPUT_LINE, pa.array(range(row + 1, row + table.num_rows + 1), pa.int64()))
            row += table.num_rows
            yield conform(table, WORKING_SCHEMA)
        if row == 0:
            yield pa.Table.from_pylist([reject_row(self.name, path, 0, "empty_file", f"{path}: no rows", "")], schema=WORKING_SCHEMA)
