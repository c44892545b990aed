"""`chardial recipe`: run a recipe (e.g. pipelines/characterdial.yaml) with the steps this environment can run."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from pipelines.spec import PipelineError

if TYPE_CHECKING:
    from jobs.recipe import Recipe

app = typer.Typer(name="recipe", help="Run a full recipe, leaving out (and naming) the steps that need an LLM endpoint when none is configured.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)


def _plan(pipeline: Path) -> Recipe:
    from jobs.recipe import plan_recipe  # lazily: --help stays fast

    try:
        recipe = plan_recipe(pipeline)
    except PipelineError as error:
        console.print(f"[red]invalid pipeline[/]\n{error}")
        raise typer.Exit(2) from None
    for line in recipe.skipped:
        console.print(f"[yellow]skipped[/] {line}")
    for line in recipe.notes:
        console.print(f"[yellow]note[/] {line}")
    return recipe


@app.command("plan")
def plan_command(pipeline: Path = typer.Argument(Path("pipelines/characterdial.yaml"), help="Recipe YAML file.")) -> None:
    """Show which steps would run and which are skipped (no LLM endpoint, no trained model), without running."""
    recipe = _plan(pipeline)
    for step in recipe.pipeline.sources:
        console.print(f"  source {step.op}: {len(recipe.pipeline.inputs.get(step.index, []))} file(s)")
    for step in recipe.pipeline.operators:
        console.print(f"  {step.op}")


@app.command("run")
def run_command(
    pipeline: Path = typer.Argument(Path("pipelines/characterdial.yaml"), help="Recipe YAML file."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder to publish the run into."),
    overwrite: bool = typer.Option(False, help="Replace a previously published run in OUTPUT."),
    executor: str = typer.Option("ray", help="ray (embedded local Ray unless RAY_ADDRESS is set) or inprocess."),
    num_cpus: int | None = typer.Option(None, help="CPUs for an embedded local Ray (default: all)."),
    report: bool = typer.Option(True, help="Write the HTML dashboard report with the run."),
) -> None:
    """Run every step the environment allows and publish the corpus, pairs, mix report and manifest."""
    from jobs.curate import print_summary
    from pipelines.execute import run_pipeline
    from pipelines.publish import LedgerError, PublishError

    if executor not in ("ray", "inprocess"):
        raise typer.BadParameter("executor must be 'ray' or 'inprocess'", param_hint="--executor")
    recipe = _plan(pipeline)
    log = lambda m: console.print(f"[dim]{m}[/]")  # noqa: E731
    try:
        manifest = run_pipeline(recipe.pipeline, output, executor=executor, overwrite=overwrite, log=log, ray_init={"num_cpus": num_cpus} if num_cpus else {}, report=report)  # type: ignore[arg-type]
    except (LedgerError, PublishError, RuntimeError) as error:
        console.print(f"[red]run failed:[/] {error}")
        raise typer.Exit(1) from None
    print_summary(manifest, output)
    if recipe.skipped:
        console.print(f"[yellow]{len(recipe.skipped)} step(s) skipped[/]: configure an LLM endpoint ($CHARDIAL_LLM_BASE_URL) to run them")
