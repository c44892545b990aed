"""The LLM client against the loopback server, through the real openai SDK: cache, retries, limits, secrets."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from operators.synthesis.client import EndpointConfigError, EndpointUnavailable, LLMClient, LLMConfig, RequestRejected
from tests.llm_server import LLMServer, Reply

MESSAGES = [{"role": "user", "content": "Say hello as JSON."}]
SECRET = "sk-test-do-not-leak-1234567890"


def make_config(server: LLMServer, tmp_path, **overrides) -> LLMConfig:
    settings = dict(model="loopback", base_url=server.url, api_key=SECRET, cache=str(tmp_path / "cache"),
                    backoff_initial_s=0.01, backoff_max_s=0.05, max_attempts=4, timeout_s=5)
    settings.update(overrides)
    return LLMConfig(**settings)


def run(coroutine):
    return asyncio.run(coroutine)


async def complete_all(client: LLMClient, seeds: list[int]):
    try:
        return await asyncio.gather(*(client.complete(MESSAGES, seed=s, template_version="t@1") for s in seeds))
    finally:
        await client.aclose()


def test_cache_answers_a_repeated_request_without_calling(tmp_path):
    with LLMServer(lambda body: Reply(content='{"hello": "world"}')) as server:
        config = make_config(server, tmp_path)
        first = run(complete_all(LLMClient(config), [7]))[0]
        again_client = LLMClient(config)
        second = run(complete_all(again_client, [7]))[0]
        assert len(server.requests) == 1
    assert first.text == second.text == '{"hello": "world"}'
    assert (first.cached, second.cached) == (False, True)
    assert again_client.usage.cache_hits == 1 and again_client.usage.requests == 0
    assert again_client.usage.cached_prompt_tokens == first.prompt_tokens > 0


def test_cache_key_covers_seed_and_template_version(tmp_path):
    with LLMServer(lambda body: Reply(content="{}")) as server:
        client = LLMClient(make_config(server, tmp_path))

        async def scenario():
            await client.complete(MESSAGES, seed=1, template_version="t@1")
            await client.complete(MESSAGES, seed=2, template_version="t@1")
            await client.complete(MESSAGES, seed=1, template_version="t@2")
            await client.complete(MESSAGES, seed=1, template_version="t@1")
            await client.aclose()

        run(scenario())
        assert len(server.requests) == 3
        assert [r.body["seed"] for r in server.requests] == [1, 2, 1]


def test_identical_requests_in_flight_share_one_call(tmp_path):
    with LLMServer(lambda body: Reply(content="{}", delay_s=0.2)) as server:
        results = run(complete_all(LLMClient(make_config(server, tmp_path, cache=None)), [5, 5, 5]))
        assert len(server.requests) == 1
    assert len({r.key for r in results}) == 1


def test_429_honours_retry_after_then_succeeds(tmp_path):
    with LLMServer(lambda body: Reply(content="{}")) as server:
        server.inject(Reply(status=429, headers={"Retry-After": "0.4"}))
        client = LLMClient(make_config(server, tmp_path))
        run(complete_all(client, [1]))
        assert [r.status for r in server.requests] == [429, 200]
        assert server.requests[1].arrived - server.requests[0].arrived >= 0.4
    assert client.usage.failed_requests == 1 and client.usage.requests == 1


def test_5xx_and_timeouts_are_retried(tmp_path):
    with LLMServer(lambda body: Reply(content="{}")) as server:
        server.inject(Reply(status=500), Reply(status=503), Reply(content="{}", delay_s=1.5))
        client = LLMClient(make_config(server, tmp_path, timeout_s=0.5, max_attempts=5))
        result = run(complete_all(client, [1]))[0]
        # the timed-out request is still sleeping in the server: it has no status yet
        assert [r.status for r in server.requests[:2]] == [500, 503] and len(server.requests) == 4
        assert server.requests[3].status == 200
    assert result.text == "{}"
    assert client.usage.failed_requests == 3


def test_endpoint_that_stays_down_stops_with_progress_cached(tmp_path):
    with LLMServer(lambda body: Reply(content=json.dumps({"n": body["seed"]}))) as server:
        config = make_config(server, tmp_path, max_attempts=3)
        run(complete_all(LLMClient(config), [1]))
        server.responder = lambda body: Reply(status=502)
        with pytest.raises(EndpointUnavailable, match="3 attempts.*re-run to resume"):
            run(complete_all(LLMClient(config), [2]))
        assert [r.status for r in server.requests] == [200, 502, 502, 502]
        server.responder = lambda body: Reply(content=json.dumps({"n": body["seed"]}))
        resumed = LLMClient(config)
        texts = [c.text for c in run(complete_all(resumed, [1, 2]))]
    assert [json.loads(t) for t in texts] == [{"n": 1}, {"n": 2}]
    assert resumed.usage.cache_hits == 1 and resumed.usage.requests == 1


def test_unreachable_endpoint_gives_up_within_its_deadline(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = LLMConfig(model="m", base_url=f"http://127.0.0.1:{port}/v1", cache=None, backoff_initial_s=0.01, max_attempts=50, give_up_after_s=0.3)
    with pytest.raises(EndpointUnavailable, match="APIConnectionError"):
        run(complete_all(LLMClient(config), [0]))


def test_bad_key_is_fatal_and_bad_request_is_per_row(tmp_path):
    with LLMServer(lambda body: Reply(status=401)) as server:
        with pytest.raises(EndpointConfigError, match="401"):
            run(complete_all(LLMClient(make_config(server, tmp_path)), [1]))
        assert len(server.requests) == 1
        server.responder = lambda body: Reply(status=400)
        with pytest.raises(RequestRejected, match="400"):
            run(complete_all(LLMClient(make_config(server, tmp_path)), [1]))
        assert len(server.requests) == 2


def test_key_is_sent_but_never_stored_or_shown(tmp_path):
    with LLMServer(lambda body: Reply(content="{}")) as server:
        config = make_config(server, tmp_path)
        run(complete_all(LLMClient(config), [1]))
        assert server.requests[0].authorization == f"Bearer {SECRET}"
    stored = "".join(p.read_text() for p in (tmp_path / "cache").rglob("*.json"))
    assert stored and SECRET not in stored
    assert SECRET not in repr(config) and SECRET not in config.model_dump_json() and SECRET not in str(config.model_dump())


def test_key_and_url_come_from_the_environment(tmp_path, monkeypatch):
    with LLMServer(lambda body: Reply(content="{}")) as server:
        monkeypatch.setenv("CHARDIAL_LLM_BASE_URL", server.url)
        monkeypatch.setenv("CHARDIAL_LLM_API_KEY", "sk-from-env")
        run(complete_all(LLMClient(LLMConfig(model="m", cache=None)), [0]))
        assert server.requests[0].authorization == "Bearer sk-from-env"
    monkeypatch.delenv("CHARDIAL_LLM_BASE_URL")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(EndpointConfigError, match="no LLM endpoint configured"):
        LLMClient(LLMConfig(model="m"))


def test_requests_per_minute_spaces_requests(tmp_path):
    with LLMServer(lambda body: Reply(content="{}")) as server:
        # 120/min = 2/s with a burst of 2: five requests need at least (5 - 2) / 2 s
        client = LLMClient(make_config(server, tmp_path, cache=None, requests_per_minute=120))
        run(complete_all(client, [1, 2, 3, 4, 5]))
        arrivals = sorted(r.arrived for r in server.requests)
    assert arrivals[-1] - arrivals[0] >= 1.5 - 0.05


def test_structured_output_modes_shape_the_request(tmp_path):
    with LLMServer(lambda body: Reply(content="{}")) as server:
        schema = {"type": "object", "properties": {"a": {"type": "string"}}}
        for mode in ("json_schema", "json_object", "none"):
            client = LLMClient(make_config(server, tmp_path, cache=None, structured_output=mode))

            async def one(client=client):
                await client.complete(MESSAGES, seed=0, template_version="t@1", schema_name="Thing", schema=schema)
                await client.aclose()

            run(one())
        formats = [r.body.get("response_format") for r in server.requests]
    assert formats[0] == {"type": "json_schema", "json_schema": {"name": "Thing", "schema": schema, "strict": False}}
    assert formats[1] == {"type": "json_object"} and formats[2] is None


def test_cache_works_on_an_fsspec_url(tmp_path):
    with LLMServer(lambda body: Reply(content="{}")) as server:
        config = make_config(server, tmp_path, cache="memory://chardial-test-cache")
        run(complete_all(LLMClient(config), [3]))
        second = run(complete_all(LLMClient(config), [3]))[0]
        assert len(server.requests) == 1 and second.cached
    entry = json.loads(LLMClient(config).cache.fs.open(f"/chardial-test-cache/{second.key[:2]}/{second.key}.json").read())
    assert entry["text"] == "{}"


def test_missing_endpoint_is_one_line_for_runners_that_skip(monkeypatch):
    monkeypatch.delenv("CHARDIAL_LLM_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    message = LLMConfig(model="m").missing_endpoint()
    assert message.startswith("synthesis skipped") and "CHARDIAL_LLM_BASE_URL" in message and "\n" not in message
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    assert LLMConfig(model="m").missing_endpoint() is None
    assert LLMConfig(model="m", backend="vllm").missing_endpoint() is None
