"""MinHash signatures equal to datasketch 2.0's default ("affine32") scheme, computed for a whole batch in numpy.

datasketch's `MinHash(num_perm, seed)` draws `a` (odd) and `b` from `numpy.random.RandomState(seed)`,
pre-mixes each 32-bit input hash with MurmurHash3's finalizer, and keeps min over inputs of
`a * h + b mod 2**32` per permutation. We draw the same `a` and `b` and compute the same values, but
for all shingles of many documents at once (one multiply-add-min over a cache-sized block of shingles
at a time, `np.minimum.reduceat` over document boundaries), instead of one numpy call per document
and one Python hash call per shingle.

LSH: `optimal_bands` is datasketch's `_optimal_param` search (minimise the weighted integral of false
positive and false negative probability over the S-curve); `band_keys` folds each band of a signature
into one 64-bit key, with the band index mixed in so that equal keys mean equal band in the same band.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.integrate import quad

from operators.dedup.shingles import _fmix32

EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's value for a permutation that saw no input
_BLOCK = 4096  # shingles per multiply-add-min block: 128 x 4096 uint32 = 2 MiB stays in cache


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) parameters datasketch 2.0 draws for `MinHash(num_perm, seed)` with scheme "affine32"."""
    generator = np.random.RandomState(seed)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


def signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int = 128, seed: int = 1) -> np.ndarray:
    """MinHash signatures, shape (documents, num_perm) uint32, of the shingle hashes `hashes[offsets[d]:offsets[d+1]]`."""
    a, b = permutations(num_perm, seed)
    documents = len(offsets) - 1
    result = np.full((documents, num_perm), EMPTY, np.uint32)
    mixed = _fmix32(hashes.astype(np.uint32, copy=False))
    buffer = np.empty((num_perm, _BLOCK), np.uint32)
    document = 0
    while document < documents:
        start = int(offsets[document])
        # Take whole documents until the block is full (at least one document, however long).
        last = max(int(np.searchsorted(offsets, start + _BLOCK, side="right")) - 1, document + 1)
        end = int(offsets[last])
        if end - start > _BLOCK:  # one document longer than a block: accumulate block by block
            for piece in range(start, end, _BLOCK):
                block = _permuted(mixed[piece : min(piece + _BLOCK, end)], a, b, buffer)
                np.minimum(result[document], block.min(axis=1), out=result[document])
        elif end > start:
            block = _permuted(mixed[start:end], a, b, buffer)
            bounds = offsets[document:last] - start
            filled = np.flatnonzero(np.diff(offsets[document : last + 1]) > 0)
            # reduceat over the start of each non-empty document only (empty ones keep EMPTY).
            result[document + filled] = np.minimum.reduceat(block, bounds[filled], axis=1).T
        document = last
    return result


def _permuted(mixed: np.ndarray, a: np.ndarray, b: np.ndarray, buffer: np.ndarray) -> np.ndarray:
    """a * h + b for every permutation (rows) and shingle (columns): rows are contiguous, so the
    per-document min over columns (reduceat along axis 1) runs over contiguous memory."""
    out = buffer[:, : len(mixed)]
    np.multiply(a[:, None], mixed[None, :], out=out)  # uint32 wraparound is the mod 2**32
    np.add(out, b[:, None], out=out)
    return out


def _false_positive(threshold: float, bands: int, rows: int) -> float:
    return quad(lambda s: 1 - (1 - s ** float(rows)) ** float(bands), 0.0, threshold)[0]


def _false_negative(threshold: float, bands: int, rows: int) -> float:
    return quad(lambda s: 1 - (1 - (1 - s ** float(rows)) ** float(bands)), threshold, 1.0)[0]


@lru_cache(maxsize=64)
def optimal_bands(
    threshold: float, num_perm: int, false_positive_weight: float = 0.5, false_negative_weight: float = 0.5
) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive + false negative probability, as datasketch does."""
    best, choice = float("inf"), (0, 0)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            error = (
                _false_positive(threshold, bands, rows) * false_positive_weight
                + _false_negative(threshold, bands, rows) * false_negative_weight
            )
            if error < best:
                best, choice = error, (bands, rows)
    return choice


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Probability that two documents of this Jaccard similarity share at least one band."""
    return 1.0 - (1.0 - similarity**rows) ** bands


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def band_keys(signature: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Shape (documents, bands) uint64: one key per band of each signature, the band index mixed in."""
    documents = signature.shape[0]
    keys = np.empty((documents, bands), np.uint64)
    wide = signature.astype(np.uint64)
    for band in range(bands):
        key = np.full(documents, _fmix64(np.array([band + 1], np.uint64))[0], np.uint64)
        for row in range(band * rows, (band + 1) * rows):
            key = _fmix64(key ^ wide[:, row]) + np.uint64(row)
        keys[:, band] = key
    return keys
