"""`dedup.exact`: exact duplicates by a normalized content hash, global across all sources.

The survivor of each group is chosen by policy, not arrival order: source priority, then quality,
then the smallest dialogue_id, so the same input gives the same survivors in any block layout.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from operators.arrow_lists import combined, turn_field
from operators.base import GlobalOperator, OperatorConfig
from operators.columns import DUPLICATE_OF, REJECT_DETAIL, REJECT_REASON
from operators.dedup.policy import DEFAULT_PRIORITY, SourcePriority
from operators.registry import register

# Punctuation, symbols and white space carry no content for duplicate detection.
_NOISE = r"[\p{P}\p{S}\s]+"


class ExactDedupConfig(OperatorConfig):
    source_priority: SourcePriority = Field(default_factory=lambda: list(DEFAULT_PRIORITY), description="Survivor preference, best first.")


def normalized_content_hash(batch: pa.Table) -> pa.Array:
    """Per row: hash of the character name and each turn's role and text, case/width/punctuation-folded."""
    turns = combined(batch.column("turns"))
    texts = pc.utf8_lower(pc.utf8_normalize(turn_field(turns, "text"), "NFKC"))
    texts = pc.replace_substring_regex(texts, _NOISE, "")
    pieces = pc.binary_join_element_wise(turn_field(turns, "role"), texts, ":")
    offsets = turns.offsets
    if len(offsets) and offsets[0].as_py() != 0:
        offsets = pc.subtract(offsets, offsets[0])
    per_dialogue = pc.binary_join(pa.ListArray.from_arrays(offsets, pieces), "\x1e")
    names = pc.utf8_lower(pc.utf8_normalize(pc.struct_field(combined(batch.column("character")), "name"), "NFKC"))
    keys = pc.binary_join_element_wise(pc.fill_null(names, ""), pc.fill_null(per_dialogue, ""), "\x1e")
    return pa.array([hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest() for key in keys.to_pylist()], pa.string())


@register
class ExactDedup(GlobalOperator):
    name: ClassVar[str] = "dedup.exact"
    Config = ExactDedupConfig
    key: ClassVar[str] = "content_hash"
    reads = frozenset({"turns", "character", "source", "quality", "dialogue_id"})
    writes = frozenset({"content_hash", "dup_cluster_id"})
    summary = "Rejects exact duplicates (normalized content hash); the survivor is chosen by source priority, quality, id."

    def keyed(self, batch: pa.Table) -> pa.Table:
        return batch.set_column(batch.schema.get_field_index("content_hash"), "content_hash", normalized_content_hash(batch))

    def reduce(self, group: pa.Table) -> pa.Table:
        if group.num_rows < 2:
            return group
        priority = {source: rank for rank, source in enumerate(self.config.source_priority)}  # type: ignore[attr-defined]
        sources = group.column("source").to_pylist()
        ids = group.column("dialogue_id").to_pylist()
        quality = group.column("quality").to_pylist()
        overall = [(q or {}).get("overall") for q in quality]

        def rank(i: int) -> tuple:
            return (priority.get(sources[i], len(priority)), -(overall[i] if overall[i] is not None else float("-inf")), ids[i])

        survivor = min(range(group.num_rows), key=rank)
        key = group.column("content_hash")[0].as_py()
        reasons = [None if i == survivor else "duplicate" for i in range(group.num_rows)]
        details = [None if i == survivor else f"exact duplicate of {ids[survivor]} (content_hash {key})" for i in range(group.num_rows)]
        duplicate_of = [None if i == survivor else ids[survivor] for i in range(group.num_rows)]
        cluster = [f"x_{key}"] * group.num_rows
        for name, values in ((REJECT_REASON, reasons), (REJECT_DETAIL, details), (DUPLICATE_OF, duplicate_of), ("dup_cluster_id", cluster)):
            group = group.set_column(group.schema.get_field_index(name), name, pa.array(values, pa.string()))
        return group
