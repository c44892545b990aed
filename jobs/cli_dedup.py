"""`chardial dedup`: exact and near-duplicate removal alone, on dialogue Parquet or native JSONL.

The output has a run's layout: `corpus/` (surviving dialogues), `rejects/` (every removed or unreadable
record, with its reason and `duplicate_of`), `stats/dedup.json` (what each step saw and did) and
`manifest.json` (written last, with the ledger: input = output + rejected). Everything is written to a
staging folder next to OUT and renamed into place at the end, so OUT is complete or absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.progress import Progress

from operators.columns import (
    DUPLICATE_OF,
    INPUT_FILE,
    INPUT_LINE,
    RAW,
    REJECT_DETAIL,
    REJECT_OPERATOR,
    REJECT_REASON,
    WORKING_SCHEMA,
    conform,
)
from operators.dedup.exact import ExactDedup
from operators.dedup.minhash import MinHashDedup, MinHashDedupConfig
from operators.readers.native_jsonl import JsonlConfig, NativeJsonlReader
from schemas import DIALOGUE_SCHEMA, REJECT_SCHEMA, SCHEMA_VERSION
from schemas.run import Ledger, OperatorLedger, RunManifest, Shard

app = typer.Typer(help="Deduplicate dialogues: exact (normalised content hash) then near-duplicate (MinHash LSH).", no_args_is_help=True)
console = Console(stderr=True)
SUFFIXES = (".parquet", ".jsonl", ".json")


def input_files(path: Path) -> list[Path]:
    """The input files: the file itself, or every Parquet/JSONL file under a folder, in sorted order."""
    if path.is_file():
        if path.suffix not in SUFFIXES:
            raise typer.BadParameter(f"{path}: not dialogue Parquet or native JSONL (expected {', '.join(SUFFIXES)})")
        return [path]
    if path.is_dir():
        if (path / "manifest.json").is_file() and (path / "corpus").is_dir():
            path = path / "corpus"  # a run's output folder: its corpus, not its rejects
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
        if not files:
            raise typer.BadParameter(f"{path}: no {', '.join(SUFFIXES)} files in this folder")
        return files
    raise typer.BadParameter(f"{path}: no such file or folder")


def read_parquet(path: Path) -> pa.Table:
    """A dialogue Parquet file as a working table (each row remembers its file and row number)."""
    table = pq.read_table(path)
    missing = [name for name in ("dialogue_id", "turns", "source") if name not in table.column_names]
    if missing:
        raise typer.BadParameter(f"{path}: not dialogue Parquet: missing columns {missing} (have {table.column_names[:8]})")
    known = [name for name in table.column_names if name in WORKING_SCHEMA.names]
    table = conform(table.select(known))
    table = table.set_column(table.schema.get_field_index(INPUT_FILE), INPUT_FILE, pa.array([str(path)] * table.num_rows, pa.string()))
    return table.set_column(table.schema.get_field_index(INPUT_LINE), INPUT_LINE, pa.array(range(1, table.num_rows + 1), pa.int64()))


def read_inputs(files: list[Path], progress: Progress) -> pa.Table:
    reader = NativeJsonlReader(JsonlConfig(paths=[str(f) for f in files]))
    tables = []
    task = progress.add_task("read", total=len(files))
    for path in files:
        if path.suffix == ".parquet":
            tables.append(read_parquet(path))
        else:
            tables.extend(reader.read(str(path), rows_per_block=50_000))
        progress.advance(task)
    return pa.concat_tables(tables) if tables else WORKING_SCHEMA.empty_table()


def exact_groups(operator: ExactDedup, table: pa.Table) -> pa.Table:
    """`dedup.exact` in-process, reducing only the keys held by two rows or more.

    The generic in-process path concatenates one piece per key: 20k pieces made the next filter take
    1.3 GB and every later step slow. A singleton group is returned unchanged by `reduce`, so only
    repeated keys need it; the result has two chunks per column.
    """
    # The key is per row, so computing it a slice at a time bounds its Python strings (one per turn).
    keyed = pa.concat_tables([operator.keyed(table.slice(start, 50_000)) for start in range(0, table.num_rows, 50_000)])
    counts = keyed.group_by(operator.key).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts.column("count_all"), 1)).column(operator.key)
    mask = pc.is_in(keyed.column(operator.key), repeated)
    groups = operator(table.filter(mask))
    # Only the (small) repeated part is recombined: recombining the whole table would copy it once more.
    return pa.concat_tables([keyed.filter(pc.invert(mask)), groups.select(keyed.column_names).combine_chunks()])


def run_step(operator: Any, holder: list[pa.Table], ledger: list[OperatorLedger], engine: str) -> pa.Table:
    """Run one operator on the live rows; name it on the rows it rejects; count it in the ledger.

    The table is taken out of `holder`, so that once split into live and rejected rows the whole is
    no longer referenced and its memory is freed while the step runs (a 1M-row table is gigabytes).
    """
    table = holder.pop()
    schema = table.schema
    live = pc.is_null(table.column(REJECT_REASON))
    if pc.all(live).as_py() is not False:  # nothing rejected yet: no copy
        alive, dead = table, table.slice(0, 0)
    else:
        alive, dead = table.filter(live), table.filter(pc.invert(live))
    del table
    if engine == "ray" and hasattr(operator, "apply"):
        import ray.data

        result = operator.apply(ray.data.from_arrow(alive))
        result = pa.concat_tables([ray.get(ref) for ref in result.to_arrow_refs()]) if alive.num_rows else alive
    else:
        result = (exact_groups(operator, alive) if isinstance(operator, ExactDedup) else operator(alive)) if alive.num_rows else alive
    result = result.select(schema.names)
    if not result.schema.equals(schema):
        result = conform(result, schema)
    rejected = pc.is_valid(result.column(REJECT_REASON))
    operators_column = pc.if_else(rejected, operator.name, result.column(REJECT_OPERATOR))
    result = result.set_column(result.schema.get_field_index(REJECT_OPERATOR), REJECT_OPERATOR, operators_column)
    reasons = Counter(pc.filter(result.column(REJECT_REASON), rejected).to_pylist())
    count = sum(reasons.values())
    ledger.append(
        OperatorLedger(
            operator=operator.name,
            step=len(ledger),
            input=alive.num_rows,
            output=alive.num_rows - count,
            rejected=count,
            by_reason=dict(reasons),
        )
    )
    return pa.concat_tables([result, dead])


_EMPTY_ATTRIBUTES = {"relationships": [], "experiences": [], "hobbies": [], "extra": []}
_EMPTY_STYLES = {"catchphrases": [], "example_lines": []}


def canonical_corpus(table: pa.Table, run_id: str) -> pa.Table:
    """Working rows as the dialogue table: the record model's defaults filled where readers leave nulls
    (a character's `attributes` and `styles`, `meta`), the run id set."""
    pieces = []
    column = table.column("character")
    for start in range(0, table.num_rows, 50_000):  # Python dicts for a slice at a time: bounded memory
        characters = column.slice(start, 50_000).to_pylist()
        for character in characters:
            for key, empty in (("attributes", _EMPTY_ATTRIBUTES), ("styles", _EMPTY_STYLES)):
                value = character.get(key) or {}
                character[key] = {**value, **{name: value.get(name) or default for name, default in empty.items()}}
        pieces.append(pa.array(characters, DIALOGUE_SCHEMA.field("character").type))
    corpus = table.select(DIALOGUE_SCHEMA.names)
    replacements = {
        "character": pa.chunked_array(pieces, DIALOGUE_SCHEMA.field("character").type),
        "meta": pc.if_else(pc.is_null(corpus.column("meta")), pa.scalar([], DIALOGUE_SCHEMA.field("meta").type), corpus.column("meta")),
        "pipeline_run_id": pa.array([run_id] * corpus.num_rows, pa.string()),
    }
    for name, values in replacements.items():
        corpus = corpus.set_column(corpus.schema.get_field_index(name), name, values)
    return corpus.cast(DIALOGUE_SCHEMA)


def reject_rows(rejects: pa.Table, run_id: str) -> pa.Table:
    """Working rows that were rejected, as the reject table (the record kept as canonical JSON)."""
    records = []
    dialogue_columns = [name for name in DIALOGUE_SCHEMA.names if name in rejects.column_names]
    raw = rejects.column(RAW).to_pylist()
    for i, row in enumerate(rejects.select(dialogue_columns).to_pylist()):
        records.append(raw[i] if raw[i] is not None else json.dumps(row, ensure_ascii=False, sort_keys=True, default=str))
    return pa.table(
        {
            "operator": rejects.column(REJECT_OPERATOR),
            "reason": rejects.column(REJECT_REASON),
            "detail": rejects.column(REJECT_DETAIL),
            "input_file": rejects.column(INPUT_FILE),
            "input_line": rejects.column(INPUT_LINE),
            "dialogue_id": rejects.column("dialogue_id"),
            "duplicate_of": rejects.column(DUPLICATE_OF),
            "record": pa.array(records, pa.string()),
            "pipeline_run_id": pa.array([run_id] * rejects.num_rows, pa.string()),
        }
    ).cast(REJECT_SCHEMA)


def write_shards(table: pa.Table, folder: Path, root: Path, rows_per_file: int) -> list[Shard]:
    folder.mkdir(parents=True, exist_ok=True)
    shards = []
    for index, start in enumerate(range(0, max(table.num_rows, 1), rows_per_file)):
        path = folder / f"part-{index:05d}.parquet"
        pq.write_table(table.slice(start, rows_per_file), path, compression="zstd")
        data = path.read_bytes()
        shards.append(
            Shard(
                path=str(path.relative_to(root)),
                rows=min(rows_per_file, table.num_rows - start),
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
            )
        )
    return shards


def code_version() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=Path(__file__).parent
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"git:{commit}"


@app.command()
def dedup(
    input: Annotated[
        Path,
        typer.Argument(help="Dialogue Parquet or native JSONL: a file, a folder searched recursively, or a run's output (its corpus/)."),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder (must not exist, unless --overwrite).")],
    threshold: Annotated[
        float, typer.Option(min=0.01, max=1.0, help="Jaccard similarity of shingle sets at or above which dialogues are near duplicates.")
    ] = 0.8,
    exact: Annotated[bool, typer.Option(help="Remove exact duplicates (normalised content hash) first.")] = True,
    num_perm: Annotated[int, typer.Option(min=8, max=1024, help="MinHash permutations.")] = 128,
    verify: Annotated[bool, typer.Option(help="Check candidate pairs' exact Jaccard before removing.")] = True,
    engine: Annotated[str, typer.Option(help="'local' (in-process) or 'ray' (Ray Data: RAY_ADDRESS, or a local cluster).")] = "local",
    rows_per_file: Annotated[int, typer.Option(min=1, help="Rows per output Parquet file.")] = 100_000,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
    config: Annotated[
        Path | None, typer.Option(help="JSON or YAML file of dedup.minhash settings (see docs/operators-curation.md).")
    ] = None,
) -> None:
    """Remove exact and near-duplicate dialogues; write corpus/, rejects/, stats/ and manifest.json to OUT."""
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"--engine must be 'local' or 'ray', not {engine!r}")
    if out.exists() and not overwrite:
        raise typer.BadParameter(f"{out} exists; pass --overwrite to replace it")
    settings: dict[str, Any] = {}
    if config is not None:
        import yaml

        settings = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        if not isinstance(settings, dict):
            raise typer.BadParameter(f"{config}: expected a mapping of dedup.minhash settings")
    settings.update(threshold=threshold, num_perm=num_perm, verify=verify)
    try:
        minhash_config = MinHashDedupConfig(**settings)
    except ValueError as error:
        raise typer.BadParameter(f"dedup.minhash settings: {error}") from None
    files = input_files(input)
    run_id = f"dedup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"
    started, timings = datetime.now(UTC), {}
    if engine == "ray":
        import ray

        ray.init(address=os.environ.get("RAY_ADDRESS", "local"), ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    minhash = MinHashDedup(minhash_config)
    steps: list[Any] = ([ExactDedup()] if exact else []) + [minhash]
    ledger: list[OperatorLedger] = []
    with Progress(console=console, transient=True) as progress:
        clock = time.perf_counter()
        table = read_inputs(files, progress)
        unreadable = Counter(table.filter(pc.is_valid(table.column(REJECT_REASON))).column(REJECT_REASON).to_pylist())
        ledger.append(
            OperatorLedger(
                operator="read",
                step=0,
                input=table.num_rows,
                output=table.num_rows - sum(unreadable.values()),
                rejected=sum(unreadable.values()),
                by_reason=dict(unreadable),
            )
        )
        timings["read"] = round(time.perf_counter() - clock, 3)
        task = progress.add_task("dedup", total=len(steps))
        for step in steps:
            clock = time.perf_counter()
            holder = [table]
            del table  # the step frees it once split (see run_step)
            table = run_step(step, holder, ledger, engine)
            timings[step.name] = round(time.perf_counter() - clock, 3)
            progress.advance(task)
    clock = time.perf_counter()
    staging = out.parent / f".{out.name}.staging-{run_id}"
    live = pc.is_null(table.column(REJECT_REASON))
    corpus = canonical_corpus(table.filter(live), run_id)
    rejects = reject_rows(table.filter(pc.invert(live)), run_id)
    shards = {
        "corpus": write_shards(corpus, staging / "corpus", staging, rows_per_file),
        "rejects": write_shards(rejects, staging / "rejects", staging, rows_per_file),
    }
    (staging / "stats").mkdir(parents=True, exist_ok=True)
    stats = {"dedup.minhash": minhash.report.__dict__, "steps": [entry.model_dump() for entry in ledger]}
    (staging / "stats" / "dedup.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    timings["write"] = round(time.perf_counter() - clock, 3)
    chained = all(a.output == b.input for a, b in zip(ledger, ledger[1:], strict=False))
    balanced = table.num_rows == corpus.num_rows + rejects.num_rows and chained
    spec = {"name": "dedup", "steps": [{"name": s.name, "config": s.config.model_dump()} for s in steps]}
    manifest = RunManifest(
        run_id=run_id,
        pipeline="(chardial dedup)",
        pipeline_name="dedup",
        pipeline_hash=hashlib.sha256(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest(),
        code_version=code_version(),
        schema_version=SCHEMA_VERSION,
        started_at=started.isoformat(),
        finished_at=datetime.now(UTC).isoformat(),
        timings_s=timings,
        inputs=[str(f) for f in files],
        shards=shards,
        ledger=Ledger(input=table.num_rows, output=corpus.num_rows, rejected=rejects.num_rows, operators=ledger, balanced=balanced),
        spec=spec,
    )
    (staging / "manifest.json").write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    os.replace(staging, out)
    report = minhash.report
    console.print(
        f"[bold]{table.num_rows}[/] records -> [green]{corpus.num_rows}[/] kept, [red]{rejects.num_rows}[/] rejected "
        f"({', '.join(f'{e.operator}: {e.rejected}' for e in ledger)}); near-duplicate clusters: {report.clusters}, "
        f"too short to shingle: {report.too_short_for_shingle} (deduplicated exactly), without tokens: {report.without_tokens}; -> {out}"
    )
    if not balanced:
        raise typer.Exit(code=1)
