"""`preference.swipes`: SillyTavern swipes as preference pairs, written to the `pairs` side table.

A SillyTavern user browses alternative replies ("swipes") and carries the chat on with one of them. For
every character turn that kept one swipe out of several (`meta["sillytavern.turns"]`, see read.sillytavern):
context = the turns before it, chosen = the kept reply, rejected = each swipe passed over (HTML stripped,
empty and identical ones skipped), `pair_source = swipe_choice`. The signal is the user's choice, weaker
than a rewrite: a judge or the pairs stage can re-rank these candidates. Rows pass through unchanged.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from operators.ingest.sillytavern import strip_html
from operators.preference.hpi_rewrite import RowPairs, pair_row
from operators.registry import register
from schemas.arrow import from_arrow_map


def swipe_pairs(row: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
    """The preference pairs of one dialogue row (none when no turn kept one swipe out of several)."""
    meta = from_arrow_map(row["meta"]) or {}
    if "sillytavern.turns" not in meta:
        return []
    turns = row["turns"] or []
    pairs = []
    for index, (turn, extra) in enumerate(zip(turns, json.loads(meta["sillytavern.turns"]), strict=False)):
        swipes = (extra or {}).get("swipes")
        if turn["role"] != "character" or not isinstance(swipes, list) or len(swipes) < 2:
            continue
        kept = extra.get("swipe_id")
        seen = {turn["text"].strip()}
        for position, swipe in enumerate(swipes):
            text = strip_html(swipe) if isinstance(swipe, str) else ""
            if position == kept or not text.strip() or text.strip() in seen:
                continue
            seen.add(text.strip())
            pairs.append(pair_row(row, index, turn["text"], text, "swipe_choice", run_id))
    return pairs


@register
class SwipePairs(RowPairs):
    name: ClassVar[str] = "preference.swipes"
    summary = "SillyTavern swipes -> preference pairs (chosen: the kept swipe, rejected: those passed over) in the `pairs` side table."

    def pairs_of(self, row: dict[str, Any], run_id: str) -> list[dict[str, Any]]:
        return swipe_pairs(row, run_id)
