"""`chardial extract`: dialogue sessions from novels and scripts, without a pipeline file.

Publishes a run folder like `chardial run` does: OUT/corpus/ (dialogues), OUT/quotes/ (every quote with its
speaker, method and confidence), OUT/rejects/ (files or lines that could not be used, each naming file and
line) and OUT/manifest.json with the ledger.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler

from jobs.curate import run_spec

app = typer.Typer(help="Extract dialogue sessions from novels and scripts (zh, en).", no_args_is_help=True, add_completion=False)
console = Console(stderr=True)


def _files(paths: list[Path], suffixes: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for path in paths:
        if path.is_dir():
            found.extend(str(p) for p in sorted(path.rglob("*")) if p.is_file() and p.suffix.lower() in suffixes)
        elif path.exists():
            found.append(str(path))
        else:
            raise typer.BadParameter(f"{path}: no such file or folder")
    return found


def _publish(out: Path, source: str, config: Any, overwrite: bool, executor: str) -> None:
    """Run the source as a one-step pipeline and publish it like any run: corpus, quotes, rejects, manifest."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)], force=True)
    data = {"name": f"extract-{source.split('.')[-1]}", "sources": [{"op": source, **config.model_dump(mode="json", exclude_defaults=True), "paths": config.paths}]}
    manifest = run_spec(data, f"chardial extract {source}", out, executor=executor, overwrite=overwrite, console=console)
    quotes = sum(s.rows for s in manifest.shards.get("quotes", []))
    ledger = manifest.ledger
    console.print(f"{len(config.paths)} file(s): {quotes} quotes, {ledger.output} dialogue sessions, {ledger.rejected} rejects -> {out}")
    reasons = [f"{reason} {n}" for op in ledger.operators for reason, n in op.by_reason.items()]
    if reasons:
        console.print(f"[yellow]rejects[/]: {', '.join(reasons)} (see {out / 'rejects'})")


@app.command("novel")
def novel(
    paths: Annotated[list[Path], typer.Argument(help="Novel files (.txt in UTF-8 / GB18030 / GBK, or .epub) or folders of them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: corpus/, quotes/, rejects/.")],
    cast: Annotated[Path | None, typer.Option("--cast", help="Cast file: CSV `name,aliases,gender` (aliases `;`-separated) or YAML.")] = None,
    lang: Annotated[str, typer.Option("--lang", help="auto | zh | en.")] = "auto",
    characters: Annotated[list[str] | None, typer.Option("--character", "-c", help="Target character (repeatable); default: everyone with --min-lines quotes.")] = None,
    min_lines: Annotated[int, typer.Option(help="Quotes a character needs to be a default target.")] = 5,
    category: Annotated[str, typer.Option(help="celebrity | daily_life | fictional | other.")] = "fictional",
    work: Annotated[str | None, typer.Option(help="Title of the work (default: the file name).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a previous run published in --out.")] = False,
    executor: Annotated[str, typer.Option(help="inprocess, or ray (one task per book).")] = "inprocess",
) -> None:
    """Quotes, speakers and per-character dialogue sessions from novels."""
    from operators.readers.novel import NovelConfig, NovelReader

    files = _files(paths, (".txt", ".epub"))
    try:
        config = NovelConfig(
            paths=files or ["-"], cast=str(cast) if cast else None, language=lang, characters=characters or [],
            min_lines=min_lines, category=category, work=work,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    _publish(out, NovelReader.name, config, overwrite, executor)


@app.command("script")
def script(
    paths: Annotated[list[Path], typer.Argument(help="Script files or folders of them.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: corpus/, quotes/, rejects/.")],
    format: Annotated[str, typer.Option("--format", help="auto | zh (角色：台词) | fountain | play (Gutenberg-style).")] = "auto",
    cast: Annotated[Path | None, typer.Option("--cast", help="Cast file to resolve abbreviated cues (CSV or YAML).")] = None,
    characters: Annotated[list[str] | None, typer.Option("--character", "-c", help="Target character (repeatable).")] = None,
    min_lines: Annotated[int, typer.Option(help="Lines a character needs to be a default target.")] = 5,
    category: Annotated[str, typer.Option(help="celebrity | daily_life | fictional | other.")] = "fictional",
    work: Annotated[str | None, typer.Option(help="Title of the work (default: the file name).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a previous run published in --out.")] = False,
    executor: Annotated[str, typer.Option(help="inprocess, or ray (one task per script).")] = "inprocess",
) -> None:
    """Per-character dialogue sessions (one per scene) from scripts and plays."""
    from operators.readers.script import ScriptConfig, ScriptReader

    files = _files(paths, (".txt", ".fountain", ".script"))
    try:
        config = ScriptConfig(
            paths=files or ["-"], format=format, cast=str(cast) if cast else None, characters=characters or [],
            min_lines=min_lines, category=category, work=work,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    _publish(out, ScriptReader.name, config, overwrite, executor)


if __name__ == "__main__":
    app()
