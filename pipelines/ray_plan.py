"""The Ray Data plan of a pipeline: sources -> operators -> shard writer, one streaming execution.

Sources are one task per input file (a generator yielding blocks); row-local operators are
`map_batches` over pyarrow blocks (task pools fuse; actor pools for costly setup()); global operators are
`map_batches(keyed)` -> `groupby(key, num_partitions).map_groups(reduce)`, or their own `apply(ds)`;
the writer routes each block's live rows to corpus/ and rejected rows to rejects/ and returns only the
list of files it wrote. A small actor keeps the per-file record counts the ledger is checked against.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import ray
from ray.data import ActorPoolStrategy

from operators.base import RunContext
from operators.columns import DIALOGUE_COLUMNS, INPUT_FILE, INPUT_LINE, PARTITION, conform
from pipelines.execute import Log, SourceCounts, _operator, read_source
from pipelines.spec import Pipeline, Step
from pipelines.steps import merge_step, run_step, run_step_async, split_live, write_block

# The same per-file counter as in-process, as a small actor every read task reports to.
LedgerActor = ray.remote(num_cpus=0)(SourceCounts)


class _Phase:
    """One method of an operator seen as an operator (same name), so run_step can drive it."""

    def __init__(self, op: Any, method: str) -> None:
        self.op, self.name, self.method = op, op.name, method
        self.asynchronous = inspect.iscoroutinefunction(getattr(type(op), method))

    def __call__(self, batch: pa.Table) -> pa.Table:
        return getattr(self.op, self.method)(batch)

    def run(self, batch: pa.Table) -> pa.Table:
        return self.op.run(batch)


class _StepActor:
    def __init__(self, step: Step, context: RunContext, schema: pa.Schema, method: str) -> None:
        self.op = _Phase(_operator(step, context), method)
        self.schema, self.only = schema, step.only

    def __call__(self, batch: pa.Table) -> pa.Table:
        return run_step(self.op, batch, self.schema, self.only)


class _AsyncStepActor:
    """For operators with `async def __call__` (LLM clients): Ray Data runs the coroutine in the actor's loop,
    so many requests of one batch are in flight together."""

    def __init__(self, step: Step, context: RunContext, schema: pa.Schema, method: str) -> None:
        self.op = _operator(step, context)
        self.schema, self.only = schema, step.only

    async def __call__(self, batch: pa.Table) -> pa.Table:
        return await run_step_async(self.op, batch, self.schema, self.only)


def _apply_plan(ds: ray.data.Dataset, step: Step, context: RunContext, schema: pa.Schema, partitions: int) -> ray.data.Dataset:
    """An operator's own Dataset plan (`apply`), given only the rows it may touch, as `run_step` would:
    live rows matching its `only` filter. The others are set aside and joined back; rows it rejected get
    its name in `_reject_operator`."""
    only = step.only

    def mine(batch: pa.Table) -> pa.Table:
        rows, _ = split_live(batch, only)
        return rows if rows is not None else batch.slice(0, 0)

    def others(batch: pa.Table) -> pa.Table:
        _, rest = split_live(batch, only)
        return rest if rest is not None else batch.slice(0, 0)

    def stamp(batch: pa.Table) -> pa.Table:
        return merge_step(step.op, batch, batch, None, schema)

    ds = ds.materialize()  # read twice below (the rows it works on, the rest): compute upstream once
    worked = _operator(step, context).apply(ds.map_batches(mine, batch_format="pyarrow"), schema=schema, partitions=partitions)
    return worked.map_batches(stamp, batch_format="pyarrow").union(ds.map_batches(others, batch_format="pyarrow"))


def _partitioner(key: str, partitions: int) -> Any:
    """A batch function adding `_partition` = a stable hash of `key` (of the input position for rows without one)."""

    def partition(batch: pa.Table) -> pa.Table:
        keys = batch.column(key).to_pylist()
        files, lines = batch.column(INPUT_FILE).to_pylist(), batch.column(INPUT_LINE).to_pylist()
        values = [
            int.from_bytes(hashlib.blake2b((k if k is not None else f"{f}:{n}").encode("utf-8"), digest_size=8).digest(), "big") % partitions
            for k, f, n in zip(keys, files, lines, strict=True)
        ]
        return batch.set_column(batch.schema.get_field_index(PARTITION), PARTITION, pa.array(values, pa.int64()))

    partition.__name__ = f"partition({key})"
    return partition


def _task_fn(step: Step, context: RunContext, schema: pa.Schema, method: str) -> Any:
    state: dict[str, Any] = {}

    def apply(batch: pa.Table) -> pa.Table:
        if "op" not in state:
            state["op"] = _Phase(_operator(step, context), method)
        return run_step(state["op"], batch, schema, step.only)

    apply.__name__ = f"{step.op}.{method}"
    return apply


def _map(ds: ray.data.Dataset, step: Step, context: RunContext, schema: pa.Schema, method: str) -> ray.data.Dataset:
    r = step.resources
    kwargs: dict[str, Any] = {"batch_format": "pyarrow", "num_cpus": r.cpus, "zero_copy_batch": False}
    if r.gpus:
        kwargs["num_gpus"] = r.gpus
    if r.memory_mb:
        kwargs["memory"] = r.memory_mb * 1024**2
    if r.batch_size:
        kwargs["batch_size"] = r.batch_size
    if r.compute == "actors":
        cpus = int(ray.cluster_resources().get("CPU", 2))
        size = {"size": r.actors} if r.actors else {"min_size": 1, "max_size": max(1, cpus - 1)}
        actor = _AsyncStepActor if method == "__call__" and inspect.iscoroutinefunction(step.cls.__call__) else _StepActor
        return ds.map_batches(actor, fn_constructor_args=(step, context, schema, method), compute=ActorPoolStrategy(**size), **kwargs)
    return ds.map_batches(_task_fn(step, context, schema, method), **kwargs)


def _ensure_ray(log: Log, ray_init: dict[str, Any]) -> dict[str, str]:
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(**{k: v for k, v in ray_init.items() if k in ("runtime_env", "log_to_driver")})
        else:
            options = {"include_dashboard": False, **ray_init}
            ray.init(address="local", **options)
    resources = ray.cluster_resources()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    info = {
        "version": ray.__version__,
        "address": ray.get_runtime_context().gcs_address,
        "nodes": str(len(nodes)),
        "cpus": str(resources.get("CPU", 0)),
        "gpus": str(resources.get("GPU", 0)),
    }
    log(f"ray {info['version']} at {info['address']}: {info['nodes']} node(s), {info['cpus']} CPU(s), {info['gpus']} GPU(s)")
    return info


def execute_on_ray(
    pipeline: Pipeline,
    staging: Path,
    context: RunContext,
    schema: pa.Schema,
    corpus_schema: pa.Schema,
    log: Log,
    ray_init: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, int], dict[str, str]]:
    info = _ensure_ray(log, ray_init)
    ledger = LedgerActor.remote()
    rows_per_block = pipeline.execution.rows_per_block

    def record(key: str, count: int) -> None:
        ray.get(ledger.record.remote(key, count))

    datasets = []
    for step in pipeline.sources:
        files = pipeline.inputs.get(step.index, [])

        def read(batch: pa.Table, step: Step = step) -> Iterator[pa.Table]:
            for path in batch.column("path").to_pylist():
                for table in read_source(step, path, rows_per_block, context, record):
                    yield conform(table, schema)

        read.__name__ = step.op
        items = ray.data.from_items([{"path": p} for p in files], override_num_blocks=len(files))
        datasets.append(items.map_batches(read, batch_size=1, batch_format="pyarrow", zero_copy_batch=False))
    ds = datasets[0].union(*datasets[1:]) if len(datasets) > 1 else datasets[0]

    partitions = pipeline.execution.shuffle_partitions or max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    for step in pipeline.operators:
        custom = step.cls.ray_plan(ds, step.config, context) if hasattr(step.cls, "ray_plan") else None
        if custom is not None:  # an operator with a plan of its own for this config (e.g. LLM steps on vLLM)
            ds = custom
        elif hasattr(step.cls, "apply"):
            ds = _apply_plan(ds, step, context, schema, partitions)
        elif step.is_global:
            # keyed -> hash partition of the key -> one reduce_all call per partition. Grouping by the key
            # itself would call Python once per distinct key (once per dialogue for dedup), which costs
            # more than the work; a partition holds every row of its keys, so reduce_all sees whole groups.
            ds = _map(ds, step, context, schema, "keyed")
            ds = ds.map_batches(_partitioner(step.cls.key, partitions), batch_format="pyarrow", zero_copy_batch=False)
            ds = ds.groupby(PARTITION, num_partitions=partitions).map_groups(
                _task_fn(step, context, schema, "reduce_all"), batch_format="pyarrow", num_cpus=step.resources.cpus
            )
        else:
            ds = _map(ds, step, context, schema, "__call__")

    out = pipeline.output
    ds = ds.map_batches(
        write_block,
        fn_args=(str(staging), corpus_schema, list(DIALOGUE_COLUMNS), context.run_id, out.compression, out.compression_level, out.rows_per_shard),
        batch_format="pyarrow",
        zero_copy_batch=False,
    )
    written: list[dict[str, Any]] = []
    for batch in ds.iter_batches(batch_format="pyarrow", batch_size=None):
        written.extend(batch.to_pylist())
    if pipeline.execution.log_stats:
        log(ds.stats())
    counts = ray.get(ledger.snapshot.remote())
    ray.kill(ledger)
    return written, counts, info
