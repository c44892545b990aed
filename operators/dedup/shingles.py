"""Normalisation, tokens and shingles for near-duplicate detection, vectorised over Arrow.

A dialogue's text (its turns, in order) is normalised (NFKC, which folds full-width forms to
half-width; lower case; punctuation, symbols and control characters to spaces), then split into
tokens: each Han, Hiragana or Katakana character is a token of its own (those scripts are not
space-delimited), everything else splits on white space. A shingle is a window of `n` consecutive
tokens; `n` is chosen per dialogue by its dominant script: character n-grams when CJK tokens are at
least half of the tokens, word n-grams otherwise. A shingle's canonical bytes are its tokens joined by
single spaces (tokens never contain white space), which is what datasketch would be given.

Shingle hashes are 32-bit and come in two kinds:
- "sha1": `datasketch.hashfunc.sha1_hash32` of the canonical bytes, the datasketch default, so
  signatures equal `datasketch.MinHash()` bit for bit; one SHA-1 per distinct shingle of a batch.
- "token": each distinct token of a batch is hashed once (xxHash32), and a shingle's hash is an
  order-sensitive mix of its tokens' hashes, computed in numpy for all windows at once. Equal to
  `datasketch.MinHash(hashfunc=token_shingle_hash32)` over the canonical bytes; several times faster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from operators.arrow_lists import combined, parents, turn_field

ShingleHash = Literal["token", "sha1"]

CJK_CHARS = r"\p{Han}\p{Hiragana}\p{Katakana}"  # a regex character-class body
# Punctuation, symbols, control and format characters (NUL, zero-width joiners) carry no content; they
# and every separator other than the ASCII space (line and paragraph separators, the Zs spaces NFKC
# keeps) become an ASCII space, the only separator tokens split on. The class leaves the ASCII space
# out on purpose: Arrow's regex replace costs per match, and matching every space was 10x slower.
# (Arrow's utf8_split_whitespace was also seen to keep a trailing space inside a token after unassigned
# code points, nondeterministically: splitting on the ASCII space alone avoids its Unicode tables.)
_NOISE = r"[\p{P}\p{S}\p{Cc}\p{Cf}\p{Zl}\p{Zp}\x{00A0}\x{1680}\x{2000}-\x{200A}\x{202F}\x{205F}\x{3000}]+"
_MIX = np.uint32(0x9E3779B1)  # golden-ratio multiplier: spreads the running hash before adding a token


def _fold_counting(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Case, width and punctuation folded text, CJK characters set apart (white-space runs left as they
    are), and per text its number of CJK characters: each gained two spaces, so no extra regex pass."""
    texts = pc.utf8_lower(pc.utf8_normalize(texts, "NFKC"))
    texts = pc.replace_substring_regex(texts, _NOISE, " ")
    before = pc.fill_null(pc.utf8_length(texts), 0).to_numpy(zero_copy_only=False)
    texts = pc.replace_substring_regex(texts, f"([{CJK_CHARS}])", r" \1 ")
    return texts, (pc.fill_null(pc.utf8_length(texts), 0).to_numpy(zero_copy_only=False) - before) // 2


def _fold(texts: pa.Array) -> pa.Array:
    return _fold_counting(texts)[0]


def normalize(texts: pa.Array) -> pa.Array:
    """Case, width, punctuation and white-space folded text, with CJK characters set apart by single spaces."""
    return pc.utf8_trim(pc.replace_substring_regex(_fold(texts), " {2,}", " "), " ")


def tokenize(texts: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Tokens of every text, flattened; for each token the index of its text; per text its number of CJK tokens."""
    folded, cjk = _fold_counting(texts)
    split = pc.split_pattern(folded, " ")
    tokens = split.flatten()
    owners = pc.list_parent_indices(split).to_numpy(zero_copy_only=False)
    keep = pc.greater(pc.utf8_length(tokens), 0)
    return tokens.filter(keep), owners[keep.to_numpy(zero_copy_only=False)], cjk


@dataclass(frozen=True)
class Tokens:
    """Tokens of a batch of dialogues: flat, in dialogue order, with per-dialogue offsets."""

    tokens: pa.Array  # string, all dialogues concatenated
    offsets: np.ndarray  # int64, len = dialogues + 1
    cjk: np.ndarray  # int64 per dialogue: how many of its tokens are CJK characters

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


def dialogue_tokens(batch: pa.Table) -> Tokens:
    """The tokens of each dialogue's turns, in order (shingles may span turns: short replies still shingle)."""
    turns = combined(batch.column("turns"))
    texts = pc.fill_null(turn_field(turns, "text"), "")
    turn_owner = parents(turns).to_numpy(zero_copy_only=False)
    tokens, token_turn, cjk = tokenize(texts)
    return _from_owners(tokens, turn_owner[token_turn], np.bincount(turn_owner, weights=cjk, minlength=batch.num_rows), batch.num_rows)


def text_tokens(texts: pa.Array) -> Tokens:
    """The tokens of each text (one text = one document)."""
    tokens, owners, cjk = tokenize(pc.fill_null(texts, ""))
    return _from_owners(tokens, owners, cjk, len(texts))


def _from_owners(tokens: pa.Array, owners: np.ndarray, cjk: np.ndarray, documents: int) -> Tokens:
    counts = np.bincount(owners, minlength=documents) if len(owners) else np.zeros(documents, np.int64)
    offsets = np.zeros(documents + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Tokens(tokens, offsets, np.asarray(cjk, np.int64))


def ngram_sizes(tokens: Tokens, word_ngram: int, char_ngram: int) -> np.ndarray:
    """Per document: the shingle size chosen by its dominant script."""
    return np.where((tokens.cjk * 2 >= tokens.counts) & (tokens.counts > 0), char_ngram, word_ngram).astype(np.int64)


@dataclass(frozen=True)
class Windows:
    """Shingle windows: start token of each, the shingle size of each, and per-document offsets."""

    starts: np.ndarray  # int64 index into Tokens.tokens
    sizes: np.ndarray  # int64 per window
    offsets: np.ndarray  # int64, len = documents + 1
    capped: np.ndarray  # bool per document: more windows than max_shingles, the rest dropped


def windows(tokens: Tokens, sizes: np.ndarray, max_shingles: int) -> Windows:
    """Every window of `sizes[d]` consecutive tokens inside document d, the first `max_shingles` of each."""
    available = np.maximum(tokens.counts - sizes + 1, 0)
    per_doc = np.minimum(available, max_shingles)
    offsets = np.zeros(len(per_doc) + 1, np.int64)
    np.cumsum(per_doc, out=offsets[1:])
    owner = np.repeat(np.arange(len(per_doc)), per_doc)
    starts = np.arange(offsets[-1], dtype=np.int64) - offsets[owner] + tokens.offsets[owner]
    return Windows(starts, sizes[owner], offsets, available > max_shingles)


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (wrapping uint32 arithmetic), on a copy."""
    return _fmix32_inplace(np.array(h, np.uint32))


def _fmix32_inplace(h: np.ndarray) -> np.ndarray:
    """`_fmix32` overwriting `h` (no temporaries but the shifts: this runs over every shingle)."""
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def sha1_hash32(data: bytes) -> int:
    """datasketch's default 32-bit hash: the first 4 bytes of SHA-1, little-endian."""
    return int.from_bytes(hashlib.sha1(data).digest()[:4], "little")


def token_hash32(data: bytes) -> int:
    """The hash of one token in the "token" kind: xxHash32 (seed 0) of its UTF-8 bytes."""
    return xxhash.xxh32_intdigest(data)


def _hash_distinct(strings: pa.Array, function: Callable[[bytes], int]) -> np.ndarray:
    """`function` of each string's UTF-8 bytes, computed once per distinct value."""
    encoded = pc.dictionary_encode(strings)
    distinct = encoded.dictionary.cast(pa.binary()).to_pylist()
    vocabulary = np.fromiter((function(value) for value in distinct), np.uint32, len(distinct))
    return vocabulary[encoded.indices.to_numpy(zero_copy_only=False)]


def shingle_strings(tokens: Tokens, shingles: Windows) -> pa.Array:
    """Canonical text of every shingle: its tokens joined by single spaces."""
    if len(shingles.starts) == 0:
        return pa.array([], pa.string())
    width = int(shingles.sizes.max())
    parts = []
    for k in range(width):
        # Windows shorter than `width` take nulls past their end; binary_join skips them.
        position = np.where(k < shingles.sizes, shingles.starts + k, -1)
        parts.append(tokens.tokens.take(pa.array(position, mask=position < 0)))
    return pc.binary_join_element_wise(*parts, " ", null_handling="skip")


def shingle_hashes(tokens: Tokens, shingles: Windows, kind: ShingleHash = "token") -> np.ndarray:
    """A uint32 hash per shingle window (see the module docstring for the two kinds)."""
    if kind == "sha1":
        return _hash_distinct(shingle_strings(tokens, shingles), sha1_hash32) if len(shingles.starts) else np.zeros(0, np.uint32)
    token_hash = _hash_distinct(tokens.tokens, token_hash32) if len(tokens.tokens) else np.zeros(0, np.uint32)
    result = token_hash[shingles.starts] if len(shingles.starts) else np.zeros(0, np.uint32)
    width = int(shingles.sizes.max()) if len(shingles.sizes) else 0
    uniform = len(shingles.sizes) == 0 or int(shingles.sizes.min()) == width
    for k in range(1, width):
        if uniform:  # every window has this token: mix in place
            result *= _MIX
            result += token_hash[shingles.starts + k]
            _fmix32_inplace(result)
            continue
        more = k < shingles.sizes
        mixed = _fmix32_inplace(result * _MIX + token_hash[np.where(more, shingles.starts + k, 0)])
        result = np.where(more, mixed, result)
    return result


def token_shingle_hash32(shingle: bytes) -> int:
    """The "token" shingle hash of one shingle's canonical bytes: a reference for datasketch's `hashfunc`."""
    parts = shingle.split(b" ")
    h = np.array([token_hash32(parts[0])], np.uint32)
    for part in parts[1:]:
        h = _fmix32(h * _MIX + np.uint32(token_hash32(part)))
    return int(h[0])
