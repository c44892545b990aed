"""`dedup.replies`: character replies reused across dialogues (the same reply in many synthetic dialogues).

Conversation-level dedup (`dedup.exact`, `dedup.minhash`) removes dialogues that are copies as a whole.
A generator can also write new dialogues out of stock replies: every dialogue differs, but the character
keeps saying the same lines. This step finds those lines, top to bottom (the same functions on Ray and
in-process, so both give the same verdicts):

1. `replies` (per batch): each character turn's text is normalised (`shingles.normalize`: NFKC, case,
   width, punctuation and white space folded) and hashed to a 64-bit `reply_key`; turns shorter than
   `min_chars` normalised characters are never keys ("Yes." and "嗯嗯" legitimately repeat). One row per
   (dialogue, distinct key), with how many of its turns say it and the dialogue's survivor-policy fields.
2. Shared keys: keys found in two or more dialogues (`groupby` on Ray, one numpy sort in-process); only
   their rows go on.
3. `resolve` (driver): dialogues in policy order (source priority, higher `quality.overall`, smaller
   `dialogue_id`). A dialogue's reply is *reused* when `keep_per_reply` better-ranked dialogues that are
   kept already say it; a dialogue is rejected when enough of its character turns are reused. A rejected
   dialogue owns nothing, so a reply whose best user was rejected goes to the next user that is kept
   (a reply never leaves the corpus only because every dialogue saying it lost *other* replies).
4. `mark` (per batch): `reply_reused_count`, `reply_reused_frac` and `reply_reused_of` on every row;
   rejected rows get `_reject_reason='reused_replies'`, a detail and `_duplicate_of`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from operators.arrow_lists import combined, parents, turn_field
from operators.base import Blocks, GlobalOperator, OperatorConfig, Resources, Spill, stream_in_memory
from operators.columns import DUPLICATE_OF, REJECT_DETAIL, REJECT_REASON
from operators.dedup.policy import DEFAULT_PRIORITY, SourcePriority, dialogue_ids
from operators.dedup.shingles import normalize
from operators.filters.scores import with_scores
from operators.registry import register

log = logging.getLogger(__name__)

REASON = "reused_replies"
REUSED_COUNT = pa.field("reply_reused_count", pa.int32())
REUSED_FRAC = pa.field("reply_reused_frac", pa.float32())
REUSED_OF = pa.field("reply_reused_of", pa.string())
BUCKET = "bucket"
_KEY_SEED = 0x5245_504C  # polars hash seed: any fixed value; keys live for one run only
REPLY_SCHEMA = pa.schema(
    [
        pa.field("reply_key", pa.uint64()),
        pa.field("uid", pa.string()),
        pa.field("turns", pa.int32()),  # character turns of this dialogue saying this reply
        pa.field("character_turns", pa.int32()),  # all character turns of the dialogue
        pa.field("source", pa.string()),
        pa.field("overall", pa.float64()),
    ]
)
VERDICT_SCHEMA = pa.schema(
    [
        pa.field("uid", pa.string()),
        REUSED_COUNT,
        REUSED_FRAC,
        REUSED_OF,
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
    ]
)


class ReplyDedupConfig(OperatorConfig):
    min_chars: int = Field(
        12,
        ge=1,
        description="Replies with fewer normalised characters (spaces not counted) are never compared: stock back-channel lines repeat.",
    )
    keep_per_reply: int = Field(
        1, ge=1, description="Kept dialogues that may say the same reply; in any further dialogue it counts as reused."
    )
    min_reused: int = Field(2, ge=1, description="Reject only with at least this many reused character turns (one shared line is a quirk).")
    min_reused_frac: float = Field(0.5, gt=0, le=1, description="...and at least this share of the dialogue's character turns reused.")
    action: Literal["reject", "flag"] = Field(
        "reject", description="'reject': reject dialogues over both thresholds; 'flag': write the scores only."
    )
    source_priority: SourcePriority = Field(default_factory=lambda: list(DEFAULT_PRIORITY), description="Owner preference, best first.")
    shuffle: Literal["sort_shuffle_pull_based", "hash_shuffle", "shuffle_v2", "default"] = Field(
        "sort_shuffle_pull_based", description="Ray shuffle for the reply-key groupby (see dedup.minhash: no aggregator actors)."
    )
    num_partitions: int = Field(
        4, ge=1, description="Hash partitions of the reply-key groupby on Ray (Ray's default of 200 is wrong for small machines)."
    )
    rows_per_slice: int = Field(
        20_000,
        ge=1,
        description="`__call__` on one in-memory table: dialogues read at a time (no effect on results; pipelines stream their own blocks).",
    )


@dataclass
class Report:
    """What one run of the step found (logged)."""

    shared_replies: int = 0  # distinct reply keys said in two or more dialogues
    dialogues_sharing: int = 0  # dialogues saying at least one of them
    dialogues_reusing: int = 0  # dialogues with at least one reused reply
    reused_turns: int = 0
    rejected: int = 0


def _uids(batch: pa.Table) -> pa.Array:
    return dialogue_ids(batch, "dedup.replies")


def reply_keys(texts: pa.Array, min_chars: int) -> tuple[pa.Array, np.ndarray]:
    """(64-bit key of each text's normalised form, whether the text is long enough to be a key)."""
    normal = normalize(pc.fill_null(texts, ""))
    # normalize() sets CJK characters apart with spaces: count characters without them.
    chars = pc.subtract(pc.utf8_length(normal), pc.count_substring(normal, " "))
    long_enough = pc.greater_equal(chars, min_chars).to_numpy(zero_copy_only=False)
    keys = pl.from_arrow(normal).hash(seed=_KEY_SEED).to_arrow()
    return keys, long_enough


def replies(batch: pa.Table, min_chars: int) -> pa.Table:
    """One row per (dialogue, distinct reply key) of the batch's character turns, with the policy fields."""
    uids = _uids(batch)
    turns = combined(batch.column("turns"))
    owner = parents(turns).to_numpy(zero_copy_only=False)
    character = pc.fill_null(pc.equal(turn_field(turns, "role"), "character"), False).to_numpy(zero_copy_only=False)
    character_turns = np.bincount(owner[character], minlength=batch.num_rows)
    texts = turn_field(turns, "text").filter(pa.array(character))
    keys, long_enough = reply_keys(texts, min_chars)
    keys = keys.to_numpy(zero_copy_only=False)[long_enough]
    owner = owner[character][long_enough]
    # Distinct (dialogue, key) pairs and how many turns each: sort, then run boundaries.
    order = np.lexsort((keys, owner))
    keys, owner = keys[order], owner[order]
    starts = np.flatnonzero(np.concatenate([[True], (np.diff(owner) != 0) | (np.diff(keys) != 0)])) if len(keys) else np.zeros(0, np.int64)
    counts = np.diff(np.append(starts, len(keys)))
    dialogue = pa.array(owner[starts], pa.int64())
    quality = combined(batch.column("quality"))
    overall = pc.struct_field(quality, "overall") if len(quality) else pa.array([], pa.float64())
    return pa.table(
        {
            "reply_key": pa.array(keys[starts], pa.uint64()),
            "uid": uids.take(dialogue),
            "turns": pa.array(counts, pa.int32()),
            "character_turns": pa.array(character_turns[owner[starts]], pa.int32()),
            "source": combined(batch.column("source")).take(dialogue),
            "overall": pc.cast(overall, pa.float64()).take(dialogue),
        },
        schema=REPLY_SCHEMA,
    )


def shared_keys(keys: np.ndarray) -> np.ndarray:
    """The keys that occur in two or more rows (rows are distinct per dialogue: two or more dialogues), sorted."""
    values, counts = np.unique(keys, return_counts=True)
    return values[counts > 1]


def shared_rows(rows: pa.Table) -> pa.Table:
    """The rows whose key is shared, from a table holding every row of its keys (one Ray hash partition)."""
    rows = rows.select(REPLY_SCHEMA.names)
    keys = combined(rows.column("reply_key"))
    shared = shared_keys(keys.to_numpy(zero_copy_only=False))
    return rows.filter(pc.is_in(keys, value_set=pa.array(shared, pa.uint64())))


def bucketed(rows: pa.Table, partitions: int) -> pa.Table:
    """Reply rows with a `bucket` column (the key modulo `partitions`): the Ray groupby key.

    Grouping by `reply_key` itself would call Python once per distinct reply (nearly every reply is
    distinct); a bucket holds every row of its keys, so `shared_rows` sees whole groups."""
    buckets = np.remainder(combined(rows.column("reply_key")).to_numpy(zero_copy_only=False), np.uint64(partitions))
    return rows.append_column(BUCKET, pa.array(buckets.astype(np.int64), pa.int64()))


def _policy_order(shared: pa.Table, config: ReplyDedupConfig) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(the distinct dialogues' ids in policy order, each row's dialogue as its rank, per ranked dialogue its
    character turns): source priority, then higher quality (missing or NaN last), then the smaller id."""
    encoded = pc.dictionary_encode(combined(shared.column("uid")))
    uids, codes = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
    _, first = np.unique(codes, return_index=True)  # one row per dialogue, in dictionary order
    first = pa.array(first, pa.int64())
    overall = combined(shared.column("overall")).take(first)
    sources = combined(shared.column("source")).take(first)
    priority = pc.fill_null(pc.index_in(sources, value_set=pa.array(config.source_priority, pa.string())), len(config.source_priority))
    worse = pc.negate(pc.if_else(pc.is_nan(overall), None, overall))
    policy = pa.table({"priority": priority, "worse": worse, "uid": uids})
    order = pc.sort_indices(policy, sort_keys=[("priority", "ascending"), ("worse", "ascending"), ("uid", "ascending")])  # nulls last
    order = order.to_numpy(zero_copy_only=False)
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    character_turns = combined(shared.column("character_turns")).take(first).to_numpy(zero_copy_only=False)[order]
    return uids.take(pa.array(order, pa.int64())), rank[codes], character_turns.astype(np.int64)


def _before_in_group(flags: np.ndarray, group_start: np.ndarray) -> np.ndarray:
    """For rows sorted by group: how many earlier rows of the same group have the flag set."""
    flags = flags.astype(np.int64)
    running = np.cumsum(flags) - flags
    return running - running[group_start]


def _reused_turns(kept_before: np.ndarray, dialogue: np.ndarray, turns: np.ndarray, dialogues: int, keep: int) -> np.ndarray:
    return np.bincount(dialogue, weights=np.where(kept_before >= keep, turns, 0), minlength=dialogues).astype(np.int64)


def _rejects(reused: np.ndarray, character_turns: np.ndarray, config: ReplyDedupConfig) -> np.ndarray:
    return (reused >= config.min_reused) & (reused / np.maximum(character_turns, 1) >= config.min_reused_frac)


def _greedy_kept(
    dialogue: np.ndarray, key: np.ndarray, turns: np.ndarray, group_start: np.ndarray, character_turns: np.ndarray, config: ReplyDedupConfig
) -> np.ndarray:
    """Which dialogues are kept when each is judged, in policy order, against the kept dialogues better than it.

    Judged against *all* better dialogues (vectorised) a dialogue has at least as many reused replies as
    against the kept ones only, so every dialogue that passes that test is kept; only the others, the
    candidates, need the sequential pass, and their kept better users are the non-candidates (counted
    vectorised) plus the candidates already kept."""
    dialogues = len(character_turns)
    candidate = _rejects(
        _reused_turns(_before_in_group(np.ones(len(dialogue), bool), group_start), dialogue, turns, dialogues, config.keep_per_reply),
        character_turns,
        config,
    )
    kept = ~candidate
    if not candidate.any():
        return kept
    base = _before_in_group(kept[dialogue], group_start)  # kept-for-sure users of the reply ranked better
    rows = np.flatnonzero(candidate[dialogue])
    rows = rows[np.lexsort((key[rows], dialogue[rows]))]  # candidates' rows, in policy order
    keep, min_reused, min_frac = config.keep_per_reply, config.min_reused, config.min_reused_frac
    kept_candidates = np.zeros(int(key.max()) + 1, np.int64).tolist()
    row_dialogue, row_key, row_turns, row_base = dialogue[rows].tolist(), key[rows].tolist(), turns[rows].tolist(), base[rows].tolist()
    turns_of = character_turns.tolist()
    start = 0
    while start < len(rows):  # one dialogue's rows at a time
        me, end, reused = row_dialogue[start], start, 0
        while end < len(rows) and row_dialogue[end] == me:
            if row_base[end] + kept_candidates[row_key[end]] >= keep:
                reused += row_turns[end]
            end += 1
        if not (reused >= min_reused and reused / turns_of[me] >= min_frac):
            kept[me] = True
            for j in range(start, end):
                kept_candidates[row_key[j]] += 1
        start = end
    return kept


def _main_owner(
    reused_rows: np.ndarray, group: np.ndarray, dialogue: np.ndarray, kept_before: np.ndarray, kept_row: np.ndarray, groups: int, keep: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dialogue, the kept dialogue it shares most reused replies with, how many) for every dialogue with a
    reused reply; a reused reply's owners are the first `keep` kept dialogues saying it; ties go to the better-ranked."""
    owners = np.full((groups, keep), -1, np.int64)
    first = np.flatnonzero(kept_row & (kept_before < keep))
    owners[group[first], kept_before[first]] = dialogue[first]
    me = np.repeat(dialogue[reused_rows], keep)
    owner = owners[group[reused_rows]].ravel()
    code = me * (int(dialogue.max()) + 1) + owner
    values, counts = np.unique(code, return_counts=True)
    if len(values) == 0:
        return values, values, counts
    me, owner = np.divmod(values, int(dialogue.max()) + 1)
    best = np.lexsort((owner, -counts, me))
    me, owner, counts = me[best], owner[best], counts[best]
    head = np.concatenate([[True], me[1:] != me[:-1]])
    return me[head], owner[head], counts[head]


def resolve(shared: pa.Table, config: ReplyDedupConfig) -> tuple[pa.Table, Report]:
    """Per-dialogue verdicts (only dialogues with reused replies) from the rows of shared keys; see the module docstring."""
    report = Report()
    if shared.num_rows == 0:
        return VERDICT_SCHEMA.empty_table(), report
    ranked_uids, dialogue, character_turns = _policy_order(shared, config)
    keys, key = np.unique(combined(shared.column("reply_key")).to_numpy(zero_copy_only=False), return_inverse=True)
    rows = np.lexsort((dialogue, key))  # by reply, then policy order
    dialogue, key = dialogue[rows], key[rows]
    turns = combined(shared.column("turns")).to_numpy(zero_copy_only=False)[rows].astype(np.int64)
    starts = np.flatnonzero(np.concatenate([[True], key[1:] != key[:-1]]))
    group_start = np.repeat(starts, np.diff(np.append(starts, len(key))))
    dialogues = len(character_turns)
    if config.action == "reject":
        kept = _greedy_kept(dialogue, key, turns, group_start, character_turns, config)
    else:
        kept = np.ones(dialogues, bool)
    kept_row = kept[dialogue]
    kept_before = _before_in_group(kept_row, group_start)
    reused = _reused_turns(kept_before, dialogue, turns, dialogues, config.keep_per_reply)
    me, owner, together = _main_owner(
        np.flatnonzero(kept_before >= config.keep_per_reply), key, dialogue, kept_before, kept_row, len(keys), config.keep_per_reply
    )
    report.shared_replies, report.dialogues_sharing = len(keys), dialogues
    report.dialogues_reusing, report.reused_turns, report.rejected = len(me), int(reused.sum()), int((~kept).sum())
    count = reused[me]
    frac = count / character_turns[me]
    of = ranked_uids.take(pa.array(owner, pa.int64()))
    rejected = pa.array(~kept[me])
    detail = pc.binary_join_element_wise(
        pc.cast(pa.array(count), pa.string()),
        " of ",
        pc.cast(pa.array(character_turns[me]), pa.string()),
        " character replies (",
        pc.cast(pa.array(np.round(frac * 100).astype(np.int64)), pa.string()),
        f"%) reused from better-ranked kept dialogues (rejected at >= {config.min_reused} and >= {config.min_reused_frac:.0%}); ",
        pc.cast(pa.array(together), pa.string()),
        " shared with ",
        of,
        "",
    )
    verdicts = pa.table(
        [
            ranked_uids.take(pa.array(me, pa.int64())),
            pa.array(count, pa.int32()),
            pa.array(frac, pa.float32()),
            of,
            pc.if_else(rejected, pa.scalar(REASON), pa.scalar(None, pa.string())),
            pc.if_else(rejected, detail, pa.scalar(None, pa.string())),
        ],
        schema=VERDICT_SCHEMA,
    )
    return verdicts, report


def mark(batch: pa.Table, verdicts: pa.Table) -> pa.Table:
    """The score columns on every row (zero for dialogues without reused replies), rejects where decided."""
    if verdicts.num_rows:
        index = pc.index_in(combined(batch.column("dialogue_id")), value_set=combined(verdicts.column("uid")))
        found = verdicts.take(index)
    else:
        found = pa.table([pa.nulls(batch.num_rows, field.type) for field in VERDICT_SCHEMA], schema=VERDICT_SCHEMA)
    batch = with_scores(
        batch,
        {
            # Arrays, not chunked arrays: `pa.array` copies a chunked array value by value in Python.
            REUSED_COUNT: combined(pc.fill_null(found.column(REUSED_COUNT.name), 0)),
            REUSED_FRAC: combined(pc.fill_null(found.column(REUSED_FRAC.name), 0.0)),
            REUSED_OF: combined(found.column(REUSED_OF.name)),
        },
    )
    reason = found.column("reason")
    if not pc.any(pc.is_valid(reason)).as_py():
        return batch
    for name, values in ((REJECT_REASON, reason), (REJECT_DETAIL, found.column("detail")), (DUPLICATE_OF, found.column(REUSED_OF.name))):
        column = pc.if_else(pc.is_valid(reason), values, batch.column(name))
        batch = batch.set_column(batch.schema.get_field_index(name), name, column)
    return batch


@register
class ReplyDedup(GlobalOperator):
    name: ClassVar[str] = "dedup.replies"
    Config = ReplyDedupConfig
    key: ClassVar[str] = "reply_key"  # the groupby key of `apply` (by bucket of it); no keyed/reduce pair
    reads = frozenset({"dialogue_id", "turns", "source", "quality"})
    writes = frozenset({REUSED_COUNT.name, REUSED_FRAC.name, REUSED_OF.name})
    new_fields = (REUSED_COUNT, REUSED_FRAC, REUSED_OF)
    resources = Resources(cpus=1.0)
    summary = (
        "Scores (and rejects) dialogues whose character replies are reused from other dialogues; owners by source priority, quality, id."
    )

    def __init__(self, config: OperatorConfig | None = None, context: Any = None) -> None:
        super().__init__(config, context)
        self.report = Report()

    def __call__(self, batch: pa.Table) -> pa.Table:
        """The whole table at once (tests, small inputs): `stream` over slices of it, held in memory."""
        return stream_in_memory(self.stream, batch, self.config.rows_per_slice)  # type: ignore[attr-defined]

    def stream(self, blocks: Blocks, spill: Spill) -> Iterator[pa.Table]:
        """In-process over spilled blocks: reply rows of every block spilled while their keys are kept, the
        rows of shared keys read back, verdicts on them, then each block marked and passed on. Memory holds
        8 bytes per counted reply and the rows of shared replies, never the dialogues."""
        c: ReplyDedupConfig = self.config  # type: ignore[assignment]
        keys: list[np.ndarray] = []

        def extracted() -> Iterator[pa.Table]:
            for block in blocks:
                rows = replies(block, c.min_chars)
                keys.append(rows.column("reply_key").to_numpy())
                yield rows

        spilled = spill("replies", extracted())
        shared = pa.array(shared_keys(np.concatenate(keys)) if keys else [], pa.uint64())
        del keys[:]
        rows = [table.filter(pc.is_in(table.column("reply_key"), value_set=shared)) for table in spilled] if len(shared) else []
        verdicts = self._decide(rows)
        for block in blocks:
            yield mark(block, verdicts)

    def apply(self, ds: Any, schema: Any = None, partitions: int | None = None) -> Any:
        """On Ray Data: reply rows by `map_batches`, shared keys by `groupby(bucket).map_groups`, verdicts on the driver."""
        import ray

        c: ReplyDedupConfig = self.config  # type: ignore[assignment]
        ds = ds.materialize()  # read twice (replies, then mark): compute upstream once
        rows = ds.map_batches(replies, fn_kwargs={"min_chars": c.min_chars}, batch_format="pyarrow")
        rows = rows.map_batches(bucketed, fn_kwargs={"partitions": c.num_partitions}, batch_format="pyarrow")
        # A dataset of its own (from_arrow_refs copies the current DataContext), so the shuffle strategy
        # set here does not leak into the caller's datasets.
        rows = ray.data.from_arrow_refs(rows.to_arrow_refs())
        if c.shuffle != "default":
            rows.context.shuffle_strategy = c.shuffle
        shared = rows.groupby(BUCKET, num_partitions=c.num_partitions).map_groups(shared_rows, batch_format="pyarrow")
        verdicts = self._decide([ray.get(ref) for ref in shared.to_arrow_refs()])
        return ds.map_batches(mark, fn_kwargs={"verdicts": verdicts}, batch_format="pyarrow")

    def _decide(self, rows: list[pa.Table]) -> pa.Table:
        tables = [table.select(REPLY_SCHEMA.names).cast(REPLY_SCHEMA) for table in rows if table.num_rows]
        verdicts, self.report = resolve(pa.concat_tables(tables) if tables else REPLY_SCHEMA.empty_table(), self.config)  # type: ignore[arg-type]
        log.info("dedup.replies: %s", asdict(self.report))
        return verdicts
