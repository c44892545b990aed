"""The vLLM backend on CPU: engine config, and the pre/post-processing around the engine (no vLLM needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from operators.base import RunContext
from operators.columns import REJECT_REASON
from operators.synthesis.dialogues import DialoguesConfig, SynthesizeDialogues
from operators.synthesis.profiles import ProfilesConfig, SynthesizeProfiles
from operators.synthesis.refine import RefineConfig, SynthesizeRefine
from operators.synthesis.vllm_backend import ROW, SKIP, FinishBatch, PrepareBatch, engine_config
from tests.synthesis_author import dialogue, plan_table, profile, refine

LLM = {"backend": "vllm", "model": "/models/tiny", "max_tokens": 512, "seed": 3,
       "vllm": {"engine_kwargs": {"max_model_len": 2048}, "concurrency": 2, "batch_size": 8}}


def engine_output(prepared: pa.Table, answer, errors: dict[int, str] | None = None) -> pa.Table:
    """What the engine stage adds to the prepared rows, with answers from the test author."""
    texts, prompt_tokens, completion_tokens, error_column = [], [], [], []
    for index, (messages, params) in enumerate(zip(prepared.column("messages").to_pylist(), prepared.column("sampling_params").to_pylist(), strict=True)):
        schema = json.loads(params["structured_outputs"]["json"])
        body = {"messages": messages, "response_format": {"type": "json_schema", "json_schema": {"name": schema["title"], "schema": schema}}}
        text = json.dumps(answer(body), ensure_ascii=False)
        texts.append(text)
        prompt_tokens.append(len(json.dumps(messages)) // 4)
        completion_tokens.append(len(text) // 4)
        error_column.append((errors or {}).get(index, ""))
    return prepared.append_column("generated_text", pa.array(texts)).append_column("num_input_tokens", pa.array(prompt_tokens)) \
        .append_column("num_generated_tokens", pa.array(completion_tokens)).append_column("__inference_error__", pa.array(error_column))


def test_engine_config_uses_the_2_60_names():
    pytest.importorskip("ray.data.llm")
    config = engine_config(ProfilesConfig(llm=LLM).llm)
    assert type(config).__name__ == "vLLMEngineProcessorConfig"
    assert config.model_source == "/models/tiny" and config.batch_size == 8 and config.should_continue_on_error
    assert config.engine_kwargs["max_model_len"] == 2048 and config.engine_kwargs["enable_prefix_caching"] is True


def test_prepare_builds_the_same_prompts_as_the_openai_backend(tmp_path):
    planned = plan_table(tmp_path, dialogues_per_character=1)
    config = ProfilesConfig(llm=LLM)
    prepared = PrepareBatch(SynthesizeProfiles, config, RunContext())(planned)
    step = SynthesizeProfiles(config)
    for row, messages, params in zip(planned.to_pylist(), prepared.column("messages").to_pylist(), prepared.column("sampling_params").to_pylist(), strict=True):
        request = step.prepare(row)
        assert messages == request.messages
        assert params["seed"] == request.seed and params["max_tokens"] == 512
        assert json.loads(params["structured_outputs"]["json"])["title"] == "ProfileDraft"


def test_finish_fills_rows_rejects_engine_errors_and_counts_tokens(tmp_path):
    planned = plan_table(tmp_path, dialogues_per_character=2)
    staging = tmp_path / "staging"
    context = RunContext("vllm-cpu", str(staging))
    config = ProfilesConfig(llm=LLM)
    prepared = PrepareBatch(SynthesizeProfiles, config, context)(planned)
    out = FinishBatch(SynthesizeProfiles, config, context)(engine_output(prepared, profile, errors={1: "prompt too long"}))
    rows = out.to_pylist()
    assert len(rows) == planned.num_rows
    assert [r[REJECT_REASON] for r in rows].count("llm_engine_error") == 1 and rows[1][REJECT_REASON] == "llm_engine_error"
    assert all(r["character"]["profile_text"] for i, r in enumerate(rows) if i != 1)
    usage = pq.read_table(staging / "llm_usage").to_pylist()
    assert usage[0]["backend"] == "vllm" and usage[0]["requests"] == 5 and usage[0]["failed_requests"] == 1 and usage[0]["prompt_tokens"] > 0
    assert pq.read_table(staging / "profiles").num_rows == 3


def test_dialogues_and_refine_round_trip_with_checks(tmp_path):
    planned = plan_table(tmp_path, "- {category: fictional, name: Ada, language: en}\n", dialogues_per_character=2)
    context = RunContext("vllm-cpu", str(tmp_path / "staging"))
    stages = [(SynthesizeProfiles, ProfilesConfig(llm=LLM), profile), (SynthesizeDialogues, DialoguesConfig(llm=LLM, turns=4), dialogue),
              (SynthesizeRefine, RefineConfig(llm=LLM), refine)]
    table = planned
    for cls, config, answer in stages:
        prepared = PrepareBatch(cls, config, context)(table)
        table = FinishBatch(cls, config, context)(engine_output(prepared, answer))
    rows = table.to_pylist()
    assert all(r[REJECT_REASON] is None and len(r["turns"]) == 4 for r in rows)
    assert pq.read_table(tmp_path / "staging" / "pairs").num_rows == 2
    # a check failure is a reject on this backend (no re-ask)
    bad = lambda body: {"turns": [{"role": "user", "text": "Hello there, how are you doing today?"}]}  # noqa: E731
    prepared = PrepareBatch(SynthesizeDialogues, stages[1][1], context)(planned_with_profiles(planned, context))
    rejected = FinishBatch(SynthesizeDialogues, stages[1][1], context)(engine_output(prepared, bad))
    assert set(rejected.column(REJECT_REASON).to_pylist()) == {"wrong_turn_count"}


def planned_with_profiles(planned: pa.Table, context: RunContext) -> pa.Table:
    config = ProfilesConfig(llm=LLM)
    return FinishBatch(SynthesizeProfiles, config, context)(engine_output(PrepareBatch(SynthesizeProfiles, config, context)(planned), profile))


def test_rows_without_a_request_skip_the_engine(tmp_path):
    planned = plan_table(tmp_path, "- {category: fictional, brief: x, language: en}\n", dialogues_per_character=1)
    config = DialoguesConfig(llm=LLM)
    prepared = PrepareBatch(SynthesizeDialogues, config, RunContext())(planned)
    assert prepared.column(SKIP).to_pylist() == [True]
    out = FinishBatch(SynthesizeDialogues, config, RunContext())(prepared.select([ROW, SKIP]))
    assert out.column(REJECT_REASON).to_pylist() == ["no_profile"]


def test_the_openai_path_refuses_a_vllm_config(tmp_path):
    with pytest.raises(RuntimeError, match="apply_vllm"):
        SynthesizeDialogues(DialoguesConfig(llm=LLM)).run(plan_table(tmp_path))


def test_build_processor_accepts_the_engine_config(tmp_path, ray_cluster):
    """Where transformers is installed (the GPU environment, or the train one), the processor builds on CPU."""
    pytest.importorskip("transformers")
    pytest.importorskip("tokenizers")
    import importlib.util

    from ray.data.llm import build_processor

    spec = importlib.util.spec_from_file_location("gpu_synthesis", Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_synthesis.py")
    gpu_synthesis = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_synthesis)
    gpu_synthesis.make_tiny_model(tmp_path / "tiny")
    processor = build_processor(engine_config(ProfilesConfig(llm={**LLM, "model": str(tmp_path / "tiny")}).llm))
    assert processor.list_stage_names() == ["ChatTemplateStage", "TokenizeStage", "vLLMEngineStage", "DetokenizeStage"]
