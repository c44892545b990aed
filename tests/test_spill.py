"""The in-process executor's spilled global steps: blocks round-trip through local disk, the streaming
global operators give the same survivors as the whole-table path, and the executor checks the row count
and leaves no spill files behind."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from benchmarks.corpus import as_corpus, corpus
from operators.base import Blocks, GlobalOperator, Spill
from operators.dedup.exact import ExactDedup
from operators.dedup.minhash import MinHashDedup
from pipelines.execute import run_pipeline
from pipelines.spec import pipeline_from_dict
from pipelines.spill import SpilledBlocks
from pipelines.steps import OperatorContractError


def outcome(result: pa.Table) -> dict[str, tuple]:
    columns = [result.column(name).to_pylist() for name in ("dialogue_id", "_reject_reason", "_duplicate_of", "dup_cluster_id")]
    return {uid: tuple(rest) for uid, *rest in zip(*columns, strict=True)}


def blocks_of(table: pa.Table, size: int) -> list[pa.Table]:
    return [table.slice(start, size) for start in range(0, table.num_rows, size)]


def spill_into(folder: Path) -> Spill:
    def spill(name: str, tables: Iterable[pa.Table]) -> Blocks:
        return SpilledBlocks(folder / f"{name}.arrow").extend(tables)

    return spill


def test_spilled_blocks_round_trip_and_can_be_read_again(tmp_path: Path) -> None:
    data = corpus(60, seed=2)
    two_chunks = pa.concat_tables([data.slice(0, 10), data.slice(10, 15)])  # one block of two record batches
    store = SpilledBlocks(tmp_path / "s.arrow", data.schema)
    for table in (two_chunks, data.slice(25, 0), data.slice(25, 35)):  # the empty one is not a block
        store.append(table)
    store.close()
    assert store.num_rows == 60 and len(store) == 2
    first, again = list(store), list(store)
    assert [b.num_rows for b in first] == [25, 35] and [b.num_rows for b in again] == [25, 35]
    assert store.read_all().equals(data)
    with pytest.raises(RuntimeError, match="append after close"):
        store.append(data)
    store.remove()
    assert not (tmp_path / "s.arrow").exists()


def test_spilled_blocks_take_the_first_tables_schema(tmp_path: Path) -> None:
    store = SpilledBlocks(tmp_path / "s.arrow").extend([pa.table({"x": [1, 2]}), pa.table({"x": [3]})])
    assert [b.column("x").to_pylist() for b in store] == [[1, 2], [3]]
    empty = SpilledBlocks(tmp_path / "e.arrow").extend([])
    assert list(empty) == [] and empty.num_rows == 0
    with pytest.raises(ValueError, match="no rows and no schema"):
        empty.read_all()


def with_exact_copies(table: pa.Table, copies: int) -> pa.Table:
    """`table` and `copies` exact copies of random rows of it (new ids), shuffled: duplicates across blocks."""
    rng = random.Random(0)
    picked = table.take(pa.array([rng.randrange(table.num_rows) for _ in range(copies)]))
    ids = [f"copy-{i:03d}" for i in range(copies)]
    picked = picked.set_column(picked.schema.get_field_index("dialogue_id"), "dialogue_id", pa.array(ids, pa.string()))
    both = pa.concat_tables([table, picked])
    order = list(range(both.num_rows))
    rng.shuffle(order)
    return both.take(pa.array(order))


@pytest.mark.parametrize("size", [7, 50, 1000])
def test_exact_dedup_streams_to_the_same_survivors(tmp_path: Path, size: int) -> None:
    data = with_exact_copies(corpus(200, seed=4, duplicate_rate=0.0), 90)
    expected = outcome(ExactDedup()(data))
    assert sum(1 for r in expected.values() if r[0] == "duplicate") > 40
    store = SpilledBlocks(tmp_path / "in.arrow").extend(blocks_of(data, size))
    out = list(ExactDedup().stream(store, spill_into(tmp_path)))
    result = pa.concat_tables(out)
    assert result.num_rows == data.num_rows and outcome(result) == expected
    # Lone rows pass block by block: no output block is bigger than an input block but the reduced groups'.
    assert all(b.num_rows <= size for b in out[:-1])


@pytest.mark.parametrize("size", [13, 120])
def test_minhash_dedup_streams_to_the_same_survivors(tmp_path: Path, size: int) -> None:
    data = corpus(240, seed=11, duplicate_rate=0.3)
    expected = outcome(MinHashDedup()(data))
    assert sum(1 for r in expected.values() if r[0] == "near_duplicate") > 25
    store = SpilledBlocks(tmp_path / "in.arrow").extend(blocks_of(data, size))
    out = list(MinHashDedup().stream(store, spill_into(tmp_path)))
    assert [b.num_rows for b in out] == [b.num_rows for b in store]  # marked block by block
    assert outcome(pa.concat_tables(out)) == expected


class DropsARow(GlobalOperator):
    """Breaks the contract: its stream loses the last row."""

    name: ClassVar[str] = "test.drops_a_row"
    key: ClassVar[str] = "dialogue_id"

    def stream(self, blocks: Blocks, spill: Spill) -> Iterator[pa.Table]:
        table = blocks.read_all()
        yield table.slice(0, table.num_rows - 1)


def write_parquet(path: Path, table: pa.Table) -> None:
    pq.write_table(as_corpus(table, "x"), path)


def test_inprocess_run_spills_under_staging_and_removes_it(tmp_path: Path) -> None:
    data = corpus(120, seed=3, duplicate_rate=0.3)
    source = tmp_path / "in.parquet"
    write_parquet(source, data)
    spec = {
        "name": "spill",
        "sources": [{"op": "read.parquet", "paths": [str(source)]}],
        "operators": [{"op": "filters.length", "min_turns": 6}, {"op": "dedup.exact"}, {"op": "dedup.minhash"}],
        "execution": {"rows_per_block": 16},
        "output": {"rows_per_shard": 50},
    }
    manifest = run_pipeline(pipeline_from_dict(spec, "test", tmp_path), tmp_path / "out", executor="inprocess", log=lambda m: None, report=False)
    ledger = {step.operator: step for step in manifest.ledger.operators}
    assert manifest.ledger.input == 120 and manifest.ledger.balanced
    assert ledger["filters.length"].rejected > 0 and ledger["dedup.minhash"].rejected > 0
    assert not list((tmp_path / "out").rglob("*.arrow")) and not list(tmp_path.glob("out*/_spill"))
    # The same run through the whole-table path of each step gives the same corpus.
    corpus_ids = set(pq.read_table(tmp_path / "out" / "corpus", columns=["dialogue_id"]).column("dialogue_id").to_pylist())
    table = data
    live = pc.greater_equal(pc.list_value_length(table.column("turns")), 6)
    kept = MinHashDedup()(ExactDedup()(table.filter(live)))
    assert corpus_ids == set(kept.filter(pc.is_null(kept.column("_reject_reason"))).column("dialogue_id").to_pylist())


def test_inprocess_global_step_that_drops_a_row_is_a_contract_error(tmp_path: Path) -> None:
    source = tmp_path / "in.parquet"
    write_parquet(source, corpus(20, seed=1))
    spec = {
        "name": "broken",
        "sources": [{"op": "read.parquet", "paths": [str(source)]}],
        "operators": [{"op": "tests.test_spill:DropsARow"}],
    }
    with pytest.raises(OperatorContractError, match="returned 19 rows for 20"):
        run_pipeline(pipeline_from_dict(spec, "test", tmp_path), tmp_path / "out", executor="inprocess", log=lambda m: None, report=False)
    assert not list(tmp_path.rglob("*.arrow"))


def test_dedup_steps_publish_the_same_run_on_ray_and_in_process(ray_cluster, tmp_path: Path) -> None:
    """exact -> minhash -> replies (rejecting) through both executors: `stream` in-process, `apply` on Ray."""
    from benchmarks.corpus import reply_reuse_corpus

    data = pa.concat_tables([corpus(150, seed=8, duplicate_rate=0.3), reply_reuse_corpus(150, seed=9, templated=0.5)])
    source = tmp_path / "in.parquet"
    write_parquet(source, data)
    spec = {
        "name": "dedup",
        "sources": [{"op": "read.parquet", "paths": [str(source)]}],
        "operators": [{"op": "dedup.exact"}, {"op": "dedup.minhash"}, {"op": "dedup.replies", "action": "reject"}],
        "execution": {"rows_per_block": 40},
    }
    runs = {}
    for executor in ("inprocess", "ray"):
        out = tmp_path / executor
        manifest = run_pipeline(pipeline_from_dict(spec, "test", tmp_path), out, executor=executor, log=lambda m: None, report=False)
        kept = pq.read_table(out / "corpus", columns=["dialogue_id", "reply_reused_count", "dup_cluster_id"]).sort_by("dialogue_id")
        rejects = pq.read_table(out / "rejects", columns=["dialogue_id", "operator", "reason", "duplicate_of"]).sort_by("dialogue_id")
        runs[executor] = (kept, rejects, {s.operator: s.rejected for s in manifest.ledger.operators})
    assert runs["ray"][2] == runs["inprocess"][2]
    assert all(runs["inprocess"][2][op] > 0 for op in ("dedup.minhash", "dedup.replies"))
    assert runs["ray"][0].equals(runs["inprocess"][0]) and runs["ray"][1].equals(runs["inprocess"][1])
