"""The `llm_usage` side table: LLM requests, tokens and cost per operator, model and batch."""

from __future__ import annotations

from pydantic import Field

from schemas.records import Strict


class LLMUsage(Strict):
    """One row per operator batch; summing rows by operator (and model) gives the run's LLM bill."""

    operator: str = Field(description="The operator's YAML name, e.g. 'synthesize.dialogues'.")
    backend: str = Field(description="openai | vllm.")
    model: str = Field(description="Model name as sent to the endpoint or engine.")
    requests: int = Field(description="Requests answered by the endpoint (paid), retries included.")
    cache_hits: int = Field(description="Requests answered from the response cache (not paid).")
    failed_requests: int = Field(description="Requests that got an error status, a timeout or no connection.")
    prompt_tokens: int = Field(description="Prompt tokens of paid requests.")
    completion_tokens: int = Field(description="Completion tokens of paid requests.")
    cached_prompt_tokens: int = Field(description="Prompt tokens of responses served from the cache.")
    cached_completion_tokens: int = Field(description="Completion tokens of responses served from the cache.")
    cost_usd: float | None = Field(None, description="Estimated cost of paid requests from the configured prices; null without prices.")
    pipeline_run_id: str | None = Field(None, description="The run that wrote this row.")
