"""`backend: vllm`: a synthesis step on GPUs through `ray.data.llm` (vLLMEngineProcessorConfig + build_processor).

The step's own `prepare` and `finish` build the prompts (same templates) and apply the answers (same
parsing, validation and checks) as on the openai backend. The engine stage sits between two pyarrow
`map_batches`: `prepare_batch` turns working rows into `messages` + `sampling_params` (the working row
travels as one Arrow IPC column, so the engine's row-wise maps cannot change its Arrow types) and
`finish_batch` turns `generated_text` back into working rows or rejects. Rows that need no request skip
the engine. Differences from the openai backend: one pass (no re-ask with feedback: structured outputs
make the JSON valid, and failed checks become rejects), no response cache (the engine is the cost), and
one request per row (a profile is asked once per planned row; same prompt and seed).

vLLM is imported by Ray only inside the engine actors; this module imports nothing from vLLM, so it loads
(and its CPU tests run) where vLLM is not installed. Untested on a GPU until benchmarks/gpu_synthesis.sh
has run on one.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from operators.base import OperatorConfig, RunContext
from operators.columns import WORKING_SCHEMA
from operators.synthesis.client import Completion, LLMConfig
from operators.synthesis.llm_step import LLMStep, Request
from operators.synthesis.structured import Outcome, json_schema, judge
from operators.synthesis.usage import Usage, usage_table

ROW = "_synthesis_row"
SKIP = "_synthesis_skip"
ERROR = "__inference_error__"
DEFAULT_ENGINE_KWARGS = {"max_model_len": 8192, "enable_prefix_caching": True, "enable_chunked_prefill": True}


def engine_config(llm: LLMConfig) -> Any:
    """The `vLLMEngineProcessorConfig` for an llm config (ray.data.llm, Ray 2.60 names)."""
    from ray.data.llm import vLLMEngineProcessorConfig

    v = llm.vllm
    return vLLMEngineProcessorConfig(
        model_source=llm.model,
        engine_kwargs={**DEFAULT_ENGINE_KWARGS, **v.engine_kwargs},
        concurrency=v.concurrency,
        batch_size=v.batch_size,
        max_concurrent_batches=v.max_concurrent_batches,
        accelerator_type=v.accelerator_type,
        runtime_env=v.runtime_env,
        # an engine error becomes a reject row instead of failing the dataset
        should_continue_on_error=True,
    )


def sampling_params(llm: LLMConfig, request: Request) -> dict[str, Any]:
    """vLLM SamplingParams fields for one request; the JSON schema goes as a string (one Arrow type for every row)."""
    params: dict[str, Any] = {"temperature": llm.temperature, "max_tokens": llm.max_tokens, "seed": request.seed}
    if llm.top_p is not None:
        params["top_p"] = llm.top_p
    if llm.structured_output == "json_schema":
        params["structured_outputs"] = {"json": json.dumps(json_schema(request.model), ensure_ascii=False)}
    elif llm.structured_output == "json_object":
        params["structured_outputs"] = {"json_object": True}
    return params


def _pack(row: dict[str, Any], schema: pa.Schema) -> bytes:
    """One working row as Arrow IPC bytes: exact types (maps, nested structs) through the engine's row-wise maps."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        writer.write_table(pa.Table.from_pylist([row], schema=schema))
    return sink.getvalue().to_pybytes()


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [pa.ipc.open_stream(data).read_all().to_pylist()[0] for data in table.column(ROW).to_pylist()]


class PrepareBatch:
    """Working rows -> engine input (`messages`, `sampling_params`) plus the row itself as JSON."""

    def __init__(self, step_cls: type[LLMStep], config: OperatorConfig, context: RunContext) -> None:
        self.step = step_cls(config, context)

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows, messages, params, skip = [], [], [], []
        for row in batch.to_pylist():
            original = _pack(row, batch.schema)
            request = self.step.prepare_or_reject(row) if row.get("_reject_reason") is None else None
            # prepare may have rejected or annotated a row it needs no request for: carry that version
            rows.append(original if request is not None else _pack(row, batch.schema))
            skip.append(request is None)
            messages.append(request.messages if request is not None else [{"role": "user", "content": ""}])
            params.append(sampling_params(self.step.llm, request) if request is not None else None)
        return pa.table({ROW: pa.array(rows, pa.binary()), SKIP: skip, "messages": messages, "sampling_params": pa.array(params)})


class FinishBatch:
    """Engine output (`generated_text`, token counts, errors) -> working rows or rejects; usage to `llm_usage`."""

    def __init__(self, step_cls: type[LLMStep], config: OperatorConfig, context: RunContext) -> None:
        self.step = step_cls(config, context)

    def __call__(self, batch: pa.Table) -> pa.Table:
        names = set(batch.column_names)
        rows = _rows(batch)
        skip = batch.column(SKIP).to_pylist() if SKIP in names else [False] * len(rows)
        texts = batch.column("generated_text").to_pylist() if "generated_text" in names else [None] * len(rows)
        errors = batch.column(ERROR).to_pylist() if ERROR in names else [None] * len(rows)
        prompt_tokens = batch.column("num_input_tokens").to_pylist() if "num_input_tokens" in names else [0] * len(rows)
        completion_tokens = batch.column("num_generated_tokens").to_pylist() if "num_generated_tokens" in names else [0] * len(rows)
        usage = Usage()
        side_rows = []
        for index, row in enumerate(rows):
            if skip[index]:
                continue
            request = self.step.prepare(row)
            if request is None:
                continue
            if errors[index]:
                self.step.reject(row, "llm_engine_error", f"vLLM: {str(errors[index])[:500]}", None)
                usage.failed_requests += 1
                continue
            usage.requests += 1
            usage.prompt_tokens += prompt_tokens[index] or 0
            usage.completion_tokens += completion_tokens[index] or 0
            finish_reason = "length" if (completion_tokens[index] or 0) >= self.step.llm.max_tokens else "stop"
            completion = Completion(key=f"vllm-seed-{request.seed}", text=texts[index], refusal=None, finish_reason=finish_reason,
                                    prompt_tokens=prompt_tokens[index] or 0, completion_tokens=completion_tokens[index] or 0, cached=False)
            value, problem = judge(completion, request.model, request.check)
            outcome = Outcome(value=value, reason=problem[0] if problem else None, detail=problem[1] if problem else None,
                              raw=texts[index], attempts=1, keys=[completion.key])
            made = self.step.finish(row, request, outcome)
            if made is not None:
                side_rows.append(made)
        self.step.emit(side_rows)
        if not usage.empty and self.step.context.staging_dir is not None:
            prices = self.step.llm.prices
            cost = usage.cost(prices.input_per_million, prices.output_per_million) if prices else None
            self.step.context.side_output("llm_usage", usage_table([usage.row(self.step.name, "vllm", self.step.llm.model, cost, self.step.context.run_id)]))
        return pa.Table.from_pylist(rows, schema=WORKING_SCHEMA)


def apply_vllm(ds: Any, step_cls: type[LLMStep], config: OperatorConfig, context: RunContext) -> Any:
    """The step as a Ray Data plan on vLLM: prepare -> (engine for rows that need it) -> finish, rows preserved."""
    from ray.data.llm import build_processor

    llm: LLMConfig = config.llm  # type: ignore[attr-defined]
    kwargs = {"fn_constructor_kwargs": {"step_cls": step_cls, "config": config, "context": context}, "batch_format": "pyarrow"}
    prepared = ds.map_batches(PrepareBatch, num_cpus=0.25, **kwargs)
    # no postprocess (identity): rows the engine failed on bypass postprocess and keep every column, so
    # successful rows keep every column too and both kinds can share a block
    processor = build_processor(engine_config(llm), preprocess_map_kwargs={"num_cpus": 0.25}, postprocess_map_kwargs={"num_cpus": 0.25})
    generated = processor(prepared.filter(lambda row: not row[SKIP]))
    skipped = prepared.filter(lambda row: row[SKIP])
    return generated.map_batches(FinishBatch, num_cpus=0.25, **kwargs).union(skipped.map_batches(FinishBatch, num_cpus=0.25, **kwargs))
