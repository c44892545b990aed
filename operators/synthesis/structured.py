"""Structured output: robust JSON parsing, pydantic validation, content checks, and re-asking with the error.

`generate_structured` asks, parses, validates and checks; on any failure it appends the model's answer
and the error to the conversation and asks again, up to `max_retries` times. The final failure is an
`Outcome` with a reject reason and the raw response, never an exception (only an unreachable or
misconfigured endpoint raises).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from operators.synthesis.client import Completion, LLMClient, RequestRejected
from schemas.tables import format_validation_error

M = TypeVar("M", bound=BaseModel)
Problem = tuple[str, str]  # (reject reason, human-readable detail)
Check = Callable[[Any], list[Problem]]
Feedback = Callable[[str, str], str]

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def parse_json(text: str) -> Any:
    """The JSON value in a model's reply: bare, inside a ``` fence, or the first object amid prose."""
    stripped = text.strip().lstrip("\ufeff")
    try:
        return json.loads(stripped)
    except json.JSONDecodeError as error:
        first_error = error
    for block in _FENCE.findall(stripped):
        try:
            return json.loads(block)
        except json.JSONDecodeError:
            continue
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[{\[]", stripped):
        try:
            value, _ = decoder.raw_decode(stripped, match.start())
            return value
        except json.JSONDecodeError:
            continue
    raise ValueError(f"no JSON value found: {first_error.msg} at line {first_error.lineno} column {first_error.colno}")


@lru_cache(maxsize=64)
def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema, built once (pydantic takes about a millisecond per call)."""
    return model.model_json_schema()


@dataclass
class Outcome(Generic[M]):
    """The result of one structured generation: a value, or a reject reason with the raw response."""

    value: M | None = None
    reason: str | None = None
    detail: str | None = None
    raw: str | None = None
    attempts: int = 0
    keys: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.value is not None


def judge(completion: Completion, model: type[M], check: Check | None) -> tuple[M | None, Problem | None]:
    """Parse, validate and check one completion: the value, or the first problem."""
    if completion.refusal:
        return None, ("llm_refusal", f"the model refused: {completion.refusal[:300]}")
    if completion.finish_reason == "content_filter":
        return None, ("llm_refusal", "the endpoint's content filter stopped the response")
    if completion.finish_reason == "length":
        return None, ("llm_truncated", "the response hit max_tokens before the JSON was complete")
    if not completion.text or not completion.text.strip():
        return None, ("llm_empty_response", "the response has no content")
    try:
        data = parse_json(completion.text)
    except ValueError as error:
        return None, ("llm_invalid_json", str(error))
    try:
        value = model.model_validate(data)
    except ValidationError as error:
        return None, ("llm_invalid_output", format_validation_error(error, "response"))
    problems = check(value) if check is not None else []
    if problems:
        return None, problems[0]
    return value, None


async def generate_structured(
    client: LLMClient,
    messages: list[dict[str, str]],
    model: type[M],
    *,
    seed: int,
    template_version: str,
    feedback: Feedback,
    check: Check | None = None,
    max_retries: int = 2,
) -> Outcome[M]:
    """Ask until the reply parses, validates and passes `check`, feeding each error back; at most 1 + max_retries asks."""
    schema = json_schema(model)
    conversation = list(messages)
    outcome: Outcome[M] = Outcome()
    for _ in range(1 + max_retries):
        try:
            completion = await client.complete(conversation, seed=seed, template_version=template_version, schema_name=model.__name__, schema=schema)
        except RequestRejected as error:
            outcome.reason, outcome.detail = "llm_request_error", str(error)
            return outcome
        outcome.attempts += 1
        outcome.keys.append(completion.key)
        outcome.raw = completion.text if completion.text is not None else completion.refusal
        value, problem = judge(completion, model, check)
        if problem is None:
            outcome.value, outcome.reason, outcome.detail = value, None, None
            return outcome
        outcome.reason, outcome.detail = problem
        conversation = [*conversation, {"role": "assistant", "content": completion.text or completion.refusal or ""},
                        {"role": "user", "content": feedback(*problem)}]
    outcome.detail = f"after {outcome.attempts} attempts: {outcome.detail}"
    return outcome
