"""Staging, the ledger check, and atomic publication of a run's output folder.

A run writes everything under a hidden staging folder beside the output (`.NAME.staging-RUNID/`),
writes `manifest.json` there last, and only then renames the staging folder to the output path. A
crashed run leaves at most a staging folder, never something a reader could take for a finished corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from schemas import COMPOSITION_SCHEMA
from schemas.run import Ledger, OperatorLedger, Shard

STANDARD_TABLES = ("corpus", "rejects", "stats")


class LedgerError(RuntimeError):
    """input != output + rejected: something was lost or duplicated. Nothing is published."""


class PublishError(RuntimeError):
    """The output folder cannot be published (exists and --overwrite not given, or not ours)."""


def staging_path(output: Path, run_id: str) -> Path:
    return output.parent / f".{output.name}.staging-{run_id}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare(output: Path, run_id: str, overwrite: bool) -> Path:
    """Check the output can be published, clear stale staging folders of dead runs, make ours."""
    output = output.resolve()
    if output.exists():
        if not output.is_dir():
            raise PublishError(f"{output}: exists and is not a folder")
        entries = [p for p in output.iterdir()]
        if entries and not (output / "manifest.json").exists():
            raise PublishError(f"{output}: exists, is not empty and holds no manifest.json: refusing to replace a folder this tool did not write")
        if entries and not overwrite:
            raise PublishError(f"{output}: a published run is already there; pass --overwrite to replace it")
    output.parent.mkdir(parents=True, exist_ok=True)
    for stale in output.parent.glob(f".{output.name}.staging-*"):
        owner = stale / "owner.json"
        try:
            info = json.loads(owner.read_text())
        except (OSError, ValueError):
            info = {}
        if info.get("host") == socket.gethostname() and not _pid_alive(int(info.get("pid", 0) or 0)):
            shutil.rmtree(stale, ignore_errors=True)
    staging = staging_path(output, run_id)
    staging.mkdir()
    (staging / "owner.json").write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "run_id": run_id}))
    return staging


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def finalize_table(staging: Path, table: str, written: list[dict[str, Any]], rows_per_shard: int, compression: str = "zstd", level: int | None = None) -> list[Shard]:
    """Publish exactly the files the writer reported (stray files of failed attempts are removed):
    merge consecutive undersized parts up to `rows_per_shard` rows (a shuffle leaves one small block
    per partition), name them part-00000.parquet ... in order of their first key, and checksum them."""
    directory = staging / table
    reported = sorted(written, key=lambda w: (w["first"], w["path"]))
    keep = {os.path.abspath(w["path"]) for w in reported}
    if directory.is_dir():
        for path in directory.iterdir():
            if os.path.abspath(path) not in keep:
                path.unlink()
    groups: list[list[dict[str, Any]]] = []
    for entry in reported:
        if groups and sum(e["rows"] for e in groups[-1]) + entry["rows"] <= rows_per_shard:
            groups[-1].append(entry)
        else:
            groups.append([entry])
    shards = []
    for number, group in enumerate(groups):
        target = directory / f"part-{number:05d}.parquet"
        expected = sum(e["rows"] for e in group)
        if len(group) == 1:
            os.replace(group[0]["path"], target)
        else:
            merged = pa.concat_tables([pq.read_table(e["path"]) for e in group])
            pq.write_table(merged, target, compression=None if compression == "none" else compression, compression_level=level)
            for e in group:
                os.unlink(e["path"])
        rows = pq.ParquetFile(target).metadata.num_rows
        if rows != expected:
            raise LedgerError(f"{target}: writer reported {expected} rows, the file holds {rows}")
        shards.append(file_shard(staging, target))
    return shards


def file_shard(staging: Path, path: Path) -> Shard:
    """The manifest entry of one published Parquet file."""
    return Shard(path=str(path.relative_to(staging)), rows=pq.ParquetFile(path).metadata.num_rows, bytes=path.stat().st_size, sha256=_sha256(path))


def finalize_side_tables(staging: Path) -> dict[str, list[Shard]]:
    """Side tables written by operators (quotes, pairs, profiles): numbered in name order and checksummed."""
    tables: dict[str, list[Shard]] = {}
    for directory in sorted(p for p in staging.iterdir() if p.is_dir() and p.name not in STANDARD_TABLES):
        for stray in directory.glob("*.tmp"):
            stray.unlink()
        parts = sorted(directory.glob("part-*.parquet"))
        shards = []
        for number, source in enumerate(parts):
            target = directory / f"part-{number:05d}.parquet"
            os.replace(source, target)
            shards.append(file_shard(staging, target))
        tables[directory.name] = shards
    return tables


def composition(staging: Path, run_id: str) -> pa.Table:
    """Counts by category x scenario x source x language x split, with polars over the corpus shards."""
    files = sorted((staging / "corpus").glob("part-*.parquet"))
    keys = ["category", "scenario", "source", "language", "split"]
    if not files:
        return COMPOSITION_SCHEMA.empty_table()
    frame = (
        pl.scan_parquet([str(f) for f in files])
        .select(
            pl.col("character").struct.field("category").alias("category"),
            "scenario",
            "source",
            "language",
            "split",
            "character_id",
            pl.col("turns").list.len().alias("n_turns"),
        )
        .group_by(keys)
        .agg(pl.len().alias("dialogues"), pl.col("n_turns").sum().alias("turns"), pl.col("character_id").n_unique().alias("characters"))
        .with_columns(pl.lit(run_id).alias("pipeline_run_id"))
        .sort(keys, nulls_last=True)
        .collect()
    )
    return frame.to_arrow().select(COMPOSITION_SCHEMA.names).cast(COMPOSITION_SCHEMA)


def meta_totals(staging: Path, key: str) -> dict[str, float]:
    """Sum the JSON count objects stored under meta[key] over the published corpus rows."""
    files = sorted((staging / "corpus").glob("part-*.parquet"))
    totals: dict[str, float] = {}
    if not files:
        return totals
    values = (
        pl.scan_parquet([str(f) for f in files])
        .select(pl.col("meta").explode())
        .filter(pl.col("meta").struct.field("key") == key)
        .select(pl.col("meta").struct.field("value"))
        .collect()
        .to_series()
    )
    for value in values:
        for name, count in json.loads(value).items():
            totals[name] = totals.get(name, 0) + count
    return dict(sorted(totals.items()))


@dataclass
class StepInfo:
    name: str
    step: int
    is_source: bool


def compute_ledger(staging: Path, steps: list[StepInfo], source_counts: dict[str, int], corpus_rows: int, reject_rows: int) -> Ledger:
    """The ledger from independent counts: records the sources read, rows in the published files, and
    reject rows attributed to each step. Raises nothing; `balanced` says whether it holds."""
    by_step: dict[str, dict[str, int]] = {}
    files = sorted((staging / "rejects").glob("part-*.parquet"))
    if files:
        counts = pl.scan_parquet([str(f) for f in files]).group_by("operator", "reason").agg(pl.len().alias("n")).collect()
        for operator, reason, n in counts.iter_rows():
            by_step.setdefault(operator, {})[reason] = n
    total_input = sum(source_counts.values())
    operators: list[OperatorLedger] = []
    source_steps = list({s.name: s for s in steps if s.is_source}.values())  # several sources may share a reader
    source_rejected = sum(sum(by_step.get(s.name, {}).values()) for s in source_steps)
    for s in source_steps:
        reasons = by_step.get(s.name, {})
        rejected = sum(reasons.values())
        read = sum(n for key, n in source_counts.items() if key.split("\x1f", 1)[0] == s.name)
        operators.append(OperatorLedger(operator=s.name, step=s.step, input=read, output=read - rejected, rejected=rejected, by_reason=dict(sorted(reasons.items()))))
    live = total_input - source_rejected
    for s in steps:
        if s.is_source:
            continue
        reasons = by_step.get(s.name, {})
        rejected = sum(reasons.values())
        operators.append(OperatorLedger(operator=s.name, step=s.step, input=live, output=live - rejected, rejected=rejected, by_reason=dict(sorted(reasons.items()))))
        live -= rejected
    known = {s.name for s in steps}
    unknown = {name: n for name, reasons in by_step.items() if name not in known for n in [sum(reasons.values())]}
    balanced = total_input == corpus_rows + reject_rows and live == corpus_rows and not unknown
    return Ledger(input=total_input, output=corpus_rows, rejected=reject_rows, operators=operators, balanced=balanced)


def describe_imbalance(ledger: Ledger, staging: Path) -> str:
    return (
        f"ledger does not balance: input {ledger.input} != output {ledger.output} + rejected {ledger.rejected} "
        f"(difference {ledger.input - ledger.output - ledger.rejected}); per step: "
        + ", ".join(f"{o.operator} in={o.input} out={o.output} rej={o.rejected}" for o in ledger.operators)
        + f". Nothing was published; the staged files are kept for inspection in {staging}"
    )


def write_manifest(staging: Path, manifest: Any) -> None:
    path = staging / "manifest.json"
    tmp = staging / "manifest.json.tmp"
    tmp.write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def publish(staging: Path, output: Path) -> None:
    """Atomically move the staged run into place (replacing a previous published run, if any)."""
    output = output.resolve()
    (staging / "owner.json").unlink(missing_ok=True)
    if not (staging / "manifest.json").exists():
        raise PublishError(f"{staging}: no manifest.json: refusing to publish an unfinished run")
    previous = None
    if output.exists():
        if any(output.iterdir()):
            previous = output.parent / f".{output.name}.previous-{staging.name.rsplit('-', 1)[-1]}"
            os.rename(output, previous)
        else:
            output.rmdir()
    os.rename(staging, output)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
