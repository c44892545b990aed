"""The `mix` side table: what the mixing step aimed for and achieved, one row per cell."""

from __future__ import annotations

from pydantic import BaseModel, Field

from schemas.arrow import arrow_schema


class MixShare(BaseModel):
    """One cell (category x scenario x source x language, or the dimensions mixed by) of a mixed corpus."""

    category: str | None = Field(None, description="Character category, when mixed by it.")
    scenario: str | None = Field(None, description="Scenario, when mixed by it.")
    source: str | None = Field(None, description="Source, when mixed by it.")
    language: str | None = Field(None, description="Language, when mixed by it.")
    available: int = Field(description="Live rows of the cell that reached the mix step.")
    target_share: float = Field(description="The share of the mixed corpus the targets ask for (0-1).")
    kept: int = Field(description="Rows kept (the rest were rejected with reason `mix`).")
    weighted: int = Field(description="Kept rows counted with their repeats (meta['mix.repeat']); equals kept unless repeats were allowed.")
    achieved_share: float = Field(description="weighted / the mixed corpus's weighted total.")
    pipeline_run_id: str | None = Field(None, description="The run that wrote this row.")


MIX_SCHEMA = arrow_schema(MixShare, "mix")
