"""The curation job: `python -m jobs.curate PIPELINE --output DIR`.

With no RAY_ADDRESS it starts an embedded local Ray; under `ray job submit` (or `chardial submit`) the
same command attaches to the cluster it runs on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from pipelines.execute import run_pipeline
from pipelines.publish import LedgerError, PublishError
from pipelines.spec import PipelineError, load_pipeline, pipeline_from_dict
from schemas.run import RunManifest

console = Console(stderr=True)


def curate(pipeline: Path, output: Path, *, overwrite: bool = False, executor: str = "ray", num_cpus: int | None = None, report: bool = True) -> RunManifest:
    """Validate, run and publish one pipeline; raises on any failure (nothing is published then)."""
    spec = load_pipeline(pipeline)
    init = {"num_cpus": num_cpus} if num_cpus else {}
    log = lambda m: console.print(f"[dim]{m}[/]")  # noqa: E731
    return run_pipeline(spec, output, executor=executor, overwrite=overwrite, log=log, ray_init=init, report=report)  # type: ignore[arg-type]


def run_spec(data: dict[str, Any], origin: str, out: Path, *, executor: str, overwrite: bool, console: Console) -> RunManifest:
    """Validate and run a pipeline a command built (`chardial import`, `extract`, `dedup`), logging to
    `console`; a bad spec or a failed publication is one error line and exit status 2."""
    try:
        pipeline = pipeline_from_dict(data, origin, Path.cwd())
        return run_pipeline(pipeline, out, executor=executor, overwrite=overwrite, log=lambda m: console.print(f"[dim]{m}[/]"), report=False)  # type: ignore[arg-type]
    except (PipelineError, PublishError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None


def print_summary(manifest: RunManifest, output: Path) -> None:
    ledger = manifest.ledger
    out = Path(output).resolve()
    console.print(f"[green]published[/] run {manifest.run_id} ({manifest.pipeline_name}) in {manifest.timings_s.get('total', 0):.1f}s")
    console.print(f"  ledger: input {ledger.input} = output {ledger.output} + rejected {ledger.rejected}")
    for name, shards in manifest.shards.items():
        rows = sum(s.rows for s in shards)
        console.print(f"  {name + '/':<10} {out / name}  ({len(shards)} file(s), {rows} row(s))")
    if (out / "report" / "index.html").exists():
        console.print(f"  {'report':<10} {out / 'report' / 'index.html'}")
    console.print(f"  {'manifest':<10} {out / 'manifest.json'}")


def main(
    pipeline: Path = typer.Argument(..., help="Pipeline YAML file."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder to publish the run into (corpus/, rejects/, stats/, manifest.json)."),
    overwrite: bool = typer.Option(False, help="Replace a previously published run in OUTPUT."),
    executor: str = typer.Option("ray", help="ray (Ray Data; embedded local Ray unless RAY_ADDRESS is set) or inprocess."),
    num_cpus: int | None = typer.Option(None, help="CPUs for an embedded local Ray (default: all)."),
    report: bool = typer.Option(True, help="Write the HTML dashboard report/index.html with the run."),
) -> None:
    """Run a pipeline and publish its corpus atomically."""
    if executor not in ("ray", "inprocess"):
        raise typer.BadParameter("executor must be 'ray' or 'inprocess'")
    try:
        manifest = curate(pipeline, output, overwrite=overwrite, executor=executor, num_cpus=num_cpus, report=report)
    except PipelineError as error:
        console.print(f"[red]invalid pipeline[/]\n{error}")
        raise typer.Exit(2) from None
    except PublishError as error:
        console.print(f"[red]cannot publish:[/] {error}")
        raise typer.Exit(2) from None
    except LedgerError as error:
        console.print(f"[red]run failed, nothing published:[/] {error}")
        raise typer.Exit(1) from None
    print_summary(manifest, output)


def entrypoint() -> None:
    os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "0" if sys.stderr.isatty() else "1")
    typer.run(main)


if __name__ == "__main__":
    entrypoint()
