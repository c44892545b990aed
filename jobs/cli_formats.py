"""`chardial import` / `chardial export`: human logs and community role-play formats in and out of the corpus.

`import FORMAT PATH --out DIR` reads a file or a folder with the format's Source, redacts PII, applies
consent (opt-outs, pseudonymous author ids), turns HPI rewrites into preference pairs, and writes
DIR/corpus/part-00000.parquet, DIR/rejects/part-00000.parquet, DIR/pairs/ (HPI), DIR/profiles/ (cards) and
DIR/summary.json with the
Arrow schemas of `schemas/`. `export FORMAT CORPUS_DIR --out PATH` writes a corpus back in a format.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from operators.base import RunContext
from operators.columns import DIALOGUE_COLUMNS, INPUT_FILE, INPUT_LINE, RAW, REJECT_DETAIL, REJECT_OPERATOR, REJECT_REASON
from operators.ingest.base import FORMATS, dialogue_dicts, input_files
from operators.preference.hpi_rewrite import HpiRewritePairs
from operators.privacy.consent import Consent, ConsentConfig
from operators.privacy.pii import PiiRedaction
from operators.registry import all_operators
from schemas.tables import DIALOGUE_SCHEMA, REJECT_SCHEMA

all_operators()  # every format module registers itself on import

app = typer.Typer(help="Import human logs and community role-play formats into a corpus, and export a corpus to them.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)  # error lines stay whole for grep and logs
HUMAN_LOGS = ("hrp", "hpi")  # formats whose records carry author ids: pseudonyms are required


class FormatName(StrEnum):
    hrp = "hrp"
    hpi = "hpi"
    card = "card"
    sillytavern = "sillytavern"
    pippa = "pippa"
    sharegpt = "sharegpt"
    openai = "openai"
    characterglm = "characterglm"


def _options(pairs: list[str]) -> dict[str, Any]:
    """`key=value` reader settings; values are parsed as JSON when they can be (numbers, booleans)."""
    settings: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--option")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value
    return settings


def _live(table: pa.Table) -> pa.Array:
    return pc.is_null(table.column(REJECT_REASON))


def _reject_records(table: pa.Table, run_id: str, operator_default: str) -> pa.Table:
    """Reject rows of a working table as the `reject` table: canonical JSON when parsed, else the raw input."""
    rows = []
    parsed = dialogue_dicts(table)
    for row, dialogue in zip(table.select([REJECT_REASON, REJECT_OPERATOR, REJECT_DETAIL, INPUT_FILE, INPUT_LINE, RAW]).to_pylist(), parsed, strict=True):
        record = row[RAW] if dialogue.get("dialogue_id") is None else json.dumps(dialogue, ensure_ascii=False, default=str)
        rows.append(
            {
                "operator": row[REJECT_OPERATOR] or operator_default,
                "reason": row[REJECT_REASON],
                "detail": row[REJECT_DETAIL],
                "input_file": row[INPUT_FILE],
                "input_line": row[INPUT_LINE],
                "dialogue_id": dialogue.get("dialogue_id"),
                "duplicate_of": None,
                "record": record or "",
                "pipeline_run_id": run_id,
            }
        )
    return pa.Table.from_pylist(rows, schema=REJECT_SCHEMA)


def _corpus_part(table: pa.Table, run_id: str) -> pa.Table:
    table = table.select(list(DIALOGUE_COLUMNS))
    table = table.set_column(table.schema.get_field_index("pipeline_run_id"), "pipeline_run_id", pa.array([run_id] * table.num_rows, pa.string()))
    return table.cast(DIALOGUE_SCHEMA)


def _apply(operator: Any, table: pa.Table) -> pa.Table:
    """Run a row-preserving operator on the live rows only, as the pipeline does."""
    live = _live(table)
    if not pc.any(live).as_py():
        return table
    indices = pc.indices_nonzero(live)
    done = operator(table.take(indices))
    dead = table.filter(pc.invert(live))
    return pa.concat_tables([done, dead]) if dead.num_rows else done


@app.command("import", no_args_is_help=True)
def import_(
    fmt: Annotated[FormatName, typer.Argument(metavar="FORMAT", help="Input format.")],
    path: Annotated[Path, typer.Argument(help="A file, or a folder searched recursively for the format's files.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder: corpus/, rejects/, pairs/ (hpi), profiles/ (card) and summary.json are written in it.")],
    category: Annotated[str | None, typer.Option(help="Category of every character (celebrity, daily_life, fictional, other); default: from the format, tags, or the profile.")] = None,
    scenario: Annotated[str, typer.Option(help="Scenario for formats that carry none.")] = "other",
    language: Annotated[str | None, typer.Option(help="Language for formats that carry none; default: detected.")] = None,
    character_name: Annotated[str | None, typer.Option(help="Character name for ShareGPT/OpenAI records that do not name it.")] = None,
    same_side: Annotated[str, typer.Option(help="Two turns in a row by one side: merge or reject.")] = "merge",
    max_chars_per_turn: Annotated[int, typer.Option(help="Longer messages are cut to this length (recorded in meta).")] = 20_000,
    option: Annotated[list[str] | None, typer.Option("--option", help="Further reader setting KEY=VALUE, e.g. turn_text=model_output (hpi), user_name=Anon (card).")] = None,
    redact_pii: Annotated[bool, typer.Option(help="Redact e-mails, phones, ID and card numbers, URLs, IPs and handles.")] = True,
    opt_out: Annotated[Path | None, typer.Option(help="Opt-out file: lines `user:<id>` or `session:<id>`.")] = None,
    pseudonymize: Annotated[bool | None, typer.Option(help="Replace author ids by salted pseudonyms ($CHARDIAL_PSEUDONYM_SALT); default: on for hrp and hpi.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing import in --out.")] = False,
    block_rows: Annotated[int, typer.Option(min=1, help="Records per block.")] = 2_000,
) -> None:
    """Import FORMAT records from PATH into a corpus folder (Parquet), with rejects and preference pairs."""
    spec = FORMATS[fmt.value]
    settings = {"paths": [str(path)], "scenario": scenario, "same_side": same_side, "max_chars_per_turn": max_chars_per_turn, **_options(option or [])}
    for key, value in (("category", category), ("language", language), ("character_name", character_name)):
        if value is not None:
            settings[key] = value
    try:
        config = spec.reader.Config(**settings)
    except ValidationError as error:
        raise typer.BadParameter(str(error)) from None
    try:
        files = input_files(str(path), spec.reader.suffixes)
    except FileNotFoundError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    if not files:
        console.print(f"[red]error:[/red] {path}: no {'/'.join(spec.reader.suffixes)} files for format {fmt.value}")
        raise typer.Exit(2)
    parts = [out / name for name in ("corpus", "rejects", "pairs", "profiles", "summary.json")]
    if any(p.exists() for p in parts):
        if not overwrite:
            console.print(f"[red]error:[/red] {out} already holds an import; pass --overwrite to replace it")
            raise typer.Exit(2)
        for p in parts:
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    pseudonyms = fmt.value in HUMAN_LOGS if pseudonymize is None else pseudonymize
    run_id = "import-" + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    context = RunContext(run_id=run_id, staging_dir=str(out))
    steps: list[Any] = []
    pii = PiiRedaction(context=context) if redact_pii else None
    if pii is not None:
        steps.append(pii)
    if opt_out is not None or pseudonyms:
        consent = Consent(ConsentConfig(opt_out_file=str(opt_out) if opt_out else None, pseudonymize=pseudonyms), context)
        try:
            consent.setup()
        except (RuntimeError, ValueError, OSError) as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from None
        steps.append(consent)
    steps.append(HpiRewritePairs(context=context))
    reader = spec.reader(config, context)
    summary = run_import(reader, files, steps, out, run_id, block_rows)
    summary["pii_redacted"] = dict(pii.totals) if pii is not None else None
    summary.update({"format": fmt.value, "input": str(path), "files": len(files), "run_id": run_id})
    (out / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    reasons = ", ".join(f"{reason} {count}" for reason, count in summary["reject_reasons"].items())
    console.print(
        f"{summary['records']} records: [green]{summary['dialogues']} dialogues[/green], {summary['rejected']} rejected"
        f"{f' ({reasons})' if reasons else ''}, {summary['pairs']} pairs, {summary['profiles']} profiles -> {out}"
    )


def run_import(reader: Any, files: list[str], steps: list[Any], out: Path, run_id: str, block_rows: int) -> dict[str, Any]:
    """Read `files` block by block, run `steps` on the live rows, write corpus and rejects Parquet; returns counts."""
    (out / "corpus").mkdir(parents=True, exist_ok=True)
    (out / "rejects").mkdir(parents=True, exist_ok=True)
    reasons: Counter[str] = Counter()
    counts = {"records": 0, "dialogues": 0, "rejected": 0}
    started = time.perf_counter()
    corpus_writer = pq.ParquetWriter(out / "corpus" / "part-00000.parquet", DIALOGUE_SCHEMA, compression="zstd")
    reject_writer = pq.ParquetWriter(out / "rejects" / "part-00000.parquet", REJECT_SCHEMA, compression="zstd")
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[records]} records"),
                      TimeElapsedColumn(), console=console, transient=True) as progress:
            task = progress.add_task(f"import {reader.format}", total=len(files), records=0)
            for file in files:
                for block in reader.read(file, block_rows):
                    for step in steps:
                        block = _apply(step, block)
                    live = _live(block)
                    kept, dropped = block.filter(live), block.filter(pc.invert(live))
                    if kept.num_rows:
                        corpus_writer.write_table(_corpus_part(kept, run_id))
                    if dropped.num_rows:
                        reject_writer.write_table(_reject_records(dropped, run_id, reader.name))
                        reasons.update(dropped.column(REJECT_REASON).to_pylist())
                    counts["records"] += block.num_rows
                    counts["dialogues"] += kept.num_rows
                    counts["rejected"] += dropped.num_rows
                    progress.update(task, records=counts["records"])
                progress.advance(task)
    finally:
        corpus_writer.close()
        reject_writer.close()
    side = {table: sum(pq.ParquetFile(p).metadata.num_rows for p in (out / table).glob("*.parquet")) for table in ("pairs", "profiles")}
    elapsed = time.perf_counter() - started
    return {**counts, "reject_reasons": dict(sorted(reasons.items())), **side, "seconds": round(elapsed, 3)}


def corpus_dialogues(corpus: Path, batch_rows: int = 2_000) -> Iterator[dict[str, Any]]:
    """The dialogues of a corpus folder (its `corpus/` parts, or Parquet files given directly), streamed."""
    if corpus.is_file():
        files = [corpus]
    else:
        base = corpus / "corpus" if (corpus / "corpus").is_dir() else corpus
        files = sorted(base.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"{corpus}: no corpus Parquet files (expected {corpus}/corpus/*.parquet)")
    for file in files:
        for batch in pq.ParquetFile(file).iter_batches(batch_size=batch_rows):
            yield from dialogue_dicts(pa.Table.from_batches([batch]))


@app.command("export", no_args_is_help=True)
def export(
    fmt: Annotated[FormatName, typer.Argument(metavar="FORMAT", help="Output format.")],
    corpus: Annotated[Path, typer.Argument(help="A corpus folder (with corpus/*.parquet), or Parquet files of dialogues.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (JSONL formats) or folder (card, sillytavern).")],
    png: Annotated[bool, typer.Option(help="card only: write PNG cards (chara/ccv3 chunk) instead of JSON.")] = False,
) -> None:
    """Export the dialogues of CORPUS_DIR in FORMAT; fields the format alone carries are restored from meta."""
    from operators.ingest.card import export_cards

    spec = FORMATS[fmt.value]
    try:
        dialogues = corpus_dialogues(corpus)
        if fmt is FormatName.card:
            written = export_cards(dialogues, str(out), png=png)
        else:
            if png:
                raise typer.BadParameter("--png applies to the card format only", param_hint="--png")
            written = spec.export(dialogues, str(out))
    except FileNotFoundError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    what = "cards" if fmt is FormatName.card else ("chats" if spec.output == "folder" else "records")
    console.print(f"{written} {what} -> {out}")


if __name__ == "__main__":
    app()
