"""`chardial report` and `chardial stats`: the run dashboard and the stats tables, from a finished run folder."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipelines.report import build_report
from pipelines.stats import compute_stats, write_stats

app = typer.Typer(help="Composition statistics and the HTML dashboard of a run.", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)

RunDir = Annotated[
    Path,
    typer.Argument(help="A finished run's output folder (holds manifest.json, corpus/, rejects/).", exists=True, file_okay=False,
                   resolve_path=True),
]
Compare = Annotated[
    Path | None,
    typer.Option("--compare", help="A previous run's output folder: adds run-to-run deltas.", exists=True, file_okay=False,
                 resolve_path=True),
]


def _fail(error: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {error}")
    return typer.Exit(code=1)


@app.command()
def report(run_dir: RunDir, compare: Compare = None) -> None:
    """Write RUN_DIR/report/index.html: one self-contained page (opens offline) of charts and tables over the run's stats."""
    started = time.perf_counter()
    try:
        path = build_report(run_dir, compare)
    except (FileNotFoundError, ValueError) as error:
        raise _fail(error) from None
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f}s")
    typer.echo(path)


@app.command()
def stats(run_dir: RunDir, compare: Compare = None,
          top: Annotated[int, typer.Option(help="How many characters top_characters.parquet lists.", min=1)] = 50) -> None:
    """(Re)compute RUN_DIR/stats/*.parquet from the run's corpus, rejects and manifest (see docs/dashboard.md)."""
    started = time.perf_counter()
    try:
        shards = write_stats(run_dir, compute_stats(run_dir, compare, top=top))
    except (FileNotFoundError, ValueError) as error:
        raise _fail(error) from None
    for shard in shards:
        console.print(f"  {shard.path}: {shard.rows:,} rows")
    console.print(f"wrote {len(shards)} stats tables under {run_dir / 'stats'} in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    app()
