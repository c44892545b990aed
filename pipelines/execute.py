"""Run a validated pipeline: on Ray Data (the default) or in-process on Arrow tables (for small inputs,
debugging and as the benchmark baseline). Both use the same step and writer functions, the same
ledger check and the same atomic publication."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from operators.base import GlobalOperator, RunContext
from operators.columns import DIALOGUE_COLUMNS, working_schema
from pipelines.publish import (
    LedgerError,
    StepInfo,
    composition,
    compute_ledger,
    describe_imbalance,
    file_shard,
    finalize_side_tables,
    finalize_table,
    meta_totals,
    prepare,
    publish,
    write_manifest,
)
from pipelines.spec import Pipeline, Step
from pipelines.steps import OperatorContractError, merge_step, run_step, split_live, with_table_metadata, write_block
from schemas import DIALOGUE_SCHEMA, SCHEMA_VERSION
from schemas.run import RunManifest

Executor = Literal["ray", "inprocess"]
Log = Callable[[str], None]


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]


def code_version() -> str:
    from importlib import metadata

    try:
        version = metadata.version("characterdial")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    root = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha, dirty = "", ""
    return f"{version}+g{sha}{'.dirty' if dirty else ''}" if sha else version


def schemas_for(pipeline: Pipeline) -> tuple[pa.Schema, pa.Schema]:
    """(working schema, corpus schema): the dialogue columns plus columns operators declare."""
    extra = tuple(f for step in pipeline.operators for f in step.cls.new_fields)
    corpus = with_table_metadata(pa.schema(list(DIALOGUE_SCHEMA) + list(extra)), "dialogue")
    return working_schema(extra), corpus


class SourceCounts:
    """Records read per source file; keyed, so a repeated report (a retried task) replaces, never adds."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def record(self, key: str, count: int) -> None:
        self.counts[key] = count

    def snapshot(self) -> dict[str, int]:
        return dict(self.counts)


def read_source(step: Step, path: str, rows_per_block: int, context: RunContext, record: Callable[[str, int], None]) -> Iterator[pa.Table]:
    """All blocks of one input file; reports the file's record count once it has been fully read."""
    reader = step.cls(step.config, context)
    count = 0
    for table in reader.read(path, rows_per_block):
        count += table.num_rows
        yield table
    record(f"{step.op}\x1f{path}", count)


def _operator(step: Step, context: RunContext) -> Any:
    op = step.cls(step.config, context)
    op.setup()
    return op


def run_pipeline(
    pipeline: Pipeline,
    output: str | os.PathLike[str],
    *,
    executor: Executor = "ray",
    overwrite: bool = False,
    log: Log = print,
    ray_init: dict[str, Any] | None = None,
    report: bool = True,
) -> RunManifest:
    """Execute, check the ledger, publish atomically; returns the manifest. Raises LedgerError on imbalance."""
    run_id = new_run_id()
    started = dt.datetime.now(dt.UTC)
    output_path = Path(output).resolve()
    staging = prepare(output_path, run_id, overwrite)
    context = RunContext(run_id=run_id, staging_dir=str(staging))
    schema, corpus_schema = schemas_for(pipeline)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    inputs = [p for files in pipeline.inputs.values() for p in files]
    log(f"run {run_id}: {pipeline.name}: {len(inputs)} input file(s), {len(pipeline.operators)} operator(s), executor={executor}")
    for reason in sorted({s["reason"] for s in pipeline.skipped}):
        log(f"skipped {', '.join(s['op'] for s in pipeline.skipped if s['reason'] == reason)}: {reason}")
    if executor == "ray":
        from pipelines.ray_plan import execute_on_ray

        written, source_counts, ray_info = execute_on_ray(pipeline, staging, context, schema, corpus_schema, log, ray_init or {})
    else:
        written, source_counts = _execute_inprocess(pipeline, staging, context, schema, corpus_schema)
        ray_info = {}
    timings["execute"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    out = pipeline.output
    shards = {
        table: finalize_table(staging, table, [w for w in written if w["table"] == table], out.rows_per_shard, out.compression, out.compression_level)
        for table in ("corpus", "rejects")
    }
    stats_dir = staging / "stats"
    stats_dir.mkdir(exist_ok=True)
    pq.write_table(composition(staging, run_id), stats_dir / "composition.parquet", compression="zstd")
    shards["stats"] = [file_shard(staging, stats_dir / "composition.parquet")]
    shards.update(finalize_side_tables(staging))
    steps = [StepInfo(s.op, s.index, True) for s in pipeline.sources] + [StepInfo(s.op, s.index, False) for s in pipeline.operators]
    corpus_rows = sum(s.rows for s in shards["corpus"])
    reject_rows = sum(s.rows for s in shards["rejects"])
    ledger = compute_ledger(staging, steps, source_counts, corpus_rows, reject_rows)
    if not ledger.balanced:
        raise LedgerError(describe_imbalance(ledger, staging))
    timings["finalize"] = time.perf_counter() - t1
    timings["total"] = time.perf_counter() - t0
    manifest = RunManifest(
        run_id=run_id,
        pipeline=str(pipeline.path),
        pipeline_name=pipeline.name,
        pipeline_hash=pipeline.hash(),
        code_version=code_version(),
        schema_version=SCHEMA_VERSION,
        started_at=started.isoformat(),
        finished_at=dt.datetime.now(dt.UTC).isoformat(),
        timings_s={k: round(v, 3) for k, v in timings.items()},
        ray=ray_info,
        inputs=inputs,
        shards=shards,
        ledger=ledger,
        metrics={s.op: meta_totals(staging, s.cls.totals_meta_key) for s in pipeline.operators if getattr(s.cls, "totals_meta_key", None)},
        llm_usage=llm_usage(staging),
        spec=pipeline.canonical(),
    )
    t2 = time.perf_counter()
    # Imported here, on the driver only: Ray workers unpickle this module and need none of the charting stack.
    from pipelines.report import build_report
    from pipelines.stats import compute_stats, write_stats

    previous = output_path if (output_path / "manifest.json").exists() else None  # deltas against the run being replaced
    tables = compute_stats(staging, previous, manifest=manifest)
    manifest.shards["stats"].extend(write_stats(staging, tables))
    if report:
        build_report(staging, None, manifest=manifest, stats=tables)
    manifest.timings_s["stats_and_report"] = round(time.perf_counter() - t2, 3)
    manifest.timings_s["total"] = round(time.perf_counter() - t0, 3)
    write_manifest(staging, manifest)
    publish(staging, output_path)
    return manifest


def llm_usage(staging: Path) -> list[dict[str, Any]]:
    """Totals of the llm_usage side table (written by LLM steps), for the manifest."""
    files = sorted((staging / "llm_usage").glob("part-*.parquet"))
    if not files:
        return []
    from operators.synthesis.usage import summarize

    return summarize(pa.concat_tables([pq.read_table(f) for f in files]))


def _execute_inprocess(pipeline: Pipeline, staging: Path, context: RunContext, schema: pa.Schema, corpus_schema: pa.Schema) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """One stream of blocks from the sources through the operators to the writer.

    Row-local steps run block by block. A global step (dedup, mixing, pairing) spills its input to local
    disk under the staging folder and reads it back as often as it needs (`GlobalOperator.stream`), so
    memory holds a block and what the step keeps, never the corpus. The spill folder is removed at the end.
    """
    ledger = SourceCounts()
    spill_root = staging / "_spill"
    try:
        stream = _source_blocks(pipeline, context, schema, ledger)
        for step in pipeline.operators:
            op = _operator(step, context)
            if isinstance(op, GlobalOperator) or hasattr(op, "apply"):
                stream = _global_blocks(op, step, stream, schema, spill_root / f"step-{step.index:03d}")
            else:
                stream = _local_blocks(op, step, stream, schema)
        out = pipeline.output
        written: list[dict[str, Any]] = []
        for batch in _rebatch(stream, out.rows_per_shard):
            result = write_block(batch, str(staging), corpus_schema, list(DIALOGUE_COLUMNS), context.run_id, out.compression, out.compression_level, out.rows_per_shard)
            written.extend(result.to_pylist())
    finally:
        shutil.rmtree(spill_root, ignore_errors=True)
    return written, ledger.snapshot()


def _source_blocks(pipeline: Pipeline, context: RunContext, schema: pa.Schema, ledger: SourceCounts) -> Iterator[pa.Table]:
    from operators.columns import conform

    for step in pipeline.sources:
        for path in pipeline.inputs.get(step.index, []):
            for table in read_source(step, path, pipeline.execution.rows_per_block, context, ledger.record):
                table = conform(table, schema)
                yield table.cast(schema) if table.schema != schema else table


def _local_blocks(op: Any, step: Step, blocks: Iterator[pa.Table], schema: pa.Schema) -> Iterator[pa.Table]:
    for block in blocks:
        yield run_step(op, block, schema, step.only)


def _global_blocks(op: Any, step: Step, blocks: Iterator[pa.Table], schema: pa.Schema, folder: Path) -> Iterator[pa.Table]:
    """A global step in-process: its rows (live, matching `only`) spilled and handed to `op.stream`, or as
    one table to `op(table)` for operators without one; the other rows pass straight on."""
    from pipelines.spill import SpilledBlocks

    mine = SpilledBlocks(folder / "input.arrow", schema)
    for block in blocks:
        rows, dead = split_live(block, step.only)
        if rows is not None:
            mine.append(rows)
        if dead is not None:
            yield dead
    mine.close()
    if mine.num_rows:

        def spill(name: str, tables: Iterable[pa.Table]) -> SpilledBlocks:
            return SpilledBlocks(folder / f"{name}.arrow").extend(tables)

        stream = getattr(op, "stream", None)
        outputs = stream(mine, spill) if stream is not None else iter([op(mine.read_all())])
        produced = 0
        for out in outputs:
            produced += out.num_rows
            yield merge_step(op.name, out, out, None, schema)  # conform, and stamp the rows it rejected
        if produced != mine.num_rows:
            raise OperatorContractError(f"operator {op.name} returned {produced} rows for {mine.num_rows}: operators must not add or drop rows")
    mine.remove()


def _rebatch(blocks: Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """Blocks gathered up to about `rows` rows, so the writer writes shard-sized files (fewer merges later)."""
    pending: list[pa.Table] = []
    count = 0
    for block in blocks:
        if block.num_rows == 0:
            continue
        pending.append(block)
        count += block.num_rows
        if count >= rows:
            yield pa.concat_tables(pending)
            pending, count = [], 0
    if pending:
        yield pa.concat_tables(pending)
