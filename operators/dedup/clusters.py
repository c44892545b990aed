"""From LSH buckets to duplicate clusters: candidate pairs, exact-Jaccard verification, connected
components and the survivor of each cluster.

Everything here is a pure function of its inputs' *sets* (bucket members are sorted by id, pairs are
deduplicated and sorted, survivors are ranked by policy), so the result does not depend on block
layout, worker count or input order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

PAIR_SCHEMA = pa.schema([pa.field("a", pa.string()), pa.field("b", pa.string())])


def bucket_pairs(members: Sequence[str], window: int) -> tuple[list[str], list[str]]:
    """Candidate pairs among the ids that share one band key, each pair once with a < b.

    A bucket of k ids gives every pair when k <= window + 1; a larger bucket (usually exact copies, or a
    formulaic template) pairs each id with its `window` successors in id order, which bounds the work at
    k * window pairs and still connects the whole bucket.
    """
    ordered = sorted(set(members))
    first: list[str] = []
    second: list[str] = []
    for i, left in enumerate(ordered):
        for right in ordered[i + 1 : i + 1 + window]:
            first.append(left)
            second.append(right)
    return first, second


def bucket_pairs_table(group: pa.Table, window: int) -> pa.Table:
    """`bucket_pairs` over one group of (band_key, uid) rows, as a table (for `map_groups`)."""
    first, second = bucket_pairs(group.column("uid").to_pylist(), window)
    return pa.table({"a": pa.array(first, pa.string()), "b": pa.array(second, pa.string())}, schema=PAIR_SCHEMA)


def unique_pairs(tables: Sequence[pa.Table]) -> tuple[list[str], list[str]]:
    """The distinct candidate pairs of several pair tables, sorted (a pair found by several bands counts once)."""
    if not tables:
        return [], []
    pairs = pa.concat_tables([t.select(["a", "b"]) for t in tables]).group_by(["a", "b"]).aggregate([])
    pairs = pairs.sort_by([("a", "ascending"), ("b", "ascending")])
    return pairs.column("a").to_pylist(), pairs.column("b").to_pylist()


def jaccard(left: np.ndarray, right: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted arrays of distinct shingle hashes."""
    if len(left) == 0 and len(right) == 0:
        return 1.0
    common = len(np.intersect1d(left, right, assume_unique=True))
    return common / (len(left) + len(right) - common)


@dataclass(frozen=True)
class Member:
    """What the survivor policy and the verification need to know about one candidate dialogue."""

    shingles: np.ndarray  # sorted distinct shingle hashes (empty for a dialogue too short to shingle)
    exact_key: int | None  # hash of the normalised token sequence, for dialogues too short to shingle
    source: str | None
    overall: float | None


@dataclass(frozen=True)
class Decision:
    """The outcome for one dialogue in a cluster of two or more."""

    cluster_id: str
    duplicate_of: str | None  # None for the survivor
    detail: str | None


def similarity(a: Member, b: Member) -> float:
    """Exact Jaccard of the shingle sets; 1.0 or 0.0 for too-short dialogues (equal normalised text or not)."""
    if a.exact_key is not None or b.exact_key is not None:
        return 1.0 if a.exact_key == b.exact_key else 0.0
    return jaccard(a.shingles, b.shingles)


def cluster(
    first: Sequence[str],
    second: Sequence[str],
    members: dict[str, Member],
    threshold: float,
    verify: bool,
    source_priority: Sequence[str],
) -> tuple[dict[str, Decision], int]:
    """Verify candidate pairs, join the kept ones into connected components, pick each component's survivor.

    Returns a decision for every dialogue in a component of two or more, and the number of pairs kept.
    """
    ids = sorted(members)
    index = {uid: i for i, uid in enumerate(ids)}
    rows: list[int] = []
    cols: list[int] = []
    best: dict[str, tuple[float, str]] = {}
    for a, b in zip(first, second, strict=True):
        score = similarity(members[a], members[b]) if verify else 1.0
        if verify and score < threshold:
            continue
        rows.append(index[a])
        cols.append(index[b])
        for this, other in ((a, b), (b, a)):
            if this not in best or (score, other) > best[this]:
                best[this] = (score, other)
    if not rows:
        return {}, 0
    graph = coo_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(len(ids), len(ids)))
    _, labels = connected_components(graph, directed=False)
    priority = {source: rank for rank, source in enumerate(source_priority)}

    def rank(uid: str) -> tuple:
        member = members[uid]
        quality = member.overall if member.overall is not None else float("-inf")
        return (priority.get(member.source or "", len(priority)), -quality, uid)

    components: dict[int, list[str]] = {}
    for uid, label in zip(ids, labels, strict=True):
        if uid in best:
            components.setdefault(int(label), []).append(uid)
    decisions: dict[str, Decision] = {}
    for group in components.values():
        survivor = min(group, key=rank)
        cluster_id = "m_" + hashlib.blake2b(survivor.encode("utf-8"), digest_size=8).hexdigest()
        for uid in group:
            if uid == survivor:
                decisions[uid] = Decision(cluster_id, None, None)
                continue
            score, neighbour = best[uid]
            matched = f"Jaccard {score:.3f} with {neighbour}" if verify else f"LSH candidate of {neighbour} (unverified)"
            detail = f"near duplicate of {survivor} (cluster {cluster_id}, {len(group)} dialogues); {matched}"
            decisions[uid] = Decision(cluster_id, survivor, detail)
    return decisions, len(rows)
