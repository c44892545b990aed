"""The base of the synthesis operators: an async, row-preserving operator that calls an LLM per row.

`__call__` is a coroutine, so Ray Data runs the class as an async callable class: one event loop per
actor, several batches in flight per actor, and requests bounded by the client's semaphore. For an
in-process run (tests, a notebook), `run(batch)` drives the same coroutine on a fresh event loop.
Rows that fail become rejects with the reason, a detail and the raw response in `_raw`; token usage is
written per batch to the `llm_usage` side table.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import yaml
from pydantic import BaseModel, Field

from operators.base import Operator, OperatorConfig, Resources
from operators.columns import RAW, REJECT_DETAIL, REJECT_OPERATOR, REJECT_REASON
from operators.synthesis.checks import Problem
from operators.synthesis.client import LLMClient, LLMConfig
from operators.synthesis.prompts import BUILTIN, PromptLibrary, TemplateNotFound
from operators.synthesis.structured import Outcome, generate_structured
from operators.synthesis.usage import usage_table

RAW_LIMIT = 100_000


@dataclass
class Request:
    """What one row asks the model, built the same way for every backend (openai client, vLLM engine)."""

    messages: list[dict[str, str]]
    seed: int
    version: str
    model: type[BaseModel]
    language: str
    check: Callable[[Any], list[Problem]] | None = None
    context: dict[str, Any] = field(default_factory=dict)


class LLMStepConfig(OperatorConfig):
    llm: LLMConfig = Field(description="The model and endpoint (shared keys: see docs/synthesis.md).")
    template_dir: str | None = Field(None, description="A folder of your own prompt templates, searched before the built-in ones.")
    max_reject_fraction: float | None = Field(
        None, gt=0, le=1,
        description="Stop the job when more than this share of the rows an actor has seen (after 50) were rejected by this step: "
                    "a wrong model or prompt should not burn the budget. Null: never stop.",
    )


class TooManyRejects(RuntimeError):
    """A synthesis step rejected more rows than `max_reject_fraction` allows."""


def meta_of(row: dict[str, Any]) -> dict[str, str]:
    """The row's meta map as a dict (Arrow gives a list of pairs)."""
    meta = row.get("meta") or []
    return dict(meta) if isinstance(meta, list) else dict(meta)


def set_meta(row: dict[str, Any], **values: str) -> None:
    meta = meta_of(row)
    meta.update(values)
    row["meta"] = list(meta.items())


def append_ref(row: dict[str, Any], part: str) -> None:
    """Add one step's provenance (model, template version, cache key) to `source_ref`."""
    row["source_ref"] = f"{row['source_ref']} | {part}" if row.get("source_ref") else part


def load_vocabulary(template_dir: str | None) -> dict[str, Any]:
    """Category and scenario descriptions and generic user roles, per language."""
    for folder in ([Path(template_dir)] if template_dir else []) + [BUILTIN]:
        path = folder / "vocabulary.v1.yaml"
        if path.is_file():
            return yaml.safe_load(path.read_text(encoding="utf-8"))
    raise FileNotFoundError("vocabulary.v1.yaml not found")


class LLMStep(Operator):
    """Shared machinery of the `synthesize.*` operators."""

    Config: ClassVar[type[OperatorConfig]] = LLMStepConfig
    resources: ClassVar[Resources] = Resources(cpus=0.25, compute="actors", actors=2, batch_size=16)

    def __init__(self, config: OperatorConfig | None = None, context: Any = None) -> None:
        super().__init__(config, context)
        self.client: LLMClient | None = None
        self.seen = 0
        self.rejected: dict[str, int] = {}

    def setup(self) -> None:
        c: LLMStepConfig = self.config  # type: ignore[assignment]
        if c.llm.backend == "vllm":
            raise RuntimeError(f"{self.name}: backend vllm runs as a Dataset stage: operators.synthesis.vllm_backend.apply_vllm(ds, ...), not per batch")
        endpoint = hashlib.sha256(f"{c.llm.base_url}|{c.llm.model}".encode()).hexdigest()[:12]
        # one limiter per run and endpoint: every actor of every synthesis step shares the budget
        self.client = LLMClient(c.llm, limiter_name=f"chardial-llm-limit-{self.context.run_id}-{endpoint}")

    @cached_property
    def prompts(self) -> PromptLibrary:
        return PromptLibrary(self.config.template_dir)  # type: ignore[attr-defined]

    @cached_property
    def vocabulary(self) -> dict[str, Any]:
        return load_vocabulary(self.config.template_dir)  # type: ignore[attr-defined]

    @property
    def llm(self) -> LLMConfig:
        return self.config.llm  # type: ignore[attr-defined]

    def feedback(self, language: str) -> Callable[[str, str], str]:
        """The re-ask message for a failed answer, in the dialogue's language."""
        language = language if language in ("zh", "en") else "en"
        return lambda reason, detail: self.prompts.text("feedback.v1", language, reason=reason, detail=detail)

    def reject(self, row: dict[str, Any], reason: str, detail: str | None, raw: str | None) -> None:
        row[REJECT_REASON] = reason
        row[REJECT_OPERATOR] = self.name
        row[REJECT_DETAIL] = detail
        if raw is not None:
            row[RAW] = raw[:RAW_LIMIT]

    def prepare(self, row: dict[str, Any]) -> Request | None:
        """The request for one row; None when the row needs none (it may have been rejected here)."""
        raise NotImplementedError

    def prepare_or_reject(self, row: dict[str, Any]) -> Request | None:
        """`prepare`, with a row in a language that has no templates rejected instead of failing the batch."""
        try:
            return self.prepare(row)
        except TemplateNotFound as error:
            self.reject(row, "unsupported_language", str(error), None)
            return None

    def finish(self, row: dict[str, Any], request: Request, outcome: Outcome) -> dict[str, Any] | None:
        """Apply an outcome to the row in place (fill or reject); may return a side-table row (a pair)."""
        raise NotImplementedError

    async def ask(self, request: Request) -> Outcome:
        return await generate_structured(
            self.client, request.messages, request.model,  # type: ignore[arg-type]
            seed=request.seed, template_version=request.version, feedback=self.feedback(request.language),
            check=request.check, max_retries=self.llm.max_validation_retries,
        )

    async def process(self, rows: list[dict[str, Any]]) -> None:
        """Fill in (or reject) the live rows, in place: one request per row, concurrently."""

        async def one(row: dict[str, Any]) -> dict[str, Any] | None:
            request = self.prepare_or_reject(row)
            return self.finish(row, request, await self.ask(request)) if request is not None else None

        results: list[Any] = [None] * len(rows)

        async def slot(position: int, row: dict[str, Any]) -> None:
            results[position] = await one(row)

        await self.gather([slot(i, row) for i, row in enumerate(rows)])
        self.emit([r for r in results if r is not None])

    def emit(self, side_rows: list[dict[str, Any]]) -> None:
        """Write the side-table rows `finish` returned: pairs (synthesize.refine), profiles (synthesize.profiles)."""

    async def __call__(self, batch: pa.Table) -> pa.Table:
        if self.client is None:
            self.setup()
        rows = batch.to_pylist()
        live = [row for row in rows if row.get(REJECT_REASON) is None]
        try:
            await self.process(live)
        finally:
            self.flush_usage()
        self.count_rejects(live)
        return pa.Table.from_pylist(rows, schema=batch.schema)

    def count_rejects(self, rows: list[dict[str, Any]]) -> None:
        """Tally this step's rejects per reason; past `max_reject_fraction` (after 50 rows), stop the job."""
        self.seen += len(rows)
        for row in rows:
            if row.get(REJECT_OPERATOR) == self.name:
                self.rejected[row[REJECT_REASON]] = self.rejected.get(row[REJECT_REASON], 0) + 1
        limit = self.config.max_reject_fraction  # type: ignore[attr-defined]
        total = sum(self.rejected.values())
        if limit is not None and self.seen >= 50 and total > limit * self.seen:
            reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(self.rejected.items(), key=lambda item: -item[1]))
            raise TooManyRejects(f"{self.name}: {total} of {self.seen} rows rejected (> max_reject_fraction {limit}): {reasons}; "
                                 "check the model, the prompts and the rejects' _raw answers")

    def run(self, batch: pa.Table) -> pa.Table:
        """In-process: the same work on a fresh event loop (not inside a running loop)."""

        async def once() -> pa.Table:
            try:
                return await self(batch)
            finally:
                if self.client is not None:
                    await self.client.aclose()

        return asyncio.run(once())

    def flush_usage(self) -> None:
        """One `llm_usage` row for what this batch cost (nothing when it made no request)."""
        if self.client is None or self.client.usage.empty:
            return
        usage = self.client.usage.take()
        prices = self.llm.prices
        cost = usage.cost(prices.input_per_million, prices.output_per_million) if prices else None
        row = usage.row(self.name, self.llm.backend, self.llm.model, cost, self.context.run_id)
        if self.context.staging_dir is not None:
            self.context.side_output("llm_usage", usage_table([row]))
        else:
            self.usage_rows.append(row)

    @cached_property
    def usage_rows(self) -> list[dict[str, Any]]:
        """Usage rows of this instance when there is no staging folder to write them to."""
        return []

    async def gather(self, jobs: list[Any]) -> None:
        """Run row jobs concurrently; the first fatal error (endpoint down) cancels the rest and propagates."""
        try:
            async with asyncio.TaskGroup() as group:
                for job in jobs:
                    group.create_task(job)
        except ExceptionGroup as errors:
            # the user should see "endpoint unavailable", not "unhandled errors in a TaskGroup"
            raise errors.exceptions[0] from None
