"""`chardial dedup`: exact and near-duplicate removal alone, on dialogue Parquet or native JSONL.

It runs `read.parquet` / `read.jsonl` → `dedup.exact` → `dedup.minhash` as a pipeline and publishes like
`chardial run`: `corpus/`, `rejects/` (every removed or unreadable record, with its reason and
`duplicate_of`), `stats/`, and `manifest.json` with the ledger, staged and renamed into place at the end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console

from jobs.curate import run_spec

app = typer.Typer(help="Exact and near-duplicate removal (MinHash LSH) on dialogue Parquet or native JSONL.", add_completion=False)
console = Console(stderr=True, soft_wrap=True)
READERS = {".parquet": "read.parquet", ".jsonl": "read.jsonl", ".json": "read.jsonl"}


def input_files(path: Path) -> list[Path]:
    """The input files: the file itself, or every Parquet/JSONL file under a folder (a run's: its corpus/)."""
    if path.is_file():
        if path.suffix not in READERS:
            raise typer.BadParameter(f"{path}: not dialogue Parquet or native JSONL (expected {', '.join(READERS)})")
        return [path]
    if path.is_dir():
        if (path / "manifest.json").is_file() and (path / "corpus").is_dir():
            path = path / "corpus"  # a run's output folder: its corpus, not its rejects
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in READERS)
        if not files:
            raise typer.BadParameter(f"{path}: no {', '.join(READERS)} files in this folder")
        return files
    raise typer.BadParameter(f"{path}: no such file or folder")


@app.command()
def dedup(
    input: Annotated[Path, typer.Argument(help="Dialogue Parquet or native JSONL: a file, a folder searched recursively, or a run's output (its corpus/).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder (published atomically; an earlier run there needs --overwrite).")],
    threshold: Annotated[float, typer.Option(min=0.01, max=1.0, help="Jaccard similarity of shingle sets at or above which dialogues are near duplicates.")] = 0.8,
    exact: Annotated[bool, typer.Option(help="Remove exact duplicates (normalised content hash) first.")] = True,
    num_perm: Annotated[int, typer.Option(min=8, max=1024, help="MinHash permutations.")] = 128,
    verify: Annotated[bool, typer.Option(help="Check candidate pairs' exact Jaccard before removing.")] = True,
    engine: Annotated[str, typer.Option(help="'local' (in-process) or 'ray' (Ray Data: RAY_ADDRESS, or an embedded local Ray).")] = "local",
    rows_per_file: Annotated[int, typer.Option(min=1, help="Rows per output Parquet file.")] = 100_000,
    overwrite: Annotated[bool, typer.Option(help="Replace a run already published in OUT.")] = False,
    config: Annotated[Path | None, typer.Option(help="JSON or YAML file of dedup.minhash settings (see docs/operators-curation.md).")] = None,
) -> None:
    """Remove exact and near-duplicate dialogues; publish corpus/, rejects/, stats/ and manifest.json to OUT."""
    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"--engine must be 'local' or 'ray', not {engine!r}")
    settings: dict[str, Any] = {}
    if config is not None:
        settings = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        if not isinstance(settings, dict):
            raise typer.BadParameter(f"{config}: expected a mapping of dedup.minhash settings")
    settings.update(threshold=threshold, num_perm=num_perm, verify=verify)
    files = input_files(input)
    sources = [
        {"op": reader, "paths": [str(f.resolve()) for f in files if READERS[f.suffix] == reader]}
        for reader in dict.fromkeys(READERS[f.suffix] for f in files)
    ]
    data = {
        "name": "dedup",
        "sources": sources,
        "operators": ([{"op": "dedup.exact"}] if exact else []) + [{"op": "dedup.minhash", **settings}],
        "output": {"rows_per_shard": rows_per_file},
    }
    executor = "inprocess" if engine == "local" else "ray"
    manifest = run_spec(data, "chardial dedup", out, executor=executor, overwrite=overwrite, console=console)
    ledger = manifest.ledger
    removed = ", ".join(f"{o.operator}: {o.rejected}" for o in ledger.operators if o.rejected)
    console.print(f"[bold]{ledger.input}[/] records -> [green]{ledger.output}[/] kept, [red]{ledger.rejected}[/] rejected ({removed}) -> {out}")


if __name__ == "__main__":
    app()
