"""`chardial synth ...`: check an LLM endpoint, list prompt templates, and report a run's LLM usage."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="LLM synthesis helpers: endpoint check, prompt templates, token usage and cost.", no_args_is_help=True)
console = Console()


@app.command()
def ping(
    model: Annotated[str, typer.Option(help="Model name as the endpoint knows it.")],
    base_url: Annotated[str | None, typer.Option(help="Endpoint URL (default: $CHARDIAL_LLM_BASE_URL, then $OPENAI_BASE_URL).")] = None,
    timeout_s: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 30.0,
) -> None:
    """Send one tiny chat request (not cached) and print latency and token counts; the API key is never printed."""
    from operators.synthesis.client import EndpointConfigError, EndpointUnavailable, LLMClient, LLMConfig, RequestRejected

    config = LLMConfig(model=model, base_url=base_url, cache=None, max_attempts=1, timeout_s=timeout_s, max_tokens=16, structured_output="none")
    try:
        client = LLMClient(config)
    except EndpointConfigError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None

    async def once():  # type: ignore[no-untyped-def]
        try:
            return await client.complete([{"role": "user", "content": "Reply with the word: ok"}], seed=0, template_version="ping")
        finally:
            await client.aclose()

    started = time.perf_counter()
    try:
        completion = asyncio.run(once())
    except (EndpointConfigError, EndpointUnavailable, RequestRejected) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from None
    console.print(f"{client.base_url} model={model} latency={time.perf_counter() - started:.2f}s "
                  f"prompt_tokens={completion.prompt_tokens} completion_tokens={completion.completion_tokens} answer={completion.text!r}")


@app.command()
def templates(template_dir: Annotated[Path | None, typer.Option(help="Your own templates folder, searched before the built-in one.")] = None) -> None:
    """List the prompt templates and the version string each writes into source_ref."""
    from operators.synthesis.prompts import BUILTIN, PromptLibrary

    library = PromptLibrary(str(template_dir) if template_dir else None)
    table = Table("template", "language", "version (in source_ref)")
    names = sorted({p.name for folder in filter(None, [template_dir, BUILTIN]) for p in Path(folder).glob("*.jinja")})
    for filename in names:
        name, _, language = filename.removesuffix(".jinja").rpartition(".")
        table.add_row(name, language, library.version(name, language))
    console.print(table)


@app.command()
def usage(
    output: Annotated[Path, typer.Argument(help="A run's output folder (reads OUTPUT/llm_usage/*.parquet).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Requests, cache hits, tokens and estimated cost per synthesis step of a run."""
    import pyarrow.parquet as pq

    from operators.synthesis.usage import summarize

    folder = output / "llm_usage"
    if not folder.is_dir():
        console.print(f"[red]{folder}: no llm_usage table (the run made no LLM request, or is not a synthesis run)[/red]")
        raise typer.Exit(1)
    rows = summarize(pq.read_table(folder))
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table("operator", "model", "requests", "cache hits", "failed", "prompt tokens", "completion tokens", "cost (USD)")
    for row in rows:
        cost = "-" if row["cost_usd"] is None else f"{row['cost_usd']:.4f}"
        table.add_row(row["operator"], row["model"], str(row["requests"]), str(row["cache_hits"]), str(row["failed_requests"]),
                      str(row["prompt_tokens"]), str(row["completion_tokens"]), cost)
    console.print(table)
