"""`chardial import` / `chardial export`: human logs and community role-play formats in and out of the corpus.

`import FORMAT PATH --out DIR` reads a file or a folder with the format's Source, redacts PII, applies
consent (opt-outs, pseudonymous author ids), turns HPI rewrites into preference pairs, and writes
DIR/corpus/part-00000.parquet, DIR/rejects/part-00000.parquet, DIR/pairs/ (HPI), DIR/profiles/ (cards) and
DIR/summary.json with the
Arrow schemas of `schemas/`. `export FORMAT CORPUS_DIR --out PATH` writes a corpus back in a format.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.console import Console

from jobs.curate import run_spec
from operators.ingest.base import FORMATS, dialogue_dicts, input_files
from operators.privacy.consent import Consent, ConsentConfig
from operators.registry import all_operators

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
    executor: Annotated[str, typer.Option(help="inprocess (default: no cluster needed) or ray (embedded local Ray unless RAY_ADDRESS is set).")] = "inprocess",
) -> None:
    """Import FORMAT records from PATH into a published run folder: corpus, rejects, pairs, manifest with ledger."""
    spec = FORMATS[fmt.value]
    settings: dict[str, Any] = {"paths": [str(path.resolve())], "scenario": scenario, "same_side": same_side, "max_chars_per_turn": max_chars_per_turn, **_options(option or [])}
    for key, value in (("category", category), ("language", language), ("character_name", character_name)):
        if value is not None:
            settings[key] = value
    try:
        files = input_files(str(path), spec.reader.suffixes)
    except FileNotFoundError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    if not files:
        console.print(f"[red]error:[/red] {path}: no {'/'.join(spec.reader.suffixes)} files for format {fmt.value}")
        raise typer.Exit(2)
    pseudonyms = fmt.value in HUMAN_LOGS if pseudonymize is None else pseudonymize
    steps: list[dict[str, Any]] = [{"op": "normalize.text"}]
    if redact_pii:
        steps.append({"op": "privacy.pii"})
    if opt_out is not None or pseudonyms:
        consent = {"op": "privacy.consent", "opt_out_file": str(opt_out.resolve()) if opt_out else None, "pseudonymize": pseudonyms}
        try:  # fail before any data moves: a missing salt or a bad opt-out file
            Consent(ConsentConfig(**{k: v for k, v in consent.items() if k != "op"})).setup()
        except (RuntimeError, ValueError, OSError) as error:
            console.print(f"[red]error:[/red] {error}")
            raise typer.Exit(2) from None
        steps.append(consent)
    steps.append({"op": "preference.hpi_rewrite"})
    data = {
        "name": f"import-{fmt.value}",
        "sources": [{"op": spec.reader.name, **settings}],
        "operators": steps,
        "execution": {"rows_per_block": block_rows},
    }
    manifest = run_spec(data, f"chardial import {fmt.value}", out, executor=executor, overwrite=overwrite, console=console)
    ledger = manifest.ledger
    reasons = ", ".join(f"{reason} {count}" for op in ledger.operators for reason, count in op.by_reason.items())
    side = ", ".join(f"{sum(s.rows for s in shards)} {table}" for table, shards in manifest.shards.items() if table not in ("corpus", "rejects", "stats"))
    console.print(
        f"{ledger.input} records: [green]{ledger.output} dialogues[/green], {ledger.rejected} rejected"
        f"{f' ({reasons})' if reasons else ''}{f', {side}' if side else ''} -> {out}"
    )


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
