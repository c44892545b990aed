"""Signatures equal datasketch 2.0's, LSH parameters equal its search, and Jaccard estimates stay within their error."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from datasketch import MinHash
from datasketch.lsh import _optimal_param
from hypothesis import given, settings
from hypothesis import strategies as st

from operators.dedup.shingles import _fmix32, ngram_sizes, shingle_hashes, shingle_strings, text_tokens, token_shingle_hash32, windows
from operators.dedup.signatures import EMPTY, band_keys, optimal_bands, permutations, signatures

TEXTS = [
    "Hello, World! This is a ＴＥＳＴ of the shingles, and it goes on for a while.",
    "你好，世界！我是一个测试，看看中文的字符级别的指纹。",
    "",
    "too short",
    " ".join(f"w{i % 997}" for i in range(9000)),  # longer than one multiply-add block
]


def shingled(texts: list[str]):
    tokens = text_tokens(pa.array(texts))
    shingles = windows(tokens, ngram_sizes(tokens, 3, 4), 100_000)
    return tokens, shingles, shingle_strings(tokens, shingles).to_pylist()


@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (64, 42), (256, 7)])
@pytest.mark.parametrize("kind", ["sha1", "token"])
def test_signatures_equal_datasketch(num_perm: int, seed: int, kind: str) -> None:
    tokens, shingles, strings = shingled(TEXTS)
    ours = signatures(shingle_hashes(tokens, shingles, kind), shingles.offsets, num_perm, seed)  # type: ignore[arg-type]
    for d in range(len(TEXTS)):
        theirs = MinHash(num_perm=num_perm, seed=seed, hashfunc=None if kind == "sha1" else token_shingle_hash32)
        theirs.update_batch([s.encode("utf-8") for s in strings[shingles.offsets[d] : shingles.offsets[d + 1]]])
        assert theirs.scheme == "affine32"
        np.testing.assert_array_equal(ours[d], theirs.hashvalues)


def test_empty_documents_keep_datasketch_empty_value() -> None:
    tokens, shingles, _ = shingled(["", "two words"])
    ours = signatures(shingle_hashes(tokens, shingles), shingles.offsets)
    assert (ours == EMPTY).all() and MinHash().is_empty()
    np.testing.assert_array_equal(ours[0], MinHash().hashvalues)


def test_permutations_are_datasketch_permutations() -> None:
    a, b = permutations(128, 3)
    np.testing.assert_array_equal(np.array([a, b]), MinHash(num_perm=128, seed=3).permutations)


@pytest.mark.parametrize(("threshold", "weights"), [(0.8, (0.5, 0.5)), (0.7, (0.02, 0.98))])
def test_band_search_equals_datasketch(threshold: float, weights: tuple[float, float]) -> None:
    assert optimal_bands(threshold, 64, *weights) == _optimal_param(threshold, 64, *weights)


@pytest.mark.parametrize("similarity", [0.2, 0.5, 0.8, 0.95])
def test_jaccard_estimate_within_statistical_error(similarity: float) -> None:
    num_perm, size, trials = 256, 400, 20
    rng = np.random.default_rng(int(similarity * 100))
    errors = []
    for _ in range(trials):
        # Two sets of `size` random 32-bit values sharing `common` of them: Jaccard = common / (2 size - common).
        common = round(2 * size * similarity / (1 + similarity))
        values = rng.choice(2**32, 2 * size - common, replace=False).astype(np.uint32)
        left, right = values[:size], values[size - common :]
        sig = signatures(np.concatenate([left, right]), np.array([0, size, 2 * size]), num_perm, seed=1)
        true = common / (2 * size - common)
        errors.append(float((sig[0] == sig[1]).mean()) - true)
    sigma = math.sqrt(similarity * (1 - similarity) / num_perm)
    # Each estimate within 4 sigma; their mean (unbiased estimator) within 4 sigma / sqrt(trials).
    assert max(abs(e) for e in errors) < 4 * sigma
    assert abs(sum(errors) / trials) < 4 * sigma / math.sqrt(trials)


def test_band_keys_match_exactly_when_the_band_matches() -> None:
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 2**32, (3, 20), dtype=np.uint32)
    sig[1, :5] = sig[0, :5]  # band 0 equal
    sig[2] = sig[0]
    sig[2, 7] ^= 1  # band 1 differs
    keys = band_keys(sig, bands=4, rows=5)
    assert keys[0, 0] == keys[1, 0] and (keys[0, 1:] != keys[1, 1:]).all()
    assert list(keys[0] == keys[2]) == [True, False, True, True]
    assert len(set(keys[0])) == 4  # the band index is mixed in: equal values in two bands are different keys


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 5000), min_size=1, max_size=12), st.integers(0, 3), st.integers(0, 2**31))
def test_signatures_are_per_document_minima_across_block_boundaries(lengths: list[int], lead: int, seed: int) -> None:
    # Documents of any length (empty, inside one block, across several) at any offset into `hashes`.
    rng = np.random.default_rng(seed)
    offsets = lead + np.concatenate([[0], np.cumsum(lengths)])
    hashes = rng.integers(0, 2**32, int(offsets[-1]), dtype=np.uint64).astype(np.uint32)
    ours = signatures(hashes, offsets, 32, seed=5)
    a, b = permutations(32, 5)
    for d in range(len(lengths)):
        mixed = _fmix32(hashes[offsets[d] : offsets[d + 1]])
        expected = (a[:, None] * mixed[None, :] + b[:, None]).min(axis=1) if len(mixed) else np.full(32, EMPTY)
        np.testing.assert_array_equal(ours[d], expected)


def test_token_hash_jaccard_estimates_within_statistical_error() -> None:
    # The "token" shingle hash (a polynomial in the token hashes, no finaliser of its own) estimates Jaccard
    # as well as random hashes do: pairs of documents with some words replaced, estimate vs true 3-gram Jaccard.
    num_perm, trials = 256, 30
    rng = np.random.default_rng(11)
    errors, sigmas = [], []
    for trial in range(trials):
        left = [f"w{i}" for i in rng.integers(0, 5000, 400)]
        right = [f"x{trial}_{i}" if rng.random() < 0.1 * (1 + trial % 5) else word for i, word in enumerate(left)]
        tokens, shingles, strings = shingled([" ".join(left), " ".join(right)])
        sig = signatures(shingle_hashes(tokens, shingles, "token"), shingles.offsets, num_perm, seed=3)
        sets = [set(strings[shingles.offsets[d] : shingles.offsets[d + 1]]) for d in range(2)]
        true = len(sets[0] & sets[1]) / len(sets[0] | sets[1])
        errors.append(float((sig[0] == sig[1]).mean()) - true)
        sigmas.append(math.sqrt(true * (1 - true) / num_perm))
    assert all(abs(e) < 4 * s for e, s in zip(errors, sigmas, strict=True))
    assert abs(sum(errors) / trials) < 4 * max(sigmas) / math.sqrt(trials)
