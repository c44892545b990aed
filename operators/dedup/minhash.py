"""`dedup.minhash`: near-duplicate dialogues by MinHash LSH, verified by exact Jaccard, clustered globally.

The algorithm, top to bottom (the same functions on Ray and in-process, so both give the same survivors):

1. `fingerprint` (per batch): normalise and shingle each dialogue's turns, MinHash signatures equal to
   datasketch 2.0's, and one 64-bit key per LSH band. A dialogue with tokens but fewer than one
   shingle's worth gets a single key from its exact normalised text instead (deduplicated exactly);
   one with no tokens at all gets no key (nothing to compare; `filters.length` is the place for it).
2. Buckets: rows that share a band key are candidates (`groupby(band_key).map_groups` on Ray).
3. `profile` (per batch, candidates only): the shingle set and survivor-policy fields of each candidate.
4. `cluster` (driver): exact-Jaccard check of each candidate pair, connected components of the kept
   pairs, and the survivor of each component by policy: source priority, then quality, then id.
5. `mark` (per batch): removed rows get `_reject_reason='near_duplicate'`, `_duplicate_of` and a
   detail naming the match; every member of a cluster gets `dup_cluster_id`.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from operators.arrow_lists import combined
from operators.base import Blocks, GlobalOperator, OperatorConfig, Resources, Spill, stream_in_memory
from operators.columns import DUPLICATE_OF, REJECT_DETAIL, REJECT_REASON
from operators.dedup.clusters import PAIR_SCHEMA, Decision, Member, bucket_pairs, bucket_pairs_table, cluster, unique_pairs
from operators.dedup.policy import DEFAULT_PRIORITY, SourcePriority, dialogue_ids
from operators.dedup.shingles import ShingleHash, Tokens, dialogue_tokens, ngram_sizes, shingle_hashes, windows
from operators.dedup.signatures import band_keys, optimal_bands, signatures
from operators.registry import register

log = logging.getLogger(__name__)

REASON = "near_duplicate"
_SHORT_MARK = np.uint64(0x5348_4F52_5421_0001)  # mixed into the key of a too-short dialogue: never equals a band key by design
FINGERPRINT_SCHEMA = pa.schema(
    [
        pa.field("uid", pa.string()),
        pa.field("keys", pa.list_(pa.uint64())),
        pa.field("tokens", pa.int64()),
        pa.field("shingles", pa.int64()),
        pa.field("capped", pa.bool_()),
    ]
)
KEY_SCHEMA = pa.schema([pa.field("band_key", pa.uint64()), pa.field("uid", pa.string())])
PROFILE_SCHEMA = pa.schema(
    [
        pa.field("uid", pa.string()),
        pa.field("shingle_set", pa.list_(pa.uint32())),
        pa.field("exact_key", pa.uint64()),
        pa.field("source", pa.string()),
        pa.field("overall", pa.float64()),
    ]
)


class MinHashDedupConfig(OperatorConfig):
    threshold: float = Field(
        0.8, gt=0, le=1, description="Jaccard similarity of shingle sets at or above which two dialogues are duplicates."
    )
    num_perm: int = Field(128, ge=8, le=1024, description="MinHash permutations (datasketch `num_perm`).")
    seed: int = Field(1, ge=0, description="Permutation seed (datasketch `seed`; its default is 1).")
    word_ngram: int = Field(3, ge=1, description="Shingle size in words, for space-delimited text.")
    char_ngram: int = Field(4, ge=1, description="Shingle size in characters, for text mostly in Han, Hiragana or Katakana.")
    shingle_hash: ShingleHash = Field(
        "token", description="'token': fast, hashes each distinct token once; 'sha1': datasketch's default hash, bit-compatible signatures."
    )
    max_shingles: int = Field(
        20_000, ge=1, description="Shingles kept per dialogue (the first ones): bounds time and memory on enormous dialogues."
    )
    bands: int | None = Field(None, ge=1, description="LSH bands; with `rows`, overrides the search from the threshold.")
    rows: int | None = Field(None, ge=1, description="Rows (permutations) per band; with `bands`.")
    false_positive_weight: float = Field(
        0.02, ge=0, le=1, description="Weight of false positives in the bands x rows search (cheap: verification removes them)."
    )
    false_negative_weight: float = Field(
        0.98, ge=0, le=1, description="Weight of false negatives in the bands x rows search (costly: a missed duplicate stays)."
    )
    verify: bool = Field(
        True, description="Check each candidate pair's exact Jaccard before joining it: LSH false positives chain through clusters."
    )
    bucket_window: int = Field(
        64, ge=1, description="In a bucket of more than window+1 dialogues, pair each with its `window` successors by id only."
    )
    source_priority: SourcePriority = Field(default_factory=lambda: list(DEFAULT_PRIORITY), description="Survivor preference, best first.")
    shuffle: Literal["sort_shuffle_pull_based", "hash_shuffle", "shuffle_v2", "default"] = Field(
        "sort_shuffle_pull_based",
        description="Ray shuffle for the band-key groupby: the task-based sort shuffle starts no aggregator actors "
        "(hash_shuffle took 6-10 s per groupby on 2 cores, this one 0.5-1 s); 'default' keeps the DataContext's.",
    )
    rows_per_slice: int = Field(
        20_000, ge=1, description="`__call__` on one in-memory table: dialogues fingerprinted at a time (no effect on results; pipelines stream their own blocks)."
    )
    num_partitions: int = Field(
        4, ge=1, description="Hash partitions of the band-key groupby on Ray (Ray's default of 200 is wrong for small machines)."
    )

    @model_validator(mode="after")
    def _banding(self) -> MinHashDedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both `bands` and `rows`, or neither (then they are chosen from the threshold)")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm {self.num_perm}")
        return self


@dataclass(frozen=True)
class Params:
    """The resolved parameters the per-batch functions need (small and picklable, for Ray tasks)."""

    num_perm: int
    seed: int
    word_ngram: int
    char_ngram: int
    shingle_hash: ShingleHash
    max_shingles: int
    bands: int
    rows: int

    @classmethod
    def of(cls, config: MinHashDedupConfig) -> Params:
        if config.bands is not None and config.rows is not None:
            bands, rows = config.bands, config.rows
        else:
            bands, rows = optimal_bands(config.threshold, config.num_perm, config.false_positive_weight, config.false_negative_weight)
        return cls(
            config.num_perm, config.seed, config.word_ngram, config.char_ngram, config.shingle_hash, config.max_shingles, bands, rows
        )


@dataclass
class Report:
    """What one dedup run saw and did (logged, and written by `chardial dedup` to stats/)."""

    dialogues: int = 0
    without_tokens: int = 0
    too_short_for_shingle: int = 0
    capped: int = 0
    bands: int = 0
    rows: int = 0
    candidate_pairs: int = 0
    kept_pairs: int = 0
    clusters: int = 0
    removed: int = 0
    removed_too_short: int = 0


def _uids(batch: pa.Table) -> pa.Array:
    return dialogue_ids(batch, "dedup.minhash")


def _exact_keys(tokens: Tokens, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each document's normalised token sequence."""
    keys = np.empty(len(starts), np.uint64)
    for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
        text = " ".join(tokens.slice(int(start), int(end - start)).to_pylist())
        keys[i] = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
    return keys


def fingerprint(batch: pa.Table, params: Params) -> pa.Table:
    """Per dialogue: its LSH band keys (or one exact key when too short to shingle), token and shingle counts."""
    tokens = dialogue_tokens(batch)
    sizes = ngram_sizes(tokens, params.word_ngram, params.char_ngram)
    shingles = windows(tokens, sizes, params.max_shingles)
    hashes = shingle_hashes(tokens, shingles, params.shingle_hash)
    keys = band_keys(signatures(hashes, shingles.offsets, params.num_perm, params.seed), params.bands, params.rows)
    counts = tokens.counts
    per_doc = np.diff(shingles.offsets)
    short = np.flatnonzero((counts > 0) & (per_doc == 0))
    exact = _exact_keys(tokens, tokens.offsets[short], tokens.offsets[short + 1]) ^ _SHORT_MARK
    has_keys = per_doc > 0
    lengths = np.where(has_keys, params.bands, 0)
    lengths[short] = 1
    values = np.empty(int(lengths.sum()), np.uint64)
    offsets = np.zeros(len(lengths) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    starts = offsets[:-1]
    values[(starts[has_keys, None] + np.arange(params.bands)).ravel()] = keys[has_keys].ravel()
    values[starts[short]] = exact
    return pa.table(
        {
            "uid": _uids(batch),
            "keys": pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values, pa.uint64())),
            "tokens": pa.array(counts, pa.int64()),
            "shingles": pa.array(per_doc, pa.int64()),
            "capped": pa.array(shingles.capped, pa.bool_()),
        },
        schema=FINGERPRINT_SCHEMA,
    )


def explode_keys(prints: pa.Table) -> pa.Table:
    """One (band_key, uid) row per key of each fingerprint."""
    keys = combined(prints.column("keys"))
    owners = pc.list_parent_indices(keys)
    return pa.table({"band_key": keys.flatten(), "uid": combined(prints.column("uid")).take(owners)}, schema=KEY_SCHEMA)


def profile(batch: pa.Table, params: Params, wanted: pa.Array) -> pa.Table:
    """For the rows whose id is in `wanted` (a string array): distinct shingle hashes, exact key if too
    short, source and quality."""
    uids = _uids(batch)
    batch = batch.filter(pc.is_in(uids, value_set=wanted))
    tokens = dialogue_tokens(batch)
    sizes = ngram_sizes(tokens, params.word_ngram, params.char_ngram)
    shingles = windows(tokens, sizes, params.max_shingles)
    hashes = shingle_hashes(tokens, shingles, params.shingle_hash)
    per_doc = np.diff(shingles.offsets)
    sets = [np.unique(hashes[shingles.offsets[i] : shingles.offsets[i + 1]]) for i in range(batch.num_rows)]
    short = (tokens.counts > 0) & (per_doc == 0)
    exact = _exact_keys(tokens, tokens.offsets[:-1][short], tokens.offsets[1:][short])
    exact_column = np.zeros(batch.num_rows, np.uint64)
    exact_column[short] = exact
    set_offsets = np.zeros(batch.num_rows + 1, np.int64)
    np.cumsum([len(s) for s in sets], out=set_offsets[1:])
    flat = np.concatenate(sets) if sets else np.zeros(0, np.uint32)
    quality = combined(batch.column("quality"))
    overall = pc.struct_field(quality, "overall") if len(quality) else pa.array([], pa.float64())
    return pa.table(
        {
            "uid": combined(batch.column("dialogue_id")),
            "shingle_set": pa.ListArray.from_arrays(pa.array(set_offsets, pa.int32()), pa.array(flat, pa.uint32())),
            "exact_key": pa.array(exact_column, pa.uint64(), mask=~short),
            "source": combined(batch.column("source")),
            "overall": pc.cast(overall, pa.float64()),
        },
        schema=PROFILE_SCHEMA,
    )


def wanted_ids(first: list[str], second: list[str]) -> pa.Array:
    """The ids of every dialogue in a candidate pair, distinct, as the value set `profile` filters on."""
    return pa.array(sorted(set(first) | set(second)), pa.string())


def members_of(profiles: list[pa.Table]) -> dict[str, Member]:
    """Profile tables as `Member`s by id."""
    members: dict[str, Member] = {}
    for table in profiles:
        if table.num_rows == 0:
            continue
        sets = combined(table.column("shingle_set"))
        flat = sets.flatten().to_numpy(zero_copy_only=False)
        offsets = sets.offsets.to_numpy()
        offsets = offsets - offsets[0]
        for i, (uid, exact, source, overall) in enumerate(
            zip(*(table.column(name).to_pylist() for name in ("uid", "exact_key", "source", "overall")), strict=True)
        ):
            members[uid] = Member(flat[offsets[i] : offsets[i + 1]], exact, source, overall)
    return members


def mark(batch: pa.Table, decisions: dict[str, Decision]) -> pa.Table:
    """Write the decisions: rejects for removed rows, `dup_cluster_id` for every cluster member."""
    if not decisions or batch.num_rows == 0:
        return batch
    uids = combined(batch.column("dialogue_id")).to_pylist()
    found = [decisions.get(uid) for uid in uids]
    if not any(found):
        return batch

    def column(name: str, new: list[str | None]) -> None:
        nonlocal batch
        old = combined(batch.column(name)).to_pylist()
        values = [value if decision is not None else previous for value, decision, previous in zip(new, found, old, strict=True)]
        batch = batch.set_column(batch.schema.get_field_index(name), name, pa.array(values, pa.string()))

    column(REJECT_REASON, [REASON if d is not None and d.duplicate_of else None for d in found])
    column(REJECT_DETAIL, [d.detail if d is not None else None for d in found])
    column(DUPLICATE_OF, [d.duplicate_of if d is not None else None for d in found])
    column("dup_cluster_id", [d.cluster_id if d is not None else None for d in found])
    return batch


def local_pairs(prints: list[pa.Table], window: int) -> pa.Table:
    """Candidate pairs of all buckets of these fingerprints: the in-process equivalent of the Ray groupby.

    Buckets are found in numpy over (band key, row number); only rows of buckets with two or more
    members become id strings (at 1M dialogues x 17 bands, exploding the ids cost more memory than all
    the rest of the step).
    """
    bands, owners, offset = [], [], 0
    for table in prints:
        keys = combined(table.column("keys"))
        bands.append(keys.flatten().to_numpy(zero_copy_only=False))
        owners.append(pc.list_parent_indices(keys).to_numpy(zero_copy_only=False) + offset)
        offset += table.num_rows
    band = np.concatenate(bands) if bands else np.zeros(0, np.uint64)
    owner = np.concatenate(owners) if owners else np.zeros(0, np.int64)
    order = np.argsort(band, kind="stable")
    band = band[order]
    boundaries = np.flatnonzero(np.diff(band)) + 1
    starts = np.concatenate([[0], boundaries]).astype(np.int64)
    ends = np.concatenate([boundaries, [len(band)]]).astype(np.int64)
    shared = ends - starts > 1
    starts, ends = starts[shared], ends[shared]
    rows = (
        owner[order[np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)])]] if len(starts) else np.zeros(0, np.int64)
    )
    all_uids = (
        pa.chunked_array([table.column("uid").combine_chunks() for table in prints], pa.string())
        if prints
        else pa.chunked_array([], pa.string())
    )
    uids = all_uids.take(pa.array(rows, pa.int64())).to_pylist()
    first: list[str] = []
    second: list[str] = []
    position = 0
    for start, end in zip(starts, ends, strict=True):
        a, b = bucket_pairs(uids[position : position + end - start], window)
        position += end - start
        first += a
        second += b
    return pa.table({"a": pa.array(first, pa.string()), "b": pa.array(second, pa.string())}, schema=PAIR_SCHEMA)


@register
class MinHashDedup(GlobalOperator):
    name: ClassVar[str] = "dedup.minhash"
    Config = MinHashDedupConfig
    key: ClassVar[str] = "band_key"  # the groupby key of `apply`; this operator has no keyed/reduce pair
    reads = frozenset({"dialogue_id", "turns", "source", "quality"})
    writes = frozenset({"dup_cluster_id"})
    resources = Resources(cpus=1.0)
    summary = "Rejects near-duplicate dialogues (MinHash LSH + exact Jaccard); survivor by source priority, quality, id."

    def __init__(self, config: OperatorConfig | None = None, context: Any = None) -> None:
        super().__init__(config, context)
        self.report = Report()

    @property
    def params(self) -> Params:
        return Params.of(self.config)  # type: ignore[arg-type]

    def __call__(self, batch: pa.Table) -> pa.Table:
        """The whole table at once (tests, small inputs): `stream` over slices of it, held in memory."""
        return stream_in_memory(self.stream, batch, self.config.rows_per_slice)  # type: ignore[attr-defined]

    def stream(self, blocks: Blocks, spill: Spill) -> Iterator[pa.Table]:
        """In-process over spilled blocks, with the functions `apply` runs on Ray: fingerprints of every
        block, candidate pairs from shared band keys, profiles of the candidates only, clusters, then each
        block marked and passed on. Memory holds the band keys and ids, and the candidates' shingle sets."""
        c: MinHashDedupConfig = self.config  # type: ignore[assignment]
        params = self.params
        prints = [fingerprint(block, params) for block in blocks]
        pairs = local_pairs(prints, c.bucket_window)
        first, second = unique_pairs([pairs])
        wanted = wanted_ids(first, second)
        profiles = [profile(block, params, wanted) for block in blocks] if len(wanted) else []
        counts = [table.drop_columns(["keys"]) for table in prints]
        del prints, pairs
        decisions = self._decide(counts, first, second, profiles, params)
        for block in blocks:
            yield mark(block, decisions)

    def apply(self, ds: Any, schema: Any = None, partitions: int | None = None) -> Any:
        """On Ray Data: fingerprints by `map_batches`, buckets by `groupby(band_key).map_groups`, clusters on the driver."""
        import ray

        c: MinHashDedupConfig = self.config  # type: ignore[assignment]
        params = self.params
        # Three passes read the input: materialise it once so upstream steps do not run three times.
        ds = ds.materialize()
        prints = ds.map_batches(fingerprint, fn_kwargs={"params": params}, batch_format="pyarrow").materialize()
        # A dataset of its own (from_arrow_refs copies the current DataContext), so the shuffle strategy
        # set here does not leak into the caller's datasets.
        keys = ray.data.from_arrow_refs(prints.map_batches(explode_keys, batch_format="pyarrow").to_arrow_refs())
        if c.shuffle != "default":
            keys.context.shuffle_strategy = c.shuffle
        pair_ds = keys.groupby("band_key", num_partitions=c.num_partitions).map_groups(
            bucket_pairs_table, fn_kwargs={"window": c.bucket_window}, batch_format="pyarrow"
        )
        first, second = unique_pairs([ray.get(ref) for ref in pair_ds.to_arrow_refs()])
        wanted = wanted_ids(first, second)
        profiles: list[pa.Table] = []
        if len(wanted):
            profile_ds = ds.map_batches(profile, fn_kwargs={"params": params, "wanted": wanted}, batch_format="pyarrow")
            profiles = [ray.get(ref) for ref in profile_ds.to_arrow_refs()]
        counts = [ray.get(ref) for ref in prints.select_columns(["uid", "tokens", "shingles", "capped"]).to_arrow_refs()]
        decisions = self._decide(counts, first, second, profiles, params)
        if not decisions:
            return ds
        return ds.map_batches(mark, fn_kwargs={"decisions": decisions}, batch_format="pyarrow")

    def _decide(
        self, prints: list[pa.Table], first: list[str], second: list[str], profiles: list[pa.Table], params: Params
    ) -> dict[str, Decision]:
        c: MinHashDedupConfig = self.config  # type: ignore[assignment]
        members = members_of(profiles)
        decisions, kept = cluster(first, second, members, c.threshold, c.verify, c.source_priority)
        report = Report(bands=params.bands, rows=params.rows, candidate_pairs=len(first), kept_pairs=kept)
        for table in prints:
            tokens = table.column("tokens").to_numpy()
            shingles = table.column("shingles").to_numpy()
            report.dialogues += table.num_rows
            report.without_tokens += int((tokens == 0).sum())
            report.too_short_for_shingle += int(((tokens > 0) & (shingles == 0)).sum())
            report.capped += int(pc.sum(table.column("capped")).as_py() or 0)
        removed = [uid for uid, d in decisions.items() if d.duplicate_of]
        report.clusters = sum(1 for d in decisions.values() if d.duplicate_of is None)
        report.removed = len(removed)
        report.removed_too_short = sum(1 for uid in removed if members[uid].exact_key is not None)
        self.report = report
        log.info("dedup.minhash: %s", asdict(report))
        return decisions
