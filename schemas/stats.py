"""The statistics tables a run publishes under stats/: tidy, long-format, one model per table.

Every table carries `pipeline_run_id`, so the stats of many runs can be read as one table
(`read_parquet('runs/*/stats/marginals.parquet')` in DuckDB) and charted over time. Columns are only
ever added, never renamed or retyped, within a major schema version. docs/dashboard.md documents them.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import BaseModel, Field

from schemas.arrow import arrow_schema

# The value standing for "every language" in tables that also break down by language.
ALL_LANGUAGES = "*"

Dimension = Literal["category", "scenario", "source", "language", "split"]
DIMENSIONS: tuple[str, ...] = Dimension.__args__  # type: ignore[attr-defined]


class RunSummaryRow(BaseModel):
    """stats/run_summary.parquet: one row per run, the headline numbers."""

    pipeline_run_id: str = Field(description="The run.")
    pipeline_name: str = Field(description="The pipeline's name.")
    started_at: str = Field(description="ISO-8601 UTC start time of the run.")
    finished_at: str = Field(description="ISO-8601 UTC end time of the run.")
    records_in: int = Field(description="Records read from the sources (ledger input).")
    records_out: int = Field(description="Rows published in corpus/ (ledger output).")
    records_rejected: int = Field(description="Rows published in rejects/ (ledger rejected).")
    balanced: bool = Field(description="Whether the ledger balanced: in == out + rejected and every step's counts chain.")
    dialogues: int = Field(description="Dialogues counted in corpus/ by the stats job.")
    turns: int = Field(description="Turns over all dialogues.")
    characters: int = Field(description="Distinct character_id values.")
    languages: int = Field(description="Distinct language codes.")
    rejects: int = Field(description="Rows counted in rejects/ by the stats job.")


class CompositionShareRow(BaseModel):
    """stats/composition_shares.parquet: counts and shares by category x scenario x source x language x split."""

    category: str = Field(description="Character category.")
    scenario: str = Field(description="Scenario.")
    source: str = Field(description="Source.")
    language: str = Field(description="Language code.")
    split: str | None = Field(None, description="Split (null when splits were not assigned).")
    dialogues: int = Field(description="Dialogues in this combination.")
    turns: int = Field(description="Turns over those dialogues.")
    characters: int = Field(description="Distinct characters (character_id) in this combination.")
    dialogue_share: float = Field(description="dialogues / all dialogues of the run (0..1).")
    turn_share: float = Field(description="turns / all turns of the run (0..1).")
    pipeline_run_id: str = Field(description="The run.")


class MarginalRow(BaseModel):
    """stats/marginals.parquet: counts and shares per value of one dimension (long format)."""

    dimension: Dimension = Field(description="category | scenario | source | language | split.")
    value: str | None = Field(None, description="The dimension's value (null for an unassigned split).")
    dialogues: int = Field(description="Dialogues with this value.")
    turns: int = Field(description="Turns over those dialogues.")
    characters: int = Field(description="Distinct characters among those dialogues (so for dimension=category: characters per category).")
    dialogue_share: float = Field(description="dialogues / all dialogues of the run (0..1); shares of one dimension sum to 1.")
    turn_share: float = Field(description="turns / all turns of the run (0..1).")
    character_share: float = Field(description="characters / all distinct characters of the run (0..1).")
    pipeline_run_id: str = Field(description="The run.")


class TopCharacterRow(BaseModel):
    """stats/top_characters.parquet: the characters with the most dialogues, in rank order."""

    rank: int = Field(description="1 = most dialogues; ties broken by character_id.")
    character_id: str = Field(description="Stable id of the character.")
    name: str = Field(description="The character's display name (the most frequent one for the id).")
    category: str = Field(description="The character's category.")
    dialogues: int = Field(description="Dialogues of this character.")
    turns: int = Field(description="Turns over those dialogues.")
    dialogue_share: float = Field(description="dialogues / all dialogues of the run (0..1).")
    cumulative_share: float = Field(description="Share of all dialogues held by the characters of rank 1..rank (0..1).")
    pipeline_run_id: str = Field(description="The run.")


Metric = Literal[
    "turns_per_dialogue",
    "chars_per_turn",
    "chars_per_user_turn",
    "chars_per_character_turn",
    "dialogues_per_character",
    "quality.consistency",
    "quality.human_likeness",
    "quality.engagement",
    "quality.quality",
    "quality.safety",
    "quality.correctness",
    "quality.overall",
]
METRICS: tuple[str, ...] = Metric.__args__  # type: ignore[attr-defined]


class DistributionBinRow(BaseModel):
    """stats/distributions.parquet: histograms on fixed bin edges, so runs compare bin by bin."""

    metric: Metric = Field(description="What is counted; chars_* count Unicode code points of turn text; quality.* are 1-5 scores.")
    language: str = Field(description="Language code, or '*' for all languages together.")
    bin_index: int = Field(description="Position of the bin, 0 = lowest; sort by it.")
    bin_lower: float = Field(description="Inclusive lower edge of the bin.")
    bin_upper: float | None = Field(None, description="Exclusive upper edge (inclusive for the last quality bin); null = no upper bound.")
    label: str = Field(description="Human-readable bin label, e.g. '3', '10-19', '200+', '4.5-5'.")
    count: int = Field(description="Items (dialogues, turns or characters) in the bin.")
    share: float = Field(description="count / items of this metric and language (0..1).")
    pipeline_run_id: str = Field(description="The run.")


class DistributionSummaryRow(BaseModel):
    """stats/distribution_summary.parquet: moments and quantiles per metric and language."""

    metric: Metric = Field(description="As in distributions.parquet.")
    language: str = Field(description="Language code, or '*' for all languages together.")
    count: int = Field(description="Items with a value.")
    missing: int = Field(description="Items without a value (e.g. dialogues not scored on this quality dimension).")
    mean: float | None = Field(None, description="Mean (null when count = 0).")
    min: float | None = Field(None, description="Minimum.")
    p10: float | None = Field(None, description="10th percentile (nearest observed value).")
    p50: float | None = Field(None, description="Median (nearest observed value).")
    p90: float | None = Field(None, description="90th percentile (nearest observed value).")
    p99: float | None = Field(None, description="99th percentile (nearest observed value).")
    max: float | None = Field(None, description="Maximum.")
    pipeline_run_id: str = Field(description="The run.")


class FunnelStepRow(BaseModel):
    """stats/funnel.parquet: live rows into and out of every pipeline step, from the manifest's ledger."""

    step: int = Field(description="Position of the step in the pipeline (0 = the sources).")
    operator: str = Field(description="The step's YAML name.")
    input: int = Field(description="Live rows that entered the step.")
    output: int = Field(description="Live rows that left it.")
    rejected: int = Field(description="Rows it rejected.")
    rejected_share: float = Field(description="rejected / input of this step (0..1; 0 when input = 0).")
    remaining_share: float = Field(description="output / records read by the run (0..1): what is left after this step.")
    pipeline_run_id: str = Field(description="The run.")


class FunnelReasonRow(BaseModel):
    """stats/funnel_reasons.parquet: rows removed per step and reason."""

    step: int | None = Field(None, description="The step (null when the operator is in rejects/ but not in the ledger).")
    operator: str = Field(description="The operator that rejected the rows.")
    reason: str = Field(description="Machine-readable reason, e.g. 'too_few_turns'.")
    rejected: int = Field(description="Rows removed for this reason according to the ledger (0 when only rejects/ has them).")
    rejects_rows: int = Field(description="Rows with this operator and reason counted in rejects/; equals `rejected` in a consistent run.")
    share_of_input: float = Field(description="rejected / records read by the run (0..1).")
    pipeline_run_id: str = Field(description="The run.")


class DuplicateClusterRow(BaseModel):
    """stats/duplicate_clusters.parquet: how many duplicate clusters of each size a dedup operator formed."""

    operator: str = Field(description="The dedup operator whose rejects name the kept dialogue (duplicate_of).")
    cluster_size: int = Field(description="Dialogues in the cluster: the kept one plus those removed as its duplicates (>= 2).")
    clusters: int = Field(description="Clusters of this size.")
    removed: int = Field(description="Dialogues removed in those clusters: clusters * (cluster_size - 1).")
    pipeline_run_id: str = Field(description="The run.")


Section = Literal["run", "marginals", "funnel", "distribution_summary"]


class DeltaRow(BaseModel):
    """stats/deltas.parquet: this run against a previous one, one row per compared number."""

    section: Section = Field(description="Which table the number comes from: run | marginals | funnel | distribution_summary.")
    key: str = Field(description="What the number describes inside the section, e.g. 'category=celebrity', 'filters.length/too_few_turns', 'turns_per_dialogue/*'.")
    metric: str = Field(description="The column compared, e.g. 'dialogues', 'dialogue_share', 'rejected', 'p50'.")
    current: float | None = Field(None, description="Value in this run (null when the key is absent from it).")
    previous: float | None = Field(None, description="Value in the previous run (null when the key is absent from it).")
    change: float | None = Field(None, description="current - previous, absent values counting as 0 for counts and shares.")
    relative_change: float | None = Field(None, description="change / previous (null when previous is 0 or null).")
    pipeline_run_id: str = Field(description="This run.")
    previous_run_id: str = Field(description="The run compared against.")


STATS_MODELS: dict[str, type[BaseModel]] = {
    "run_summary": RunSummaryRow,
    "composition_shares": CompositionShareRow,
    "marginals": MarginalRow,
    "top_characters": TopCharacterRow,
    "distributions": DistributionBinRow,
    "distribution_summary": DistributionSummaryRow,
    "funnel": FunnelStepRow,
    "funnel_reasons": FunnelReasonRow,
    "duplicate_clusters": DuplicateClusterRow,
    "deltas": DeltaRow,
}


def stats_schema(name: str) -> pa.Schema:
    """The Arrow schema of stats/<name>.parquet, tagged with table name `stats.<name>` and the schema version."""
    if name not in STATS_MODELS:
        raise KeyError(f"unknown stats table {name!r}; known: {', '.join(STATS_MODELS)}")
    return arrow_schema(STATS_MODELS[name], f"stats.{name}")
