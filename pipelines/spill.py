"""Blocks spilled to local disk, for the in-process executor's global steps.

A global step (dedup, mixing, pairing) needs every row before it can emit one, and most of them read
their input more than once (fingerprint, then profile candidates, then mark). Holding the input as Arrow
tables in memory made the in-process peak grow with the corpus (7.8 GiB at 1M dialogues); spilling it to
an Arrow IPC file and reading it back a block at a time keeps only what the step itself keeps (keys,
ids, the rows of duplicate groups). It is what Ray Data's object store does for the Ray executor.

The file is written without compression: it lives for one step, on local disk, and every pass over it
would pay for decompression again.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa


class SpilledBlocks:
    """Tables appended once, then read back block by block as many times as needed (`for block in store`).

    Each appended table comes back as one table (its record batches together), in the order appended;
    empty tables are not stored. Reading holds one block in memory at a time (the file is read, not
    memory-mapped, so pages of blocks already seen do not count against the process).
    """

    def __init__(self, path: str | os.PathLike[str], schema: pa.Schema | None = None) -> None:
        """`schema`: of every table appended; None takes the first table's."""
        self.path = Path(path)
        self.schema = schema
        self._sink: pa.OSFile | None = None
        self._writer: pa.ipc.RecordBatchFileWriter | None = None
        self._closed = False
        self._blocks: list[tuple[int, int]] = []  # (first record batch, number of record batches) per table
        self.num_rows = 0

    def append(self, table: pa.Table) -> None:
        if self._closed:
            raise RuntimeError(f"{self.path}: append after close")
        if table.num_rows == 0:
            return
        if self._writer is None:
            self.schema = self.schema or table.schema
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._sink = pa.OSFile(str(self.path), "wb")
            self._writer = pa.ipc.new_file(self._sink, self.schema)
        if table.schema != self.schema:
            table = table.cast(self.schema)
        batches = table.to_batches()
        for batch in batches:
            self._writer.write_batch(batch)
        first = sum(self._blocks[-1]) if self._blocks else 0  # the record batches written before this table
        self._blocks.append((first, len(batches)))
        self.num_rows += table.num_rows

    def extend(self, tables: Iterable[pa.Table]) -> SpilledBlocks:
        for table in tables:
            self.append(table)
        return self.close()

    def close(self) -> SpilledBlocks:
        self._closed = True
        if self._writer is not None:
            self._writer.close()
            assert self._sink is not None
            self._sink.close()
            self._writer = self._sink = None
        return self

    def __len__(self) -> int:
        """The number of blocks (as for `InMemoryBlocks`, a list of them)."""
        return len(self._blocks)

    def __iter__(self) -> Iterator[pa.Table]:
        self.close()
        if not self._blocks:
            return
        with pa.OSFile(str(self.path), "rb") as source:
            reader = pa.ipc.open_file(source)
            for first, count in self._blocks:
                yield pa.Table.from_batches([reader.get_batch(first + i) for i in range(count)], schema=reader.schema)

    def read_all(self) -> pa.Table:
        """Every row as one table (for operators that need the whole input at once)."""
        blocks = list(self)
        if blocks:
            return pa.concat_tables(blocks)
        if self.schema is None:
            raise ValueError(f"{self.path}: no rows and no schema")
        return self.schema.empty_table()

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
