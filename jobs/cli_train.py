"""CLI: `export sft|dpo` (training files from a corpus) and `train sft|dpo` (Ray Train jobs).

The lead wires `export_app` and `train_app` into `chardial` as `chardial export …` and `chardial train …`;
`app` holds both for running this module on its own.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jobs.export_train import DEFAULT_TEMPLATE, ExportReport, export_dpo, export_sft

console = Console(stderr=True, soft_wrap=True)  # soft wrap: error lines stay whole, greppable

export_app = typer.Typer(help="Export a corpus: training files (sft, dpo) or a human-log / community format.", no_args_is_help=True)
train_app = typer.Typer(help="Train on an export with Ray Train + TRL: SFT, then DPO from the SFT run.", no_args_is_help=True)
app = typer.Typer(help="CharacterDial training: exports and Ray Train jobs.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(train_app, name="train")

CorpusDir = Annotated[Path, typer.Argument(help="A pipeline output folder (holds corpus/*.parquet and pairs/*.parquet).")]
OutDir = Annotated[Path, typer.Option("--out", "-o", help="Folder to write <split>.parquet, skipped.parquet and export.json into.")]
TemplateOpt = Annotated[str, typer.Option(help="System prompt template version: jobs/templates/system_prompt/<version>.<lang>.jinja.")]
TemplateDirOpt = Annotated[Path | None, typer.Option(help="A folder of your own <version>.<lang>.jinja templates.")]
UnassignedOpt = Annotated[
    str, typer.Option(help="Rows without a split: 'train' (put them in train), 'skip' (to skipped.parquet) or 'error'.")
]
OverwriteOpt = Annotated[bool, typer.Option(help="Replace --out if it exists.")]


def _print_report(report: ExportReport) -> None:
    table = Table(title=f"{report.kind} export → {report.out_dir}")
    table.add_column("split")
    table.add_column("rows", justify="right")
    for split, rows in report.rows.items():
        table.add_row(split, str(rows))
    for reason, rows in report.skipped.items():
        table.add_row(f"[yellow]skipped: {reason}[/]", str(rows))
    console.print(table)
    if report.unassigned_rows:
        console.print(f"[yellow]{report.unassigned_rows} rows had no split (--unassigned {report.unassigned})[/]")


def _export(kind: str, corpus_dir: Path, out: Path, template: str, template_dir: Path | None, unassigned: str, overwrite: bool) -> None:
    if unassigned not in ("train", "skip", "error"):
        raise typer.BadParameter("--unassigned must be train, skip or error")
    function = export_sft if kind == "sft" else export_dpo
    try:
        with console.status(f"exporting {corpus_dir}") as status:
            report = function(
                corpus_dir,
                out,
                template=template,
                template_dir=template_dir,
                unassigned=unassigned,  # type: ignore[arg-type]
                overwrite=overwrite,
                on_file=lambda name: status.update(f"exporting {name}"),
            )
    except ValueError as error:  # ExportError and row validation errors name file and row
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from None
    _print_report(report)


@export_app.command("sft")
def export_sft_command(
    corpus_dir: CorpusDir,
    out: OutDir,
    template: TemplateOpt = DEFAULT_TEMPLATE,
    template_dir: TemplateDirOpt = None,
    unassigned: UnassignedOpt = "train",
    overwrite: OverwriteOpt = False,
) -> None:
    """Dialogues → `messages` (system, user, assistant) per split, for TRL's SFTTrainer or any OpenAI-format trainer."""
    _export("sft", corpus_dir, out, template, template_dir, unassigned, overwrite)


@export_app.command("dpo")
def export_dpo_command(
    corpus_dir: CorpusDir,
    out: OutDir,
    template: TemplateOpt = DEFAULT_TEMPLATE,
    template_dir: TemplateDirOpt = None,
    unassigned: UnassignedOpt = "train",
    overwrite: OverwriteOpt = False,
) -> None:
    """Preference pairs → `prompt`/`chosen`/`rejected` conversations per split, for TRL's DPOTrainer."""
    _export("dpo", corpus_dir, out, template, template_dir, unassigned, overwrite)


ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Training config YAML (see jobs/configs/).", exists=True, dir_okay=False)]
DataOpt = Annotated[str, typer.Option("--data", "-d", help="An export folder (local path or fsspec URI) from `export sft|dpo`.")]
OutputOpt = Annotated[
    str, typer.Option("--output", "-o", help="Run folder (local path or URI, e.g. s3://bucket/runs/sft-1); the same folder again resumes.")
]
InitOpt = Annotated[
    str | None, typer.Option(help="Start from this run folder's latest checkpoint (DPO: the SFT run), or a model path / hub id.")
]
AddressOpt = Annotated[str | None, typer.Option(help="Ray cluster address (default: RAY_ADDRESS, else a local Ray).")]
SubmitOpt = Annotated[
    str | None,
    typer.Option(
        help="Submit as a Ray Job to this cluster (its dashboard, e.g. http://HEAD:8265) instead of running here; "
        "the repository travels as the job's working_dir, so --data and --output must be reachable from the cluster."
    ),
]
FollowOpt = Annotated[bool, typer.Option(help="With --submit: stream the job's logs until it ends, and exit with its status.")]
REPOSITORY = Path(__file__).resolve().parents[1]


def _submit(kind: str, config_path: Path, data: str, output: str, init_from: str | None, address: str, follow: bool) -> None:
    """Run `python -m jobs.train …` as a Ray Job with this repository as its working_dir."""
    from ray.job_submission import JobStatus, JobSubmissionClient

    try:
        config = config_path.resolve().relative_to(REPOSITORY)
    except ValueError:
        console.print(f"[red]error:[/] {config_path} is outside {REPOSITORY}; the job only sees the repository, so put the config in it")
        raise typer.Exit(2) from None

    def on_cluster(location: str) -> str:
        # The job runs in a temporary copy of the repository: relative paths would land there and vanish.
        return location if "://" in location or os.path.isabs(location) else os.path.abspath(location)

    command = [
        "python",
        "-m",
        "jobs.train",
        kind,
        "--config",
        config.as_posix(),
        "--data",
        on_cluster(data),
        "--output",
        on_cluster(output),
    ]
    if init_from:
        command += ["--init-from", on_cluster(init_from) if os.path.exists(init_from) else init_from]
    entrypoint = shlex.join(command)
    try:
        client = JobSubmissionClient(address)
        job_id = client.submit_job(
            entrypoint=entrypoint,
            runtime_env={"working_dir": str(REPOSITORY), "excludes": [".git", "out", ".venv"]},
            metadata={"characterdial": f"train {kind}"},
        )
    except (ConnectionError, RuntimeError) as error:  # unreachable dashboard, or the cluster refused the job
        console.print(f"[red]error:[/] could not submit to {address}: {error}")
        raise typer.Exit(2) from None
    console.print(f"submitted [bold]{job_id}[/]: {entrypoint}")
    if not follow:
        console.print(f"follow it with: ray job logs --address {address} --follow {job_id}")
        return

    async def stream() -> None:
        async for lines in client.tail_job_logs(job_id):
            sys.stdout.write(lines)

    asyncio.run(stream())
    status = client.get_job_status(job_id)
    if status != JobStatus.SUCCEEDED:
        console.print(f"[red]job {job_id} {status.value.lower()}[/]")
        raise typer.Exit(1)


def _train(
    kind: str, config_path: Path, data: str, output: str, init_from: str | None, address: str | None, submit: str | None, follow: bool
) -> None:
    if submit:
        _submit(kind, config_path, data, output, init_from, submit, follow)
        return
    from jobs.train import TrainJobError, run_training
    from jobs.train_config import load_config

    try:
        config = load_config(config_path, kind)  # type: ignore[arg-type]
        summary = run_training(kind, config, data, output, init_from=init_from, ray_address=address)  # type: ignore[arg-type]
    except (TrainJobError, ValueError) as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from None
    except ImportError as error:
        console.print(f"[red]error:[/] {error}. Install the training extra: pip install 'characterdial[train]'")
        raise typer.Exit(2) from None
    except Exception as error:
        from ray.train import TrainingFailedError

        if not isinstance(error, TrainingFailedError):
            raise
        # Ray's message carries each failed worker's traceback; the run folder keeps what was checkpointed.
        console.print(f"[red]training failed:[/] {error}\nRe-run the same command to resume from the last checkpoint in {output}.")
        raise typer.Exit(1) from None
    table = Table(title=f"{kind} run → {summary.run_dir}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("step", "train_loss", "eval_loss", "train_runtime", "train_samples_per_second", "num_tokens"):
        if key in summary.metrics:
            value = summary.metrics[key]
            table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"checkpoint: {summary.checkpoint}")


@train_app.command("sft")
def train_sft_command(
    config: ConfigOpt,
    data: DataOpt,
    output: OutputOpt,
    init_from: InitOpt = None,
    address: AddressOpt = None,
    submit: SubmitOpt = None,
    follow: FollowOpt = False,
) -> None:
    """Supervised fine-tuning (assistant-only loss) with TRL's SFTTrainer on Ray Train workers."""
    _train("sft", config, data, output, init_from, address, submit, follow)


@train_app.command("dpo")
def train_dpo_command(
    config: ConfigOpt,
    data: DataOpt,
    output: OutputOpt,
    init_from: InitOpt = None,
    address: AddressOpt = None,
    submit: SubmitOpt = None,
    follow: FollowOpt = False,
) -> None:
    """Direct preference optimisation with TRL's DPOTrainer, starting from the SFT run (--init-from)."""
    _train("dpo", config, data, output, init_from, address, submit, follow)


if __name__ == "__main__":
    app()
