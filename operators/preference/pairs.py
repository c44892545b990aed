"""`preference.pairs`: the validated preference-pair table of a run.

Earlier steps write candidate pairs into the `pairs` side table (`preference.hpi_rewrite`,
`synthesize.refine`); this step adds pairs from judge ranking — dialogues whose turns are the same up to
a final character reply (N samples per prompt, swipes turned into rows), ranked by a quality score with
a margin — then deduplicates and validates all of them and replaces the side table with the survivors.
Pairs that fail go to the `pair_rejects` side table with a reason, so none is dropped silently:

- `empty_reply`, `same_reply` (after Unicode and white-space normalisation), `speaker_mismatch`;
- `not_preferred`: a known margin <= 0 (the chosen reply is not scored higher); `small_margin`: a ranked
  pair under `min_margin`;
- `duplicate`: the same context, chosen and rejected as a pair kept from a higher-priority source
  (`duplicate_of` holds the kept pair's id); `contradictory`: two sources prefer opposite replies;
- `invalid_pair`: the row fails the PreferencePair model; `dialogue_rejected`: its dialogue did not reach
  the corpus (only with `require_live_dialogue`).

Pairs get the split of their character when they have none, so they follow the corpus's character-disjoint
splits. The step sees every row (it is global): put it after every step that writes pairs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import unicodedata
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pydantic import Field, ValidationError, field_validator

from operators.arrow_lists import combined
from operators.base import Operator, OperatorConfig
from operators.columns import REJECT_REASON
from operators.quality.dimensions import QualityDimension
from operators.registry import register
from schemas.arrow import from_arrow_row
from schemas.records import PreferencePair
from schemas.tables import REJECT_SCHEMA, TABLES

logger = logging.getLogger(__name__)
PAIR_SCHEMA = TABLES["preference_pair"].schema
PAIR_SOURCES = ("hpi_rewrite", "self_refine", "judge_ranked")
SUMMARY_SCHEMA = pa.schema(
    [
        ("dialogue_id", pa.string()),
        ("character_id", pa.string()),
        ("split", pa.string()),
        ("context_key", pa.string()),
        ("reply_key", pa.string()),
        ("score", pa.float64()),
    ]
)
ROW_COLUMNS = ("dialogue_id", "character_id", "character", "user_role", "scenario", "language", "turns", "split", "source_ref", "quality")


class PairsConfig(OperatorConfig):
    min_margin: float = Field(1.0, gt=0, description="Smallest score difference for a judge-ranked pair.")
    rank_by: QualityDimension = Field("overall", description="The quality dimension candidates are ranked by.")
    ranking: Literal["best_vs_worst", "best_vs_rest", "all_pairs"] = Field(
        "best_vs_rest", description="Which ranked candidates pair up: the best with the worst, the best with each worse one, or every ordered pair."
    )
    source_priority: list[str] = Field(default_factory=lambda: list(PAIR_SOURCES), description="Which pair survives a duplicate, best first.")
    require_live_dialogue: bool = Field(False, description="Reject pairs whose dialogue was rejected by the pipeline.")

    @field_validator("source_priority")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = set(value) - set(PAIR_SOURCES)
        if unknown:
            raise ValueError(f"unknown pair sources {sorted(unknown)}; known: {list(PAIR_SOURCES)}")
        return value + [s for s in PAIR_SOURCES if s not in value]


def normalized(text: str | None) -> str:
    """Text compared for sameness: NFKC, white space collapsed, case folded."""
    return " ".join(unicodedata.normalize("NFKC", text or "").split()).casefold()


def _digest(*parts: Any) -> str:
    return hashlib.blake2b(json.dumps(parts, ensure_ascii=False).encode("utf-8"), digest_size=16).hexdigest()


def context_key(character_id: str | None, turns: list[dict[str, Any]]) -> str:
    """Same character and same turns (role, speaker, normalised text): the same context."""
    return _digest(character_id, [(t["role"], t["speaker"], normalized(t["text"])) for t in turns])


def summarize(batch: pa.Table, rank_by: str) -> pa.Table:
    """Per live row, what ranking and validation need: ids, split, context and reply keys, the score.

    A row is a ranking candidate (non-null context_key) when it ends with a character turn and is scored."""
    if REJECT_REASON in batch.column_names:
        batch = batch.filter(pc.is_null(batch.column(REJECT_REASON)))
    ids, characters, splits = (combined(batch.column(c)).to_pylist() for c in ("dialogue_id", "character_id", "split"))
    scores = pc.struct_field(combined(batch.column("quality")), rank_by).to_pylist()
    contexts, replies = [], []
    for turns, character, score in zip(combined(batch.column("turns")).to_pylist(), characters, scores, strict=True):
        if score is None or not turns or turns[-1]["role"] != "character":
            contexts.append(None)
            replies.append(None)
            continue
        contexts.append(context_key(character, turns[:-1]))
        replies.append(normalized(turns[-1]["text"]))
    return pa.table([ids, characters, splits, contexts, replies, scores], schema=SUMMARY_SCHEMA)


def ranked_groups(summary: pa.Table) -> dict[str, list[tuple[str, float]]]:
    """context_key -> [(dialogue_id, score)] for contexts with at least two different replies."""
    groups: dict[str, dict[str, tuple[str, float]]] = {}
    for row in summary.filter(pc.is_valid(summary.column("context_key"))).to_pylist():
        replies = groups.setdefault(row["context_key"], {})
        best = replies.get(row["reply_key"])
        # the same reply twice (duplicate samples) counts once, with its better score and smaller id
        if best is None or (row["score"], best[0]) > (best[1], row["dialogue_id"]):
            replies[row["reply_key"]] = (row["dialogue_id"], row["score"])
    return {key: sorted(replies.values(), key=lambda c: (-c[1], c[0])) for key, replies in groups.items() if len(replies) >= 2}


def ranked_pairs(groups: dict[str, list[tuple[str, float]]], rows: dict[str, dict[str, Any]], config: PairsConfig, run_id: str) -> list[dict[str, Any]]:
    """Judge-ranked pairs from candidate groups (best first); margins under min_margin are kept here and
    rejected by validation, so the table of rejects says why a group gave no pair."""
    out = []
    for candidates in groups.values():
        if config.ranking == "best_vs_worst":
            combos = [(candidates[0], candidates[-1])]
        elif config.ranking == "best_vs_rest":
            combos = [(candidates[0], other) for other in candidates[1:]]
        else:
            combos = [(a, b) for i, a in enumerate(candidates) for b in candidates[i + 1 :]]
        for (chosen_id, chosen_score), (rejected_id, rejected_score) in combos:
            chosen, rejected = rows[chosen_id], rows[rejected_id]
            final_chosen, final_rejected = chosen["turns"][-1], rejected["turns"][-1]
            out.append(
                {
                    "pair_id": "p_" + _digest("judge_ranked", chosen_id, rejected_id, final_chosen["text"], final_rejected["text"])[:32],
                    "dialogue_id": chosen_id,
                    "character_id": chosen["character_id"],
                    "character": chosen["character"],
                    "user_role": chosen["user_role"],
                    "scenario": chosen["scenario"],
                    "language": chosen["language"],
                    "context": chosen["turns"][:-1],
                    "chosen": {"speaker": final_chosen["speaker"], "text": final_chosen["text"]},
                    "rejected": {"speaker": final_rejected["speaker"], "text": final_rejected["text"]},
                    "pair_source": "judge_ranked",
                    "margin": round(chosen_score - rejected_score, 4),
                    "split": chosen["split"],
                    "source_ref": f"{chosen_id} > {rejected_id} by {(chosen.get('quality') or {}).get('scorer') or 'unknown scorer'}",
                    "pipeline_run_id": run_id,
                }
            )
    return out


def _problem(pair: dict[str, Any], config: PairsConfig, live: set[str] | None) -> tuple[str, str] | None:
    chosen, rejected = pair["chosen"] or {}, pair["rejected"] or {}
    if not normalized(chosen.get("text")) or not normalized(rejected.get("text")):
        return "empty_reply", "chosen or rejected reply is empty"
    if normalized(chosen["text"]) == normalized(rejected["text"]):
        return "same_reply", "chosen and rejected replies are the same text"
    if chosen.get("speaker") != rejected.get("speaker"):
        return "speaker_mismatch", f"chosen is spoken by {chosen.get('speaker')!r}, rejected by {rejected.get('speaker')!r}"
    margin = pair.get("margin")
    if margin is not None and margin <= 0:
        return "not_preferred", f"margin {margin:g}: the chosen reply is not scored higher"
    if pair.get("pair_source") == "judge_ranked" and (margin is None or margin < config.min_margin):
        return "small_margin", f"margin {margin} < min_margin {config.min_margin:g}"
    if live is not None and pair.get("dialogue_id") not in live:
        return "dialogue_rejected", f"dialogue {pair.get('dialogue_id')} did not reach the corpus"
    try:
        PreferencePair.model_validate(from_arrow_row(PreferencePair, pair))
    except ValidationError as error:
        first = error.errors()[0]
        return "invalid_pair", f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return None


def validate_pairs(
    pairs: list[dict[str, Any]], config: PairsConfig, splits: dict[str, str], live: set[str] | None, run_id: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(kept pairs, reject rows): rule checks, then duplicates and contradictions across sources."""
    kept: dict[str, dict[str, Any]] = {}
    contradicted: set[str] = set()
    rejects: list[dict[str, Any]] = []
    priority = {s: i for i, s in enumerate(config.source_priority)}

    def reject(pair: dict[str, Any], reason: str, detail: str, duplicate_of: str | None = None) -> None:
        rejects.append(
            {
                "operator": PairsStep.name,
                "reason": reason,
                "detail": f"pair {pair.get('pair_id')} ({pair.get('pair_source')}): {detail}",
                "input_file": None,
                "input_line": None,
                "dialogue_id": pair.get("dialogue_id"),
                "duplicate_of": duplicate_of,
                "record": json.dumps(from_arrow_row(PreferencePair, pair), ensure_ascii=False, default=str),
                "pipeline_run_id": run_id,
            }
        )

    order = sorted(pairs, key=lambda p: (priority.get(p.get("pair_source"), len(priority)), p.get("pair_id") or ""))
    seen_ids: set[str] = set()
    for pair in order:
        if pair.get("pair_id") in seen_ids:
            continue  # the same pair written twice (a retried task): one copy, nothing to report
        seen_ids.add(pair.get("pair_id"))
        problem = _problem(pair, config, live)
        if problem is not None:
            reject(pair, *problem)
            continue
        context = context_key(pair["character_id"], pair["context"] or [])
        chosen, rejected = normalized(pair["chosen"]["text"]), normalized(pair["rejected"]["text"])
        key, flipped = _digest(context, chosen, rejected), _digest(context, rejected, chosen)
        if key in contradicted or flipped in contradicted:
            reject(pair, "contradictory", "other pairs prefer each of these two replies")
        elif key in kept:
            reject(pair, "duplicate", f"same context and replies as pair {kept[key]['pair_id']}", kept[key]["pair_id"])
        elif flipped in kept:
            other = kept.pop(flipped)
            contradicted.add(key)
            reject(other, "contradictory", f"pair {pair['pair_id']} ({pair['pair_source']}) prefers the other reply")
            reject(pair, "contradictory", f"pair {other['pair_id']} ({other['pair_source']}) prefers the other reply")
        else:
            split = pair.get("split") or splits.get(pair["character_id"])
            kept[key] = {**pair, "split": split, "pipeline_run_id": run_id}
    valid = sorted(kept.values(), key=lambda p: p["pair_id"])
    return valid, rejects


@register
class PairsStep(Operator):
    name: ClassVar[str] = "preference.pairs"
    Config = PairsConfig
    reads = frozenset(ROW_COLUMNS)
    summary = "Collects preference pairs (HPI rewrites, self-refinement, judge ranking with a margin), dedups and validates them into the `pairs` table."

    def apply(self, ds: Any, schema: pa.Schema, partitions: int) -> Any:
        """On Ray: wait for every earlier step (their pairs are then all written), summarise rows in
        parallel, fetch only ranking candidates to the driver, and rewrite the side tables there."""
        del schema, partitions  # rows pass through unchanged
        ds = ds.materialize()
        config: PairsConfig = self.config  # type: ignore[assignment]
        summary = pa.concat_tables(
            [pa.table(b) for b in ds.map_batches(lambda b: summarize(b, config.rank_by), batch_format="pyarrow").iter_batches(batch_format="pyarrow", batch_size=None)]
            or [SUMMARY_SCHEMA.empty_table()]
        ).cast(SUMMARY_SCHEMA)

        def fetch(ids: set[str]) -> pa.Table:
            wanted = pa.array(sorted(ids), pa.string())
            chosen = ds.map_batches(lambda b: b.select(list(ROW_COLUMNS)).filter(pc.is_in(b.column("dialogue_id"), value_set=wanted)), batch_format="pyarrow")
            return pa.concat_tables([pa.table(b) for b in chosen.iter_batches(batch_format="pyarrow", batch_size=None)])

        self.build(summary, fetch)
        return ds

    def __call__(self, batch: pa.Table) -> pa.Table:
        """In-process: the whole (live) table at once."""
        config: PairsConfig = self.config  # type: ignore[assignment]
        self.build(summarize(batch, config.rank_by), lambda ids: batch.select(list(ROW_COLUMNS)).filter(pc.is_in(batch.column("dialogue_id"), value_set=pa.array(sorted(ids), pa.string()))))
        return batch

    def build(self, summary: pa.Table, fetch: Callable[[set[str]], pa.Table]) -> tuple[int, int]:
        """Collect, rank, validate; replace the `pairs` side table and write `pair_rejects`. Returns (kept, rejected)."""
        config: PairsConfig = self.config  # type: ignore[assignment]
        run_id = self.context.run_id
        collected = self._collected()
        groups = ranked_groups(summary)
        ids = {dialogue_id for candidates in groups.values() for dialogue_id, _ in candidates}
        rows = {r["dialogue_id"]: r for r in fetch(ids).to_pylist()} if ids else {}
        pairs = [r for t in collected for r in t.to_pylist()] + ranked_pairs(groups, rows, config, run_id)
        splits = {c: s for c, s in zip(summary.column("character_id").to_pylist(), summary.column("split").to_pylist(), strict=True) if s}
        live = set(summary.column("dialogue_id").to_pylist()) if config.require_live_dialogue else None
        valid, rejects = validate_pairs(pairs, config, splits, live, run_id)
        self._replace(valid, rejects)
        by_source = Counter(p["pair_source"] for p in valid)
        by_reason = Counter(r["reason"] for r in rejects)
        logger.info("preference.pairs: %d pair(s) kept %s, %d rejected %s", len(valid), dict(by_source), len(rejects), dict(by_reason))
        return len(valid), len(rejects)

    def _pairs_dir(self) -> Path | None:
        return Path(self.context.staging_dir) / "pairs" if self.context.staging_dir else None

    def _collected(self) -> list[pa.Table]:
        folder = self._pairs_dir()
        if folder is None or not folder.is_dir():
            return []
        return [pq.read_table(p).cast(PAIR_SCHEMA) for p in sorted(folder.glob("part-*.parquet"))]

    def _replace(self, valid: list[dict[str, Any]], rejects: list[dict[str, Any]]) -> None:
        folder = self._pairs_dir()
        if folder is None:
            if valid or rejects:
                raise RuntimeError("preference.pairs ran outside a run: no staging directory to write the pairs table into")
            return
        stale = sorted(folder.glob("part-*.parquet")) if folder.is_dir() else []
        written = self.context.side_output("pairs", pa.Table.from_pylist(valid, schema=PAIR_SCHEMA))
        for path in stale:
            if str(path) != written:
                os.unlink(path)
        self.context.side_output("pair_rejects", pa.Table.from_pylist(rejects, schema=REJECT_SCHEMA))
