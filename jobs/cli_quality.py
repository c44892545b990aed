"""`chardial quality`: train and evaluate the fast quality classifier on labelled dialogues."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(name="quality", help="Train and evaluate the fast quality classifier (quality.classifier).", no_args_is_help=True)
console = Console()
err = Console(stderr=True, soft_wrap=True)


def _agreement_table(title: str, metrics: dict[str, dict], baseline: bool) -> Table:
    table = Table(title=title)
    for column in ("dimension", "n", "spearman", "within ±1", "exact", "MAE") + (("baseline within ±1", "baseline exact", "baseline MAE") if baseline else ()):
        table.add_column(column)
    for dimension, values in metrics.items():
        model = values.get("model", values)
        row = [dimension, str(model["n"]), "-" if model["spearman"] is None else f"{model['spearman']:.3f}", f"{model['within_1']:.3f}", f"{model['exact']:.3f}", f"{model['mae']:.3f}"]
        if baseline:
            base = values["majority_baseline"]
            row += [f"{base['within_1']:.3f}", f"{base['exact']:.3f}", f"{base['mae']:.3f}"]
        table.add_row(*row)
    return table


@app.command("train")
def train_command(
    labels: list[Path] = typer.Argument(..., help="Labelled dialogues: run folders (their corpus/), dialogue Parquet files or folders."),
    out: Path = typer.Option(..., "--out", "-o", help="Model folder to write (model.json + weights.joblib)."),
    alpha: float = typer.Option(1.0, help="Ridge regularisation strength."),
    test_fraction: float = typer.Option(0.2, help="Share of characters held out for the reported agreement."),
    seed: int = typer.Option(0, help="Salt of the held-out split."),
    min_labels: int = typer.Option(20, help="Dimensions with fewer training labels are not modelled."),
    dimension: list[str] = typer.Option([], "--dimension", help="Model only these dimensions (repeatable); default: every labelled one."),
    include_user_turns: bool = typer.Option(False, help="Also hash the user's turns, not only the character's."),
) -> None:
    """Train on dialogues whose `quality` holds labels (human HPI ratings or judge scores); report held-out agreement."""
    from operators.quality.features import FeatureSettings
    from operators.quality.labels import read_labels
    from operators.quality.model import DIMENSIONS, ModelError, TrainSettings, train

    unknown = set(dimension) - set(DIMENSIONS)
    if unknown:
        raise typer.BadParameter(f"unknown {sorted(unknown)}; known: {list(DIMENSIONS)}", param_hint="--dimension")
    try:
        settings = TrainSettings(
            alpha=alpha, test_fraction=test_fraction, seed=seed, min_labels=min_labels,
            dimensions=tuple(dimension) or DIMENSIONS, features=FeatureSettings(include_user_turns=include_user_turns),
        )
        with console.status("reading labels"):
            table, files = read_labels(labels)
        console.print(f"{table.num_rows} labelled dialogue(s) from {len(files)} file(s)")
        with console.status(f"training on {table.num_rows} dialogues"):
            model = train(table, settings, sources=[str(p) for p in labels])
    except (ModelError, ValueError) as error:
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from None
    model.save(out)
    info = model.info
    console.print(_agreement_table(f"held-out agreement ({info['held_out']['dialogues']} dialogues, split by {info['held_out']['unit']})", info["metrics"], True))
    for name, why in info["skipped_dimensions"].items():
        console.print(f"[dim]not modelled: {name}: {why}[/]")
    console.print(f"[green]wrote[/] {out} version {model.version} (training data {info['training_data']['hash'][:12]})")


@app.command("eval")
def eval_command(
    model_dir: Path = typer.Argument(..., help="Model folder from `chardial quality train`."),
    labels: list[Path] = typer.Argument(..., help="Labelled dialogues to score against: run folders, Parquet files or folders."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the agreement as JSON here."),
) -> None:
    """Score labelled dialogues with a model and report agreement per dimension (Spearman, within ±1, exact, MAE)."""
    from operators.quality.labels import read_labels
    from operators.quality.model import ModelError, load_model

    try:
        model = load_model(model_dir)
        table, files = read_labels(labels)
    except ModelError as error:
        err.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from None
    with console.status(f"scoring {table.num_rows} dialogues"):
        report = model.evaluate(table)
    if not report:
        err.print(f"[red]error:[/] none of {len(files)} file(s) has labels for the model's dimensions {model.info['dimensions']}")
        raise typer.Exit(2)
    console.print(_agreement_table(f"{model.version} on {table.num_rows} labelled dialogue(s)", report, False))
    if json_out is not None:
        json_out.write_text(json.dumps({"model": model.version, "files": files, "agreement": report}, indent=2) + "\n", encoding="utf-8")
