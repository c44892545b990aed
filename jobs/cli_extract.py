"""`chardial extract`: dialogue sessions from novels and scripts, without a pipeline file.

Writes OUT/corpus/part-00000.parquet (dialogues), OUT/quotes/part-00000.parquet (every quote with its
speaker, method and confidence) and OUT/rejects/part-00000.parquet (files or lines that could not be
used, each naming file and line), with the Arrow schemas of `schemas/`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import Progress

from operators.base import RunContext
from operators.columns import DIALOGUE_COLUMNS, INPUT_FILE, INPUT_LINE, RAW, REJECT_DETAIL, REJECT_OPERATOR, REJECT_REASON
from schemas.extraction import QUOTES_SCHEMA
from schemas.tables import DIALOGUE_SCHEMA, REJECT_SCHEMA

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


def _write(out: Path, reader: Any, files: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(message)s", handlers=[RichHandler(console=console, show_path=False)], force=True)
    dialogues: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    quotes: list[pa.Table] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("extracting", total=len(files))
        for path in files:
            rows, table, _ = reader.extract_file(path)
            for row in rows:
                (rejects if row.get(REJECT_REASON) else dialogues).append(row)
            if table is not None:
                quotes.append(table)
            progress.advance(task)
    for folder in ("corpus", "quotes", "rejects"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    corpus = pa.Table.from_pylist([{k: row.get(k) for k in DIALOGUE_COLUMNS} for row in dialogues], schema=DIALOGUE_SCHEMA)
    pq.write_table(corpus, out / "corpus" / "part-00000.parquet", compression="zstd")
    quote_table = pa.concat_tables(quotes) if quotes else QUOTES_SCHEMA.empty_table()
    pq.write_table(quote_table, out / "quotes" / "part-00000.parquet", compression="zstd")
    reject_rows = [
        {
            "operator": row[REJECT_OPERATOR],
            "reason": row[REJECT_REASON],
            "detail": row[REJECT_DETAIL],
            "input_file": row[INPUT_FILE],
            "input_line": row[INPUT_LINE],
            "dialogue_id": None,
            "duplicate_of": None,
            "record": row.get(RAW) or "",
            "pipeline_run_id": None,
        }
        for row in rejects
    ]
    pq.write_table(pa.Table.from_pylist(reject_rows, schema=REJECT_SCHEMA), out / "rejects" / "part-00000.parquet", compression="zstd")
    attributed = sum(1 for s in quote_table.column("speaker").to_pylist() if s) if quote_table.num_rows else 0
    console.print(
        f"{len(files)} file(s): {quote_table.num_rows} quotes ({attributed} attributed), "
        f"{corpus.num_rows} dialogue sessions, {len(reject_rows)} rejects -> {out}"
    )
    for row in reject_rows[:10]:
        console.print(f"[yellow]reject[/] {row['reason']}: {row['detail']}")


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
    _write(out, NovelReader(config, RunContext()), files)


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
    _write(out, ScriptReader(config, RunContext()), files)


if __name__ == "__main__":
    app()
