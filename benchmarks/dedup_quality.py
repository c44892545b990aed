"""Near-duplicate quality: precision, recall and F1 of duplicate pairs against exact-Jaccard ground truth.

    python -m benchmarks.dedup_quality --dialogues 20000 --threshold 0.8

The corpus (benchmarks/corpus.py) is half zh, half en; 30% of dialogues are copies of an earlier one
with a fraction of words (en) or characters (zh) replaced, the fractions chosen so that true Jaccard
similarities spread on both sides of the threshold. Ground truth is exact: every pair of dialogues
sharing a shingle is scored with the Jaccard of their canonical shingle strings (an inverted index, so
no pair that could reach the threshold is missed), and the pairs at or above the threshold are the true
duplicates. Predicted pairs are the candidate pairs the operator keeps (with verification: those it
checked; without: every LSH candidate). Removal is scored too: the dialogues removed by clustering the
true pairs with the same survivor policy, against the dialogues the operator removed.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections import defaultdict

import numpy as np
import pyarrow as pa

from benchmarks.corpus import corpus
from operators.dedup.clusters import Member, cluster, similarity
from operators.dedup.minhash import MinHashDedup, MinHashDedupConfig, Params, fingerprint, local_pairs, members_of, profile
from operators.dedup.shingles import dialogue_tokens, ngram_sizes, shingle_strings, windows

# Replacement fractions: with word 3-grams (zh: character 4-grams) the true Jaccard falls from 1.0 to
# about 0.55, crossing 0.8 near 4% (en) and 3% (zh).
FRACTIONS = (0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.1, 0.15)


def shingle_sets(table: pa.Table, params: Params) -> list[frozenset[str]]:
    tokens = dialogue_tokens(table)
    shingles = windows(tokens, ngram_sizes(tokens, params.word_ngram, params.char_ngram), params.max_shingles)
    strings = shingle_strings(tokens, shingles).to_pylist()
    return [frozenset(strings[shingles.offsets[d] : shingles.offsets[d + 1]]) for d in range(table.num_rows)]


def true_pairs(sets: list[frozenset[str]], ids: list[str], threshold: float) -> dict[tuple[str, str], float]:
    """Every pair with exact Jaccard >= threshold (pairs sharing no shingle have Jaccard 0)."""
    index: dict[str, list[int]] = defaultdict(list)
    for d, shingles in enumerate(sets):
        for shingle in shingles:
            index[shingle].append(d)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for docs in index.values():
        for a, b in itertools.combinations(docs, 2):
            shared[(a, b)] += 1
    pairs = {}
    for (a, b), common in shared.items():
        similarity = common / (len(sets[a]) + len(sets[b]) - common)
        if similarity >= threshold:
            pairs[tuple(sorted((ids[a], ids[b])))] = similarity  # type: ignore[index]
    return pairs


def scores(predicted: set, truth: set) -> tuple[float, float, float]:
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogues", type=int, default=20_000)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    table = corpus(args.dialogues, seed=args.seed, duplicate_rate=0.3, fractions=FRACTIONS)
    ids = table.column("dialogue_id").to_pylist()
    clock = time.perf_counter()
    base = MinHashDedupConfig(threshold=args.threshold)
    params = Params.of(base)
    truth = true_pairs(shingle_sets(table, params), ids, args.threshold)
    print(
        f"{args.dialogues} dialogues (zh + en), threshold {args.threshold}: {len(truth)} true pairs (ground truth {time.perf_counter() - clock:.1f} s)"
    )
    print(f"bands x rows = {params.bands} x {params.rows} (num_perm {base.num_perm})\n")

    overall = [(q or {}).get("overall") for q in table.column("quality").to_pylist()]
    sources = table.column("source").to_pylist()
    members = {uid: Member(np.zeros(0, np.uint32), None, s, q) for uid, s, q in zip(ids, sources, overall, strict=True)}
    truth_removed = {
        uid
        for uid, d in cluster([a for a, _ in truth], [b for _, b in truth], members, 0.0, False, base.source_priority)[0].items()
        if d.duplicate_of
    }
    print("| variant | pairs P | pairs R | pairs F1 | removed P | removed R | removed F1 | seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    even = {"false_positive_weight": 0.5, "false_negative_weight": 0.5}
    even_params = Params.of(base.model_copy(update=even))
    variants = (
        (f"{params.bands}x{params.rows} bands, LSH + exact-Jaccard verification (default)", {"verify": True}),
        (f"{params.bands}x{params.rows} bands, LSH only (verify: false)", {"verify": False}),
        (f"{even_params.bands}x{even_params.rows} bands (datasketch's even weights) + verification", {"verify": True, **even}),
    )
    for name, update in variants:
        config = base.model_copy(update=update)
        params = Params.of(config)
        operator = MinHashDedup(config)
        clock = time.perf_counter()
        result = operator(table)
        seconds = time.perf_counter() - clock
        prints = fingerprint(table, params)
        candidates = local_pairs([prints], config.bucket_window)
        pairs = {tuple(sorted(p)) for p in zip(candidates.column("a").to_pylist(), candidates.column("b").to_pylist(), strict=True)}
        if config.verify:  # the operator's own check: exact Jaccard of the 32-bit shingle-hash sets
            checked = members_of([profile(table, params, pa.array(sorted(set(itertools.chain.from_iterable(pairs))), pa.string()))])
            pairs = {p for p in pairs if similarity(checked[p[0]], checked[p[1]]) >= args.threshold}
        removed = {uid for uid, reason in zip(ids, result.column("_reject_reason").to_pylist(), strict=True) if reason == "near_duplicate"}
        pair_scores = scores(pairs, set(truth))
        removal_scores = scores(removed, truth_removed)
        print(f"| {name} | " + " | ".join(f"{v:.4f}" for v in pair_scores + removal_scores) + f" | {seconds:.1f} |")


if __name__ == "__main__":
    main()
