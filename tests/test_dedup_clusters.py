"""Candidate pairs from buckets, verification, components and the survivor policy."""

from __future__ import annotations

import numpy as np

from operators.dedup.clusters import Member, bucket_pairs, cluster, jaccard


def member(shingles: list[int], source: str = "synthesis", overall: float | None = None, exact: int | None = None) -> Member:
    return Member(np.array(sorted(set(shingles)), np.uint32), exact, source, overall)


def test_small_buckets_pair_everyone_once_in_order() -> None:
    first, second = bucket_pairs(["c", "a", "b", "a"], window=8)
    assert list(zip(first, second, strict=True)) == [("a", "b"), ("a", "c"), ("b", "c")]


def test_large_buckets_pair_a_window_and_stay_connected() -> None:
    ids = [f"{i:03d}" for i in range(50)]
    first, second = bucket_pairs(list(reversed(ids)), window=3)
    assert len(first) == 47 * 3 + 2 + 1
    assert all(0 < ids.index(b) - ids.index(a) <= 3 for a, b in zip(first, second, strict=True))


def test_jaccard_is_exact() -> None:
    assert jaccard(np.array([1, 2, 3, 4], np.uint32), np.array([3, 4, 5], np.uint32)) == 2 / 5


def test_verification_drops_false_candidates_and_policy_picks_survivor() -> None:
    members = {
        "d1": member(list(range(100)), "synthesis", 0.9),
        "d2": member(list(range(5, 105)), "human_roleplay", 0.1),  # J(d1, d2) = 95/105
        "d3": member(list(range(50, 150)), "human_roleplay", 0.9),  # J(d2, d3) = 55/145: a false candidate
        "d4": member(list(range(100)), "human_roleplay", 0.5),
    }
    priority = ["human_roleplay", "synthesis"]
    decisions, kept = cluster(["d1", "d2", "d1"], ["d2", "d3", "d4"], members, 0.8, True, priority)
    assert kept == 2 and "d3" not in decisions
    # Human sources first, then higher quality: d4 (0.5) beats d2 (0.1); d1 is synthesis.
    assert {uid: d.duplicate_of for uid, d in decisions.items()} == {"d1": "d4", "d2": "d4", "d4": None}
    assert len({d.cluster_id for d in decisions.values()}) == 1
    assert "Jaccard 0.905 with d1" in (decisions["d2"].detail or "")
    unverified, _ = cluster(["d1", "d2", "d1"], ["d2", "d3", "d4"], members, 0.8, False, priority)
    assert "d3" in unverified


def test_ties_fall_back_to_the_smallest_id() -> None:
    members = {uid: member([1, 2, 3]) for uid in ("b", "a", "c")}
    decisions, _ = cluster(["a", "b"], ["b", "c"], members, 0.8, True, ["synthesis"])
    assert decisions["a"].duplicate_of is None and decisions["c"].duplicate_of == "a"


def test_too_short_dialogues_match_only_on_equal_exact_keys() -> None:
    members = {"a": member([], exact=7), "b": member([], exact=7), "c": member([], exact=8)}
    decisions, kept = cluster(["a", "a"], ["b", "c"], members, 0.8, True, ["synthesis"])
    assert kept == 1 and set(decisions) == {"a", "b"}
