"""Robust JSON parsing and the re-ask loop of structured generation."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel

from operators.synthesis.client import LLMClient, LLMConfig
from operators.synthesis.structured import generate_structured, parse_json
from tests.llm_server import LLMServer, Reply


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '\ufeff  {"a": 1}  ',
        'Sure! Here it is:\n```json\n{"a": 1}\n```\nAnything else?',
        "```\n{\"a\": 1}\n```",
        'The answer is {"a": 1} as requested.',
        'Note {broken} then {"a": 1}',
    ],
)
def test_parse_json_finds_the_object(text):
    assert parse_json(text) == {"a": 1}


@pytest.mark.parametrize("text", ["", "no json here", '{"a": 1', "```json\n{oops}\n```"])
def test_parse_json_explains_failure(text):
    with pytest.raises(ValueError, match="no JSON value found"):
        parse_json(text)


class Answer(BaseModel):
    word: str
    count: int


def ask(server, tmp_path, check=None, retries=2):
    config = LLMConfig(model="m", base_url=server.url, cache=str(tmp_path / "c"), backoff_initial_s=0.01)

    async def go():
        client = LLMClient(config)
        try:
            return await generate_structured(client, [{"role": "user", "content": "count"}], Answer, seed=1, template_version="t@1",
                                             feedback=lambda reason, detail: f"FIX {reason}: {detail}", check=check, max_retries=retries)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_validation_error_is_fed_back_and_the_retry_succeeds(tmp_path):
    replies = iter([Reply(content='{"word": "a"}'), Reply(content='{"word": "a", "count": 2}')])
    with LLMServer(lambda body: next(replies)) as server:
        outcome = ask(server, tmp_path)
        second = server.requests[1].body["messages"]
    assert outcome.ok and outcome.value == Answer(word="a", count=2) and outcome.attempts == 2
    assert second[-1]["content"].startswith("FIX llm_invalid_output: response: count: Field required")


def test_check_problems_are_retried_then_reported(tmp_path):
    with LLMServer(lambda body: Reply(content=json.dumps({"word": "bad", "count": 1}))) as server:
        outcome = ask(server, tmp_path, check=lambda v: [("bad_word", "the word is bad")] if v.word == "bad" else [], retries=1)
        assert len(server.requests) == 2
    assert not outcome.ok and outcome.reason == "bad_word" and outcome.detail == "after 2 attempts: the word is bad"
    assert outcome.raw == '{"word": "bad", "count": 1}'


@pytest.mark.parametrize(
    "reply, reason",
    [
        (Reply(refusal="I can't do that."), "llm_refusal"),
        (Reply(content='{"word": "a", "co', finish_reason="length"), "llm_truncated"),
        (Reply(content="{}", finish_reason="content_filter"), "llm_refusal"),
        (Reply(content="   "), "llm_empty_response"),
        (Reply(status=400), "llm_request_error"),
    ],
)
def test_failures_have_reasons(tmp_path, reply, reason):
    with LLMServer(lambda body: reply) as server:
        outcome = ask(server, tmp_path, retries=0)
    assert outcome.reason == reason and not outcome.ok
