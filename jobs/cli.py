"""`chardial`: run, submit, validate and inspect pipelines; export schemas."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from jobs import curate as curate_job
from jobs.cli_dedup import dedup as dedup_command
from jobs.cli_extract import app as extract_app
from jobs.cli_formats import FormatName
from jobs.cli_formats import export as export_format
from jobs.cli_formats import import_ as import_format
from jobs.cli_quality import app as quality_app
from jobs.cli_report import app as report_app
from jobs.cli_synthesis import app as synthesis_app
from jobs.cli_train import export_app, train_app

app = typer.Typer(help="CharacterDial: character role-play corpora on Ray.", no_args_is_help=True, add_completion=False)
schema_app = typer.Typer(help="Record schemas: JSON Schema export and reference docs.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(report_app)
app.command("import", no_args_is_help=True)(import_format)
app.add_typer(export_app, name="export")
app.add_typer(train_app, name="train")
app.add_typer(synthesis_app, name="synth")
app.add_typer(extract_app, name="extract")
app.add_typer(quality_app, name="quality")
app.command("dedup", no_args_is_help=True)(dedup_command)
console = Console()
err = Console(stderr=True)


def _format_exporter(fmt: FormatName):  # noqa: ANN202 - a typer command
    def command(
        corpus: Path = typer.Argument(..., help="A corpus folder (with corpus/*.parquet), or Parquet files of dialogues."),
        out: Path = typer.Option(..., "--out", "-o", help="Output file (JSONL formats) or folder (card, sillytavern)."),
        png: bool = typer.Option(False, help="card only: write PNG cards (chara/ccv3 chunk) instead of JSON."),
    ) -> None:
        export_format(fmt, corpus, out, png)

    command.__doc__ = f"Dialogues of a corpus -> {fmt.value} (fields only that format carries are restored from meta)."
    return command


# `chardial export FORMAT CORPUS --out PATH`: training formats (sft, dpo) and every community format in one group.
for _format in FormatName:
    export_app.command(_format.value, no_args_is_help=True)(_format_exporter(_format))


@app.command()
def run(
    pipeline: Path = typer.Argument(..., help="Pipeline YAML file."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder to publish the run into."),
    overwrite: bool = typer.Option(False, help="Replace a previously published run in OUTPUT."),
    executor: str = typer.Option("ray", help="ray (embedded local Ray unless RAY_ADDRESS is set) or inprocess."),
    num_cpus: int | None = typer.Option(None, help="CPUs for an embedded local Ray (default: all)."),
    report: bool = typer.Option(True, help="Write the HTML dashboard report/index.html with the run."),
) -> None:
    """Run a pipeline locally (embedded Ray) and publish corpus, rejects, stats, report and manifest."""
    curate_job.main(pipeline, output, overwrite, executor, num_cpus, report)


@app.command()
def submit(
    pipeline: str = typer.Argument(..., help="Pipeline YAML, relative to the working dir."),
    address: str = typer.Option(os.environ.get("RAY_API_SERVER_ADDRESS", "http://127.0.0.1:8265"), help="Ray dashboard address of the cluster head."),
    output: str = typer.Option(..., "--output", "-o", help="Output folder on the cluster (shared storage on multi-node clusters)."),
    working_dir: Path = typer.Option(Path("."), help="Folder uploaded as the job's working dir (the project checkout)."),
    overwrite: bool = typer.Option(False, help="Replace a previously published run in OUTPUT."),
    env: list[str] = typer.Option([], help="KEY=VALUE environment variables for the job (repeatable)."),
    submission_id: str | None = typer.Option(None, help="Job id to use (default: generated)."),
    wait: bool = typer.Option(True, help="Stream the logs and exit with the job's status."),
) -> None:
    """Submit a pipeline to a Ray cluster as a Ray job; streams its logs, exits with its status."""
    from jobs.submit import submit as submit_job

    variables = dict(item.split("=", 1) for item in env)
    job_id, status = submit_job(pipeline, output, address, working_dir, overwrite=overwrite, env=variables, submission_id=submission_id, wait=wait)
    err.print(f"job {job_id}: {status}")
    if wait and status != "SUCCEEDED":
        raise typer.Exit(1)


@app.command()
def validate(pipeline: Path = typer.Argument(..., help="Pipeline YAML file.")) -> None:
    """Validate a pipeline without running it: operators, settings, files, column chain."""
    from pipelines.spec import PipelineError, load_pipeline

    try:
        spec = load_pipeline(pipeline)
    except PipelineError as error:
        err.print(f"[red]invalid pipeline[/]\n{error}")
        raise typer.Exit(2) from None
    console.print(f"[green]valid[/]: {spec.name} ({spec.hash()[:12]})")
    for step in spec.sources:
        console.print(f"  source {step.op}: {len(spec.inputs.get(step.index, []))} file(s)")
    for reason in sorted({s["reason"] for s in spec.skipped}):
        console.print(f"  [yellow]skipped[/] {', '.join(s['op'] for s in spec.skipped if s['reason'] == reason)}: {reason}")
    for step in spec.operators:
        console.print(f"  {step.op} [dim]{step.config.model_dump(exclude_defaults=True) or ''}[/]")


@app.command()
def inspect(output: Path = typer.Argument(..., help="A published run folder.")) -> None:
    """Summarise a published run: manifest, ledger per operator, composition."""
    import polars as pl

    from schemas.run import RunManifest

    path = output / "manifest.json"
    if not path.exists():
        err.print(f"[red]{output}: no manifest.json: not a published run[/]")
        raise typer.Exit(2)
    manifest = RunManifest.model_validate_json(path.read_text(encoding="utf-8"))
    console.print(f"run {manifest.run_id}  pipeline {manifest.pipeline_name} ({manifest.pipeline_hash[:12]})  code {manifest.code_version}  schema {manifest.schema_version}")
    console.print(f"started {manifest.started_at}  took {manifest.timings_s.get('total', 0):.1f}s  ray {manifest.ray.get('nodes', '-')} node(s)")
    ledger = Table(title=f"ledger: input {manifest.ledger.input} = output {manifest.ledger.output} + rejected {manifest.ledger.rejected}")
    for column in ("step", "operator", "in", "out", "rejected", "reasons"):
        ledger.add_column(column)
    for op in manifest.ledger.operators:
        ledger.add_row(str(op.step), op.operator, str(op.input), str(op.output), str(op.rejected), ", ".join(f"{k}={v}" for k, v in op.by_reason.items()))
    console.print(ledger)
    stats = output / "stats" / "composition.parquet"
    if stats.exists():
        frame = pl.read_parquet(stats).drop("pipeline_run_id")
        table = Table(title="composition")
        for column in frame.columns:
            table.add_column(column)
        for row in frame.iter_rows():
            table.add_row(*("" if v is None else str(v) for v in row))
        console.print(table)


@app.command()
def operators() -> None:
    """List the registered operators and what they do."""
    from operators.registry import all_operators

    for name, cls in all_operators().items():
        console.print(f"[bold]{name}[/]  {cls.summary}")


@app.command()
def loadgen(
    out: Path = typer.Argument(..., help="JSONL file to write."),
    count: int = typer.Option(100_000, help="Lines to write."),
    seed: int = typer.Option(0, help="Random seed (same seed, same file)."),
    duplicate_rate: float = typer.Option(0.02, help="Share of lines that repeat an earlier line exactly."),
    bad_rate: float = typer.Option(0.01, help="Share of truncated (invalid JSON) lines."),
) -> None:
    """Generate realistic native dialogue JSONL for load tests and benchmarks."""
    from jobs.loadgen import generate

    made = generate(out, count, seed=seed, duplicate_rate=duplicate_rate, bad_rate=bad_rate)
    console.print(f"wrote {out}: {made}")


@schema_app.command("export")
def schema_export(directory: Path = typer.Argument(..., help="Folder to write <table>.schema.json files into.")) -> None:
    """Write JSON Schema for every table (dialogue, profiles, pairs, rejects, stats, manifest, input)."""
    from schemas import export_json_schemas

    for path in export_json_schemas(directory):
        console.print(str(path))


@schema_app.command("docs")
def schema_docs(out: Path | None = typer.Option(None, help="Write here instead of printing (e.g. docs/schemas.md).")) -> None:
    """Render the field reference (docs/schemas.md) from the schema models."""
    from schemas.reference import render_reference

    text = render_reference()
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"wrote {out}")


@schema_app.command("show")
def schema_show(table: str = typer.Argument(..., help="Table name, e.g. dialogue.")) -> None:
    """Print a table's Arrow schema."""
    from schemas import TABLES

    if table not in TABLES:
        err.print(f"[red]unknown table {table!r}; known: {', '.join(TABLES)}[/]")
        raise typer.Exit(2)
    console.print(str(TABLES[table].schema) if TABLES[table].parquet else json.dumps(TABLES[table].model.model_json_schema(), indent=2))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
