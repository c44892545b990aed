"""What the dedup operators share: the survivor policy's source order, and the dialogue ids they key on."""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import AfterValidator

from operators.arrow_lists import combined
from schemas import SOURCES

# Survivor (or owner) preference, best first: the most authentic copy of a dialogue or reply is kept.
DEFAULT_PRIORITY = ["human_roleplay", "human_prototype", "import", "extraction", "synthesis"]


def _known_sources(value: list[str]) -> list[str]:
    unknown = set(value) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown sources {sorted(unknown)}; known: {list(SOURCES)}")
    return value


# A config field type: a list of known `source` values, validated with a message naming the unknown ones.
SourcePriority = Annotated[list[str], AfterValidator(_known_sources)]


def dialogue_ids(batch: pa.Table, operator: str) -> pa.Array:
    """The batch's `dialogue_id` column as one array; a null id is a clear error naming the row."""
    uids = combined(batch.column("dialogue_id"))
    if uids.null_count:
        row = pc.index(pc.is_null(uids), True).as_py()
        raise ValueError(f"{operator}: dialogue_id is null in row {row} of a batch; every live dialogue needs its id")
    return uids
