"""The operator contract.

An operator is a small class with a typed config (pydantic), the columns it reads and writes, the
resources it needs, and a callable over a pyarrow table. Rows in == rows out: a filter never drops a row,
it fills a reject reason and the pipeline routes the row to `rejects/`. Operators only see live rows
(rows no earlier operator rejected).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from operators.columns import REJECT_DETAIL, REJECT_REASON


@dataclass(frozen=True)
class RunContext:
    """What a running operator may know about its run: the id and where side tables are staged.

    Side tables (quotes, preference pairs, profiles) are written with `side_output`; the pipeline
    publishes `staging_dir/<table>/` as `OUTPUT/<table>/` with the rest of the run, atomically.
    """

    run_id: str = "local"
    staging_dir: str | None = None

    def side_output(self, table: str, part: pa.Table) -> str | None:
        """Write one part of a side table; the file name is a hash of the content, so a retried task
        rewrites the same file instead of duplicating rows. Returns the path, or None when empty."""
        if part.num_rows == 0:
            return None
        if self.staging_dir is None:
            raise RuntimeError(f"side table {table!r} written outside a run: no staging directory in the run context")
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, part.schema) as writer:
            writer.write_table(part)
        digest = hashlib.blake2b(sink.getvalue().to_pybytes(), digest_size=12).hexdigest()
        directory = os.path.join(self.staging_dir, table)
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"part-{digest}.parquet")
        pq.write_table(part, path + ".tmp", compression="zstd")
        os.replace(path + ".tmp", path)
        return path


class OperatorConfig(BaseModel):
    """Base of every operator config: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class Resources(BaseModel):
    """What one instance of the operator needs, and how Ray runs it."""

    model_config = ConfigDict(extra="forbid")

    cpus: float = Field(1.0, gt=0, description="CPUs per task or actor (fractional for I/O-bound work).")
    gpus: float = Field(0.0, ge=0, description="GPUs per task or actor.")
    memory_mb: int | None = Field(None, gt=0, description="Memory to reserve per task or actor.")
    compute: Literal["tasks", "actors"] = Field("tasks", description="A task pool, or an actor pool for operators with a costly setup().")
    actors: int | None = Field(None, ge=1, description="Actor pool size (compute=actors); default autoscales 1..CPUs-1.")
    batch_size: int | None = Field(None, ge=1, description="Rows per call; default: whole blocks.")


class Operator:
    """A row-preserving step over pyarrow tables: `__call__(batch)` returns as many rows as it got."""

    name: ClassVar[str]
    Config: ClassVar[type[OperatorConfig]] = OperatorConfig
    reads: ClassVar[frozenset[str]] = frozenset()
    writes: ClassVar[frozenset[str]] = frozenset()
    new_fields: ClassVar[tuple[pa.Field, ...]] = ()
    resources: ClassVar[Resources] = Resources()
    summary: ClassVar[str] = ""
    # When set, rows carry per-row counts as a JSON object in meta[totals_meta_key]; the run sums them over
    # the published corpus into manifest.metrics[name]. Counting from rows, not in tasks, survives retries.
    totals_meta_key: ClassVar[str | None] = None

    def __init__(self, config: OperatorConfig | None = None, context: RunContext | None = None) -> None:
        self.config = config if config is not None else self.Config()
        self.context = context or RunContext()

    def setup(self) -> None:
        """Load models or lexicons once per task or actor."""

    def __call__(self, batch: pa.Table) -> pa.Table:
        raise NotImplementedError


class Filter(Operator):
    """An operator that decides, per row, keep (None) or a reject reason. A filter gives `verdicts`, or
    `scored_verdicts` when it also writes score columns (declared in `new_fields`) for every row it sees."""

    def verdicts(self, batch: pa.Table) -> tuple[list[str | None], list[str | None]]:
        """Per row: the reject reason (None = keep) and a human-readable detail."""
        raise NotImplementedError

    def scored_verdicts(self, batch: pa.Table) -> tuple[list[str | None], list[str | None], dict[pa.Field, list[Any]]]:
        """`verdicts` and the score columns, `{field: one value per row}`; none by default."""
        reasons, details = self.verdicts(batch)
        return reasons, details, {}

    def __call__(self, batch: pa.Table) -> pa.Table:
        from operators.filters.scores import with_scores

        reasons, details, scores = self.scored_verdicts(batch)
        batch = with_scores(batch, scores)
        batch = batch.set_column(batch.schema.get_field_index(REJECT_REASON), REJECT_REASON, pa.array(reasons, pa.string()))
        return batch.set_column(batch.schema.get_field_index(REJECT_DETAIL), REJECT_DETAIL, pa.array(details, pa.string()))


class Blocks(Protocol):
    """A global step's input in-process: blocks that can be iterated as many times as the step needs,
    one block in memory at a time (the executor spills them to local disk)."""

    num_rows: int

    def __iter__(self) -> Iterator[pa.Table]: ...

    def read_all(self) -> pa.Table: ...


class InMemoryBlocks(list):  # type: ignore[type-arg]
    """`Blocks` over tables already in memory: what `__call__` of a streaming operator hands to its own
    `stream` (tests, notebooks, small inputs)."""

    @property
    def num_rows(self) -> int:
        return sum(block.num_rows for block in self)

    def read_all(self) -> pa.Table:
        return pa.concat_tables(self)


def stream_in_memory(stream: Callable[[Blocks, Spill], Iterator[pa.Table]], batch: pa.Table, rows_per_slice: int) -> pa.Table:
    """A streaming step's `stream` over one table held in memory, `rows_per_slice` rows a block: what its
    `__call__` does (tests, notebooks, small inputs); intermediate spills stay in memory too."""
    slices = [batch.slice(start, rows_per_slice) for start in range(0, batch.num_rows, rows_per_slice)]
    out = list(stream(InMemoryBlocks(slices), lambda name, tables: InMemoryBlocks(list(tables))))
    return pa.concat_tables(out) if out else batch


# spill(name, tables) -> Blocks: writes the tables to a spill file of the step's own and returns them
# re-iterable; what a streaming global step uses for intermediate results too big to hold.
Spill = Callable[[str, Iterable[pa.Table]], Blocks]


class GlobalOperator(Operator):
    """An operator that needs to see all rows sharing a key: map (`keyed`) -> group by `key` -> `reduce`.

    On Ray this is `map_batches(keyed)` then `groupby(key).map_groups(reduce)`. In-process it is
    `stream`: the same two functions over blocks spilled to disk, holding only the keys and the rows of
    groups of two or more in memory. `reduce` gets every live row with one key value and returns them
    all, with rejects marked.
    """

    key: ClassVar[str]
    # Groups of one row are passed through without calling `reduce` (true for dedup: a lone row has no
    # duplicate). An operator that may reject lone rows (sampling, mixing) sets this to False.
    singletons_pass: ClassVar[bool] = True

    def keyed(self, batch: pa.Table) -> pa.Table:
        """Add the grouping key column (and anything the reduce needs)."""
        raise NotImplementedError

    def reduce(self, group: pa.Table) -> pa.Table:
        raise NotImplementedError

    def __call__(self, batch: pa.Table) -> pa.Table:
        """The whole table at once (tests, small inputs)."""
        return self.reduce_all(self.keyed(batch))

    def stream(self, blocks: Blocks, spill: Spill) -> Iterator[pa.Table]:
        """In-process over spilled blocks: keyed blocks are spilled while their keys are collected; then
        lone rows stream out block by block and only the rows of shared keys are gathered and reduced.
        Yields every input row exactly once (in another order). Operators with a plan of their own
        (`apply` on Ray) override this with the same algorithm over blocks."""
        import pyarrow.compute as pc

        keys: list[pa.Array] = []

        def keyed() -> Iterator[pa.Table]:
            for block in blocks:
                out = self.keyed(block)
                keys.extend(out.column(self.key).chunks)
                yield out

        spilled = spill("keyed", keyed())
        if not keys:
            return
        if not self.singletons_pass:  # every row may be changed: the reduce needs them all
            yield self.reduce_all(spilled.read_all())
            return
        counts = pa.table({"k": pa.chunked_array(keys)}).group_by("k").aggregate([("k", "count")])
        shared = counts.filter(pc.greater(counts.column("k_count"), 1)).column("k").combine_chunks()
        del keys[:], counts
        groups: list[pa.Table] = []
        for block in spilled:
            in_group = pc.is_in(block.column(self.key), value_set=shared) if len(shared) else None
            if in_group is None or not pc.any(in_group).as_py():
                yield block
                continue
            groups.append(block.filter(in_group))
            singles = block.filter(pc.invert(in_group))
            if singles.num_rows:
                yield singles
        if groups:
            yield self.reduce_all(pa.concat_tables(groups))

    def reduce_all(self, batch: pa.Table) -> pa.Table:
        """Group keyed rows (all rows of a key must be in `batch`) and reduce each group; only groups of
        two or more rows reach `reduce` when `singletons_pass`. On Ray, each call gets one hash partition."""
        import pyarrow.compute as pc

        if batch.num_rows == 0:
            return batch
        keys = batch.column(self.key)
        if self.singletons_pass:
            counts = pa.table({"k": keys}).group_by("k").aggregate([("k", "count")])
            shared = counts.filter(pc.greater(counts.column("k_count"), 1)).column("k")
            in_group = pc.is_in(keys, value_set=shared.combine_chunks())
            singles, batch = batch.filter(pc.invert(in_group)), batch.filter(in_group)
        else:
            singles = batch.slice(0, 0)
        order = pc.sort_indices(batch, sort_keys=[(self.key, "ascending")])
        batch = batch.take(order)
        values = batch.column(self.key).to_pylist()
        groups, start = [], 0
        for index in range(1, len(values) + 1):
            if index == len(values) or values[index] != values[start]:
                groups.append(self.reduce(batch.slice(start, index - start)))
                start = index
        if not groups:
            return singles
        # One chunk for the reduced groups (a chunk per group slows every later step); the lone rows keep
        # their chunks, uncopied.
        return pa.concat_tables([singles, pa.concat_tables(groups).combine_chunks()])


class SourceConfig(OperatorConfig):
    paths: list[str] = Field(min_length=1, description="Files, folders or glob patterns; relative paths are relative to the pipeline file.")


class Source:
    """Reads input files into working-schema tables; bad records become reject rows, never exceptions."""

    name: ClassVar[str]
    Config: ClassVar[type[SourceConfig]] = SourceConfig
    suffixes: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""

    def __init__(self, config: SourceConfig, context: RunContext | None = None) -> None:
        self.config = config
        self.context = context or RunContext()

    def read(self, path: str, rows_per_block: int) -> Iterator[pa.Table]:
        """Yield working-schema tables for one file; every input record yields exactly one row."""
        raise NotImplementedError


def describe(cls: Any) -> dict[str, Any]:
    """A JSON-friendly description of an operator class, for docs and `chardial operators`."""
    return {
        "name": cls.name,
        "summary": cls.summary,
        "config": cls.Config.model_json_schema(),
        "reads": sorted(getattr(cls, "reads", ())),
        "writes": sorted(getattr(cls, "writes", ())),
    }
