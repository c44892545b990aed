"""`chardial synth` commands against the loopback server and a real usage table."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from jobs.cli_synthesis import app
from operators.base import RunContext
from operators.synthesis.usage import usage_table
from tests.llm_server import LLMServer, Reply

runner = CliRunner()


def test_ping_reports_latency_and_tokens_without_the_key(monkeypatch):
    monkeypatch.setenv("CHARDIAL_LLM_API_KEY", "sk-secret-ping")
    with LLMServer(lambda body: Reply(content="ok")) as server:
        result = runner.invoke(app, ["ping", "--model", "loopback", "--base-url", server.url])
        assert server.requests[0].authorization == "Bearer sk-secret-ping"
    assert result.exit_code == 0, result.output
    assert "completion_tokens=1" in result.output and "sk-secret-ping" not in result.output


def test_ping_fails_clearly_when_down():
    with LLMServer(lambda body: Reply(status=503)) as server:
        result = runner.invoke(app, ["ping", "--model", "loopback", "--base-url", server.url])
    assert result.exit_code == 1 and "unavailable" in result.output


def test_templates_lists_versions():
    result = runner.invoke(app, ["templates"])
    assert result.exit_code == 0 and "dialogue.v1" in result.output and "refine.v1.zh@" in result.output


def test_usage_sums_a_runs_rows(tmp_path):
    context = RunContext("r", str(tmp_path))
    row = {"operator": "synthesize.dialogues", "backend": "openai", "model": "m", "requests": 3, "cache_hits": 1, "failed_requests": 0,
           "prompt_tokens": 100, "completion_tokens": 50, "cached_prompt_tokens": 10, "cached_completion_tokens": 5, "cost_usd": 0.25, "pipeline_run_id": "r"}
    context.side_output("llm_usage", usage_table([row]))
    context.side_output("llm_usage", usage_table([{**row, "requests": 1, "cost_usd": 0.5}]))
    result = runner.invoke(app, ["usage", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary == [{"operator": "synthesize.dialogues", "backend": "openai", "model": "m", "requests": 4, "cache_hits": 2, "failed_requests": 0,
                        "prompt_tokens": 200, "completion_tokens": 100, "cached_prompt_tokens": 20, "cached_completion_tokens": 10, "cost_usd": 0.75}]
