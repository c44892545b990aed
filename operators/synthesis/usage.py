"""Token and request accounting for one operator, and its rows in the `llm_usage` side table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import pyarrow as pa

from schemas.arrow import arrow_schema
from schemas.llm_usage import LLMUsage

LLM_USAGE_SCHEMA = arrow_schema(LLMUsage, "llm_usage")


@dataclass
class Usage:
    """Counters that only ever grow; `take()` hands them over and starts again (one side-table row per batch)."""

    requests: int = 0
    cache_hits: int = 0
    failed_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0

    def add(self, other: Usage) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def take(self) -> Usage:
        taken = Usage(**asdict(self))
        for f in fields(self):
            setattr(self, f.name, 0)
        return taken

    @property
    def empty(self) -> bool:
        return not any(asdict(self).values())

    def cost(self, input_per_million: float | None, output_per_million: float | None) -> float | None:
        """Cost of the paid tokens; None when no prices are configured."""
        if input_per_million is None and output_per_million is None:
            return None
        return (self.prompt_tokens * (input_per_million or 0.0) + self.completion_tokens * (output_per_million or 0.0)) / 1e6

    def row(self, operator: str, backend: str, model: str, cost_usd: float | None, run_id: str | None) -> dict[str, Any]:
        return {"operator": operator, "backend": backend, "model": model, **asdict(self), "cost_usd": cost_usd, "pipeline_run_id": run_id}


def usage_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=LLM_USAGE_SCHEMA)


def summarize(table: pa.Table) -> list[dict[str, Any]]:
    """Totals per operator and model, for the run manifest (e.g. `manifest["llm_usage"]`)."""
    if table.num_rows == 0:
        return []
    sums = [(name, "sum") for name in ("requests", "cache_hits", "failed_requests", "prompt_tokens", "completion_tokens",
                                        "cached_prompt_tokens", "cached_completion_tokens", "cost_usd")]
    grouped = table.group_by(["operator", "backend", "model"]).aggregate(sums)
    rows = grouped.to_pylist()
    for row in rows:
        for name, _ in sums:
            row[name] = row.pop(f"{name}_sum")
    return sorted(rows, key=lambda r: (r["operator"], r["model"]))
