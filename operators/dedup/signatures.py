"""MinHash signatures equal to datasketch 2.0's default ("affine32") scheme, computed for a whole batch in numpy.

datasketch's `MinHash(num_perm, seed)` draws `a` (odd) and `b` from `numpy.random.RandomState(seed)`,
pre-mixes each 32-bit input hash with MurmurHash3's finalizer, and keeps min over inputs of
`a * h + b mod 2**32` per permutation. We draw the same `a` and `b` and compute the same values, but
for all shingles of many documents at once (one multiply-add-min over a cache-sized block of shingles
at a time, `np.minimum.reduceat` over the document boundaries inside it, then over each document's
pieces), instead of one numpy call per document and one Python hash call per shingle.

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
_BLOCK = 2048  # shingles per multiply-add-min block: 128 x 2048 uint32 = 1 MiB stays in L2
# numpy's buffered ufunc loop copies broadcast operands in chunks of its buffer size (8192 elements by
# default) when a row is shorter than that: with 2048-shingle rows that made the multiply and the add 4x
# slower. A 1024-element buffer lets them run straight over each row (measured: 0.38 -> 0.08 ns per
# element; numpy 2.4). Set only inside `signatures`, through numpy's errstate context, which restores it.
_UFUNC_BUFFER = 1024


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
    filled = np.flatnonzero(np.diff(offsets) > 0)  # empty documents keep EMPTY
    if len(filled) == 0:
        return result
    low, high = int(offsets[0]), int(offsets[-1])
    mixed = _fmix32(hashes[low:high].astype(np.uint32, copy=False))
    # Fixed-size blocks of shingles, whatever the document boundaries: a segment is the part of one
    # document inside one block. Each block's segment minima go to their own columns of `minima`; a
    # last reduceat over each document's segments gives its signature.
    blocks = np.arange(0, high - low, _BLOCK)
    document_starts = offsets[:-1][filled] - low
    segments = np.union1d(blocks, document_starts)
    cuts = np.append(np.searchsorted(segments, blocks), len(segments))
    minima = np.empty((num_perm, len(segments)), np.uint32)
    buffer = np.empty((num_perm, _BLOCK), np.uint32)
    with np.errstate():
        np.setbufsize(_UFUNC_BUFFER)
        for block, start in enumerate(blocks.tolist()):
            values = _permuted(mixed[start : start + _BLOCK], a, b, buffer)
            first, last = cuts[block], cuts[block + 1]
            np.minimum.reduceat(values, segments[first:last] - start, axis=1, out=minima[:, first:last])
        result[filled] = np.minimum.reduceat(minima, np.searchsorted(segments, document_starts), axis=1).T
    return result


def _permuted(mixed: np.ndarray, a: np.ndarray, b: np.ndarray, buffer: np.ndarray) -> np.ndarray:
    """a * h + b for every permutation (rows) and shingle (columns): rows are contiguous, so the
    per-segment min over columns (reduceat along axis 1) runs over contiguous memory."""
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
