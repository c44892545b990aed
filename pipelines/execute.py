"""Run a validated pipeline: on Ray Data (the default) or in-process on Arrow tables (for small inputs,
debugging and as the benchmark baseline). Both use the same step and writer functions, the same
ledger check and the same atomic publication."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
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
from pipelines.steps import run_step, with_table_metadata, write_block
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
    ledger = SourceCounts()
    tables: list[pa.Table] = []
    for step in pipeline.sources:
        for path in pipeline.inputs.get(step.index, []):
            tables.extend(read_source(step, path, pipeline.execution.rows_per_block, context, ledger.record))
    batches = [t.cast(schema) if t.schema != schema else t for t in (conform_all(tables, schema))]
    for step in pipeline.operators:
        op = _operator(step, context)
        if isinstance(op, GlobalOperator) or hasattr(op, "apply"):
            whole = pa.concat_tables(batches) if batches else schema.empty_table()
            batches = [run_step(op, whole, schema, step.only)]
        else:
            batches = [run_step(op, b, schema, step.only) for b in batches]
    written: list[dict[str, Any]] = []
    out = pipeline.output
    for batch in batches:
        result = write_block(batch, str(staging), corpus_schema, list(DIALOGUE_COLUMNS), context.run_id, out.compression, out.compression_level, out.rows_per_shard)
        written.extend(result.to_pylist())
    return written, ledger.snapshot()


def conform_all(tables: list[pa.Table], schema: pa.Schema) -> list[pa.Table]:
    from operators.columns import conform

    return [conform(t, schema) for t in tables]
