"""`preference.hpi_rewrite`: HPI rewrites as preference pairs, written to the `pairs` side table.

For every character turn of an HPI dialogue that a human rewrote (`meta["hpi.turns"]`, see read.hpi):
context = the turns before it, chosen = the human rewrite, rejected = the model's output,
`pair_source = hpi_rewrite`. It runs where the pipeline puts it, after `privacy.pii` and
`privacy.consent`, so pairs carry only what the corpus may carry and opted-out sessions give none.
Rows pass through unchanged.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

import pyarrow as pa

from operators.base import Operator, OperatorConfig
from operators.registry import register
from schemas.arrow import from_arrow_map
from schemas.tables import TABLES

PAIR_SCHEMA = TABLES["preference_pair"].schema
COLUMNS = ("dialogue_id", "character_id", "character", "user_role", "scenario", "language", "turns", "meta", "split", "source_ref")


def pair_id(dialogue_id: str, turn: int, chosen: str, rejected: str) -> str:
    """`p_` + hash of the dialogue, the turn and both replies: stable across runs."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (dialogue_id, str(turn), chosen, rejected):
        digest.update(part.encode("utf-8") + b"\x1f")
    return "p_" + digest.hexdigest()


def rewrite_pairs(row: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    """The preference pairs of one dialogue row (none when it has no HPI rewrites)."""
    meta = from_arrow_map(row["meta"]) or {}
    if "hpi.turns" not in meta:
        return []
    turns = row["turns"] or []
    extras = json.loads(meta["hpi.turns"])
    pairs = []
    for index, (turn, extra) in enumerate(zip(turns, extras, strict=False)):
        if not extra or turn["role"] != "character":
            continue
        if extra.get("text_is") == "rewrite":
            chosen, rejected = turn["text"], extra["model_output"]
        elif extra.get("text_is") == "model_output":
            chosen, rejected = extra["rewrite"], turn["text"]
        else:
            continue
        if chosen.strip() == rejected.strip():
            continue  # a rewrite identical to the output states no preference
        pairs.append(pair_row(row, index, chosen, rejected, "hpi_rewrite", run_id))
    return pairs


def pair_row(row: dict[str, Any], index: int, chosen: str, rejected: str, source: str, run_id: str) -> dict[str, Any]:
    """A pairs-table row: the turns before `index` as context, two replies by that turn's speaker."""
    speaker = row["turns"][index]["speaker"]
    return {
        "pair_id": pair_id(row["dialogue_id"], index, chosen, rejected),
        "dialogue_id": row["dialogue_id"],
        "character_id": row["character_id"],
        "character": row["character"],
        "user_role": row["user_role"],
        "scenario": row["scenario"],
        "language": row["language"],
        "context": row["turns"][:index],
        "chosen": {"speaker": speaker, "text": chosen},
        "rejected": {"speaker": speaker, "text": rejected},
        "pair_source": source,
        "margin": None,
        "split": row["split"],
        "source_ref": f"{row['source_ref']}#turn={index}" if row["source_ref"] else None,
        "pipeline_run_id": run_id,
    }


class RowPairs(Operator):
    """Base of operators that read preference pairs out of dialogue rows into the `pairs` side table;
    rows pass through unchanged. Subclasses give `pairs_of(row, run_id)`."""

    Config = OperatorConfig
    reads = frozenset(COLUMNS)

    def pairs_of(self, row: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def __call__(self, batch: pa.Table) -> pa.Table:
        pairs = [pair for row in batch.select(list(COLUMNS)).to_pylist() for pair in self.pairs_of(row, self.context.run_id)]
        if pairs:
            self.context.side_output("pairs", pa.Table.from_pylist(pairs, schema=PAIR_SCHEMA))
        return batch


@register
class HpiRewritePairs(RowPairs):
    name: ClassVar[str] = "preference.hpi_rewrite"
    summary = "HPI rewrites -> preference pairs (chosen: human rewrite, rejected: model output) in the `pairs` side table."

    def pairs_of(self, row: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
        return rewrite_pairs(row, run_id)
