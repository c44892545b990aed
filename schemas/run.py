"""The run manifest and the composition statistics a run publishes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class OperatorLedger(BaseModel):
    """Counts of one operator: every row it saw either went on or was rejected by it."""

    operator: str = Field(description="The step's YAML name.")
    step: int = Field(description="Position of the step in the pipeline (0 = the sources).")
    input: int = Field(description="Live rows that entered the step.")
    output: int = Field(description="Live rows that left it.")
    rejected: int = Field(description="Rows it rejected.")
    by_reason: dict[str, int] = Field(default_factory=dict, description="Rejected rows per reason.")


class Ledger(BaseModel):
    """Where every input record ended: input = output + rejected, checked at the end of every run."""

    input: int = Field(description="Records read from the sources (one per input line; an empty file counts as one).")
    output: int = Field(description="Rows published in corpus/.")
    rejected: int = Field(description="Rows published in rejects/.")
    operators: list[OperatorLedger] = Field(description="The same per step, in pipeline order.")
    balanced: bool = Field(description="input == output + rejected, and every step's counts chain.")


class Shard(BaseModel):
    """One published Parquet file."""

    path: str = Field(description="Path relative to the output folder.")
    rows: int = Field(description="Rows in the file.")
    bytes: int = Field(description="File size in bytes.")
    sha256: str = Field(description="SHA-256 of the file's bytes.")


class RunManifest(BaseModel):
    """manifest.json: what a run did, written last; its presence marks a finished output."""

    run_id: str = Field(description="Unique id of the run.")
    pipeline: str = Field(description="Path of the pipeline YAML as given.")
    pipeline_name: str = Field(description="The pipeline's name.")
    pipeline_hash: str = Field(description="SHA-256 of the validated pipeline spec (canonical JSON).")
    code_version: str = Field(description="Package version, plus the git commit when run from a checkout.")
    schema_version: str = Field(description="Version of the record schemas.")
    started_at: str = Field(description="ISO-8601 UTC start time.")
    finished_at: str = Field(description="ISO-8601 UTC end time.")
    timings_s: dict[str, float] = Field(description="Wall-clock seconds per phase.")
    ray: dict[str, str] = Field(default_factory=dict, description="Ray version, address and cluster resources.")
    inputs: list[str] = Field(description="Input files read.")
    shards: dict[str, list[Shard]] = Field(description="Published files per table: corpus, rejects, stats.")
    ledger: Ledger = Field(description="The ledger.")
    metrics: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Run-level totals per operator, summed over published rows (e.g. privacy.pii: redactions per type)."
    )
    llm_usage: list[dict[str, Any]] = Field(
        default_factory=list, description="LLM requests, cache hits, tokens and cost per operator, backend and model (from the llm_usage side table)."
    )
    spec: dict = Field(description="The validated pipeline spec, with defaults filled in.")


class CompositionRow(BaseModel):
    """One row of stats/composition.parquet: corpus counts for one combination."""

    category: str = Field(description="Character category.")
    scenario: str = Field(description="Scenario.")
    source: str = Field(description="Source.")
    language: str = Field(description="Language code.")
    split: str | None = Field(None, description="Split (null when splits were not assigned).")
    dialogues: int = Field(description="Dialogues.")
    turns: int = Field(description="Turns over those dialogues.")
    characters: int = Field(description="Distinct characters (character_id).")
    pipeline_run_id: str = Field(description="The run.")
