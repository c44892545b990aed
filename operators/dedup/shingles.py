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
- "token": each distinct token of a batch is hashed once, t = xxHash32 (seed 0) of its UTF-8 bytes, and
  the shingle of tokens with hashes t_0 .. t_{n-1} hashes to the polynomial
  h = t_0 * P^(n-1) + t_1 * P^(n-2) + ... + t_{n-1}  mod 2**32,  P = 0x9E3779B1 (odd),
  i.e. Horner's rule h = h * P + t_i, computed in numpy by rolling over the contiguous token hashes of
  the whole batch (no gathers per token position). There is no finaliser on purpose: the signatures
  pre-mix every input hash with MurmurHash3's fmix32 (datasketch's scheme), a bijection that
  scrambles the bits. Distinct shingles collide with probability about 2**-32 over the token hashes; it
  is order-sensitive (swapping two tokens m apart collides only if their hashes agree in their low
  28 - v2(m) bits, since P^m - 1 has 4 + v2(m) factors of two). Equal to `datasketch.MinHash(hashfunc=token_shingle_hash32)`
  over the canonical bytes; several times faster than "sha1".

Normalisation has a byte-level fast path for pure-ASCII texts (the common case for English), checked
against the Unicode path for every ASCII character (equal up to the length of space runs); a batch
mixing ASCII and other texts folds each kind its own way and puts them back in order, so a text's
tokens never depend on its batch. Tokens are split in numpy over the folded text's bytes, CJK
characters included (by code point, with a table built from the same regex class), and tested equal
to `normalize`'s output split on spaces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property
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
_MIX = np.uint32(0x9E3779B1)  # the "token" shingle hash's multiplier (odd: multiplying by it is a bijection)
_CJK_PLANES = 0x40000  # Han, Hiragana and Katakana code points all lie below: BMP and planes 1-3


def _fold_unicode(texts: pa.Array, set_apart: bool) -> pa.Array:
    """The general fold: NFKC, lower case, noise to spaces, and (if `set_apart`) CJK characters set apart by spaces."""
    texts = pc.replace_substring_regex(pc.utf8_lower(pc.utf8_normalize(texts, "NFKC")), _NOISE, " ")
    return pc.replace_substring_regex(texts, f"([{CJK_CHARS}])", r" \1 ") if set_apart else texts


def _fold_ascii(texts: pa.Array) -> pa.Array:
    """`_fold_unicode` for texts that are pure ASCII, byte by byte in numpy over the data buffer.

    On ASCII, NFKC changes nothing, no character is CJK, and the noise class is exactly every byte that is
    not a letter, digit or space (controls, punctuation, symbols), so the fold is: letters to lower case,
    digits kept, everything else a space: one space per noise byte where the Unicode path puts one per run,
    which neither the tokens nor `normalize` can see (tested against `_fold_unicode` for all 128 characters)."""
    validity, offsets, data = texts.buffers()
    if data is None or data.size == 0:
        return texts
    raw = np.frombuffer(data, np.uint8)
    # In place into two scratch arrays: fresh 20 MB temporaries cost as much as the arithmetic (page faults).
    lowered = raw | np.uint8(0x20)  # lower case for letters; other bytes are judged on `raw` or replaced
    keep = np.subtract(lowered, np.uint8(ord("a")))
    np.less(keep, 26, out=keep.view(np.bool_))
    digit = np.subtract(raw, np.uint8(ord("0")), out=np.empty_like(raw))
    np.less(digit, 10, out=digit.view(np.bool_))
    keep |= digit
    keep = keep.view(np.bool_)
    # (lowered - 32) * keep + 32: the byte where kept, else a space (np.where is 30x slower on mixed masks).
    lowered -= np.uint8(32)
    lowered *= keep
    lowered += np.uint8(32)
    return pa.Array.from_buffers(texts.type, len(texts), [validity, offsets, pa.py_buffer(lowered)], texts.null_count, texts.offset)


def _fold(texts: pa.Array, set_apart: bool = True) -> tuple[pa.Array, bool]:
    """Case, width and punctuation folded text (white-space runs left as they are), CJK characters set
    apart if `set_apart`; and whether any text was not pure ASCII. Pure-ASCII texts take the byte-level
    fast path, the others the Unicode path, and a mixed batch is put back together in order."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        return _fold_unicode(texts, set_apart), True
    is_ascii = pc.fill_null(pc.string_is_ascii(texts), True)
    if pc.all(is_ascii).as_py() in (True, None):  # None: no texts
        return _fold_ascii(texts), False
    if not pc.any(is_ascii).as_py():
        return _fold_unicode(texts, set_apart), True
    other = pc.invert(is_ascii)
    # The ASCII fold of the whole buffer costs a few ms; the non-ASCII rows' garbage is replaced here.
    return pc.replace_with_mask(_fold_ascii(texts), other, _fold_unicode(texts.filter(other), set_apart)), True


def normalize(texts: pa.Array) -> pa.Array:
    """Case, width, punctuation and white-space folded text, with CJK characters set apart by single spaces."""
    return pc.utf8_trim(pc.replace_substring_regex(_fold(texts)[0], " {2,}", " "), " ")


def tokenize(texts: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """Tokens of every text, dictionary-encoded: a vocabulary of token strings, each token's index into it
    (flattened over the texts, in order), per text its number of tokens and its number of CJK tokens."""
    folded, unicode = _fold(texts, set_apart=False)  # CJK characters are split off in numpy instead (`_spans`)
    spans, per_text, cjk = _spans(pc.fill_null(folded, "") if folded.null_count else folded, unicode)
    encoded = pc.dictionary_encode(spans)
    # A span is a token and the spaces after it: trimmed, "w " and "w" (a text's last token) are both "w",
    # and a text's leading spaces are "", which is no token.
    vocabulary = pc.utf8_rtrim(encoded.dictionary, " ")
    ids = encoded.indices.to_numpy()
    blank = pc.binary_length(vocabulary).to_numpy() == 0
    if blank.any():
        gaps = np.flatnonzero(blank[ids])
        bounds = np.zeros(len(per_text) + 1, np.int64)
        np.cumsum(per_text, out=bounds[1:])
        per_text = per_text - np.bincount(np.searchsorted(bounds, gaps, side="right") - 1, minlength=len(per_text))
        ids = np.delete(ids, gaps)
    return vocabulary, ids, per_text, cjk


def _spans(folded: pa.Array, unicode: bool) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Each token of folded text with the spaces after it, as a string array over the text's own bytes (no
    copy: the split is found in numpy); per text its number of spans and of CJK characters.

    A span starts at every text's first byte (leading spaces are a span of their own), at every non-space
    byte after a space, and (if `unicode`) at every CJK character and at the non-space byte after one.
    That is what splitting `normalize`'s output on spaces gives, without the regex that sets CJK apart
    (per match, it was most of the time on Chinese text); tested against it."""
    _, offsets, data = folded.buffers()
    width = np.int64 if pa.types.is_large_string(folded.type) else np.int32
    bounds = np.frombuffer(offsets, width)[folded.offset : folded.offset + len(folded) + 1]
    low, high = int(bounds[0]), int(bounds[-1])
    raw = np.frombuffer(data, np.uint8)[low:high] if data is not None else np.zeros(0, np.uint8)
    space = raw == ord(" ")
    start = np.empty(len(raw), bool)
    if len(raw):
        start[0] = True
        np.greater(space[:-1], space[1:], out=start[1:])  # a space, then not a space
    text_starts = bounds[:-1] - low
    start[text_starts[text_starts < len(raw)]] = True
    cjk = np.zeros(len(folded), np.int64)
    if unicode:
        characters, lengths = _cjk_characters(raw)
        start[characters] = True
        after = characters + lengths
        after = after[after < len(raw)]
        start[after[~space[after]]] = True
        cjk = np.diff(np.searchsorted(characters, bounds - low))
    positions = np.flatnonzero(start)
    per_text = np.diff(np.searchsorted(positions, bounds - low))
    ends = np.empty(len(positions) + 1, width)
    np.add(positions, low, out=ends[:-1], casting="unsafe")  # fits: positions < high, which is of this width
    ends[-1] = high
    buffer = data if data is not None else pa.py_buffer(b"")
    spans = pa.Array.from_buffers(folded.type, len(positions), [None, pa.py_buffer(ends), buffer])
    return spans, per_text.astype(np.int64), cjk.astype(np.int64)


def _cjk_characters(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Byte position and UTF-8 length of every CJK character in valid UTF-8 bytes (all are 3 or 4 bytes long)."""
    leads = np.flatnonzero(raw >= 0xE0)  # lead bytes of 3- and 4-byte sequences
    # Continuation bytes by gathering from shifted views (no index arithmetic over millions of leads); in
    # valid UTF-8 a lead's continuation bytes are there. Code points in uint16 first: nearly all are 3-byte.
    first = raw[leads]
    point = (first & np.uint8(0x0F)).astype(np.uint16) << np.uint16(12)
    point |= (raw[1:][leads] & np.uint8(0x3F)).astype(np.uint16) << np.uint16(6)
    point |= raw[2:][leads] & np.uint8(0x3F)
    table = _cjk_table()
    chosen = table[point]
    lengths = np.full(len(leads), 3, np.uint8)
    four = np.flatnonzero(first >= 0xF0)
    if len(four):  # planes 1-3: the whole code point, from all four bytes
        wide = (first[four] & 0x07).astype(np.int64) << 18 | (point[four].astype(np.int64) & 0x0FFF) << 6 | raw[3:][leads[four]] & 0x3F
        chosen[four] = table[np.minimum(wide, _CJK_PLANES - 1)] & (wide < _CJK_PLANES)
        lengths[four] = 4
    return leads[chosen], lengths[chosen]


@cache
def _cjk_table() -> np.ndarray:
    """Per code point below `_CJK_PLANES`: whether the CJK class matches it, asked of the regex engine itself."""
    points = np.array([c for c in range(_CJK_PLANES) if not 0xD800 <= c < 0xE000])
    matches = pc.match_substring_regex(pa.array([chr(c) for c in points.tolist()]), f"^[{CJK_CHARS}]$")
    table = np.zeros(_CJK_PLANES, bool)
    table[points] = matches.to_numpy(zero_copy_only=False)
    return table


@dataclass(frozen=True)
class Tokens:
    """Tokens of a batch of dialogues, dictionary-encoded: flat ids in dialogue order, with per-dialogue offsets."""

    vocabulary: pa.Array  # string: the batch's tokens, each at least once (some twice; "" maybe, which no token uses)
    ids: np.ndarray  # int32 per token, all dialogues concatenated: index into `vocabulary`
    offsets: np.ndarray  # int64, len = dialogues + 1
    cjk: np.ndarray  # int64 per dialogue: how many of its tokens are CJK characters

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    @cached_property
    def tokens(self) -> pa.Array:
        """The token strings, all dialogues concatenated (built on first use: the hot paths need only ids)."""
        return self.vocabulary.take(pa.array(self.ids))

    def slice(self, offset: int, length: int) -> pa.Array:
        """The token strings `offset` to `offset + length` (like `pa.Array.slice` on `tokens`, without building all of them)."""
        return self.vocabulary.take(pa.array(self.ids[offset : offset + length]))


def dialogue_tokens(batch: pa.Table) -> Tokens:
    """The tokens of each dialogue's turns, in order (shingles may span turns: short replies still shingle)."""
    turns = combined(batch.column("turns"))
    texts = pc.fill_null(turn_field(turns, "text"), "")
    turn_owner = parents(turns).to_numpy(zero_copy_only=False)
    vocabulary, ids, counts, cjk = tokenize(texts)
    per_dialogue = np.bincount(turn_owner, weights=counts, minlength=batch.num_rows).astype(np.int64)
    return _tokens(vocabulary, ids, per_dialogue, np.bincount(turn_owner, weights=cjk, minlength=batch.num_rows))


def text_tokens(texts: pa.Array) -> Tokens:
    """The tokens of each text (one text = one document)."""
    return _tokens(*tokenize(pc.fill_null(texts, "")))


def _tokens(vocabulary: pa.Array, ids: np.ndarray, counts: np.ndarray, cjk: np.ndarray) -> Tokens:
    offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=offsets[1:])
    return Tokens(vocabulary, ids, offsets, np.asarray(cjk, np.int64))


def ngram_sizes(tokens: Tokens, word_ngram: int, char_ngram: int) -> np.ndarray:
    """Per document: the shingle size chosen by its dominant script."""
    return np.where((tokens.cjk * 2 >= tokens.counts) & (tokens.counts > 0), char_ngram, word_ngram).astype(np.int64)


@dataclass(frozen=True)
class Windows:
    """Shingle windows: start token of each, the shingle size of each, and per-document offsets."""

    starts: np.ndarray  # int64 index into the batch's tokens (Tokens.ids)
    sizes: np.ndarray  # int64 per window (read-only: a broadcast when all are equal)
    offsets: np.ndarray  # int64, len = documents + 1
    capped: np.ndarray  # bool per document: more windows than max_shingles, the rest dropped


def windows(tokens: Tokens, sizes: np.ndarray, max_shingles: int) -> Windows:
    """Every window of `sizes[d]` consecutive tokens inside document d, the first `max_shingles` of each."""
    available = np.maximum(tokens.counts - sizes + 1, 0)
    per_doc = np.minimum(available, max_shingles)
    offsets = np.zeros(len(per_doc) + 1, np.int64)
    np.cumsum(per_doc, out=offsets[1:])
    # Window i of document d starts at token offsets[d] + (i - window offsets[d]): one repeat of that shift.
    starts = np.arange(offsets[-1], dtype=np.int64)
    starts += np.repeat(tokens.offsets[:-1] - offsets[:-1], per_doc)
    uniform = len(sizes) > 0 and int(sizes.min()) == int(sizes.max())
    # One size for all (the common case): a read-only broadcast, not a copy per window.
    window_sizes = np.broadcast_to(np.int64(sizes[0]), starts.shape) if uniform else np.repeat(np.asarray(sizes, np.int64), per_doc)
    return Windows(starts, window_sizes, offsets, available > max_shingles)


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


def _hash_vocabulary(vocabulary: pa.Array, function: Callable[[bytes], int]) -> np.ndarray:
    """`function` of each distinct string's UTF-8 bytes."""
    values = vocabulary.cast(pa.binary()).to_pylist()
    return np.fromiter((function(value) for value in values), np.uint32, len(values))


def _hash_distinct(strings: pa.Array, function: Callable[[bytes], int]) -> np.ndarray:
    """`function` of each string's UTF-8 bytes, computed once per distinct value."""
    encoded = pc.dictionary_encode(strings)
    return _hash_vocabulary(encoded.dictionary, function)[encoded.indices.to_numpy(zero_copy_only=False)]


def shingle_strings(tokens: Tokens, shingles: Windows) -> pa.Array:
    """Canonical text of every shingle: its tokens joined by single spaces."""
    if len(shingles.starts) == 0:
        return pa.array([], pa.string())
    width = int(shingles.sizes.max())
    parts = []
    for k in range(width):
        # Windows shorter than `width` take nulls past their end; binary_join skips them.
        more = k < shingles.sizes
        ids = tokens.ids[np.where(more, shingles.starts + k, 0)] if len(tokens.ids) else np.zeros(len(more), np.int32)
        parts.append(tokens.vocabulary.take(pa.array(ids, mask=~more)))
    return pc.binary_join_element_wise(*parts, " ", null_handling="skip")


def shingle_hashes(tokens: Tokens, shingles: Windows, kind: ShingleHash = "token") -> np.ndarray:
    """A uint32 hash per shingle window (see the module docstring for the two kinds)."""
    if len(shingles.starts) == 0:
        return np.zeros(0, np.uint32)
    if kind == "sha1":
        return _hash_distinct(shingle_strings(tokens, shingles), sha1_hash32)
    token_hash = _hash_vocabulary(tokens.vocabulary, token_hash32)[tokens.ids]
    sizes = shingles.sizes
    if int(sizes.min()) == int(sizes.max()):
        return _rolling_hash(token_hash, int(sizes[0]))[shingles.starts]
    result = np.empty(len(shingles.starts), np.uint32)
    for size in np.unique(sizes):
        chosen = np.flatnonzero(sizes == size)
        result[chosen] = _rolling_hash(token_hash, int(size))[shingles.starts[chosen]]
    return result


def _rolling_hash(token_hash: np.ndarray, size: int) -> np.ndarray:
    """The "token" hash of the window of `size` tokens starting at every position that has one (windows
    across document boundaries included: the caller picks the starts it wants), by Horner's rule over
    contiguous slices, without gathers."""
    count = len(token_hash) - size + 1
    result = token_hash[:count].copy()
    for k in range(1, size):
        result *= _MIX
        result += token_hash[k : k + count]
    return result


def token_shingle_hash32(shingle: bytes) -> int:
    """The "token" shingle hash of one shingle's canonical bytes: a reference for datasketch's `hashfunc`."""
    h = 0
    for part in shingle.split(b" "):
        h = (h * int(_MIX) + token_hash32(part)) & 0xFFFFFFFF
    return h
