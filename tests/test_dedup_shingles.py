"""Normalisation and shingling invariants (hypothesis) and the shingle hashes against their references."""

from __future__ import annotations

import unicodedata

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import example, given, settings
from hypothesis import strategies as st

from operators.dedup.shingles import (
    CJK_CHARS,
    _cjk_table,
    _fold_ascii,
    _fold_unicode,
    ngram_sizes,
    normalize,
    sha1_hash32,
    shingle_hashes,
    shingle_strings,
    text_tokens,
    token_shingle_hash32,
    windows,
)

WORDS = st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8), min_size=0, max_size=30)
ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)


def norm(text: str) -> str:
    return normalize(pa.array([text])).to_pylist()[0]


def tokens_of(text: str) -> list[str]:
    return text_tokens(pa.array([text])).tokens.to_pylist()


def fullwidth(text: str) -> str:
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_normalize_is_idempotent_and_clean(text: str) -> None:
    once = norm(text)
    assert norm(once) == once
    assert once == once.strip() and "  " not in once


@settings(max_examples=100, deadline=None)
@given(ASCII)
def test_normalize_folds_case_and_full_width(text: str) -> None:
    assert norm(text.upper()) == norm(text.lower()) == norm(fullwidth(text))


@settings(max_examples=100, deadline=None)
@given(WORDS, st.sampled_from([" ", "  ", "\t", ", ", " — ", "!!! ", "\n", "。", "\x00"]))
def test_punctuation_and_white_space_do_not_change_tokens(words: list[str], separator: str) -> None:
    assert tokens_of(separator.join(words)) == tokens_of(" ".join(words)) == [w for w in words if w]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_tokens_are_non_empty_and_have_no_white_space(text: str) -> None:
    for token in tokens_of(text):
        assert token and not any(c.isspace() for c in token)


def test_cjk_characters_are_tokens_and_choose_character_shingles() -> None:
    tokens = text_tokens(pa.array(["你好，世界！Hello world", "hello big world 你"]))
    assert tokens.tokens.to_pylist()[:6] == ["你", "好", "世", "界", "hello", "world"]
    assert list(ngram_sizes(tokens, word_ngram=3, char_ngram=5)) == [5, 3]


@settings(max_examples=100, deadline=None)
@given(st.lists(WORDS, min_size=1, max_size=5), st.integers(1, 4), st.integers(1, 50))
def test_windows_are_exactly_the_ngrams(documents: list[list[str]], n: int, cap: int) -> None:
    tokens = text_tokens(pa.array([" ".join(d) for d in documents]))
    sizes = np.full(len(documents), n)
    shingles = windows(tokens, sizes, cap)
    strings = shingle_strings(tokens, shingles).to_pylist()
    for d, words in enumerate(documents):
        expected = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
        assert strings[shingles.offsets[d] : shingles.offsets[d + 1]] == expected[:cap]
        assert shingles.capped[d] == (len(expected) > cap)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=5), st.integers(1, 5))
def test_shingle_hashes_match_their_byte_level_references(texts: list[str], n: int) -> None:
    tokens = text_tokens(pa.array(texts))
    shingles = windows(tokens, np.full(len(texts), n), 1000)
    strings = [s.encode("utf-8") for s in shingle_strings(tokens, shingles).to_pylist()]
    assert list(shingle_hashes(tokens, shingles, "sha1")) == [sha1_hash32(s) for s in strings]
    assert list(shingle_hashes(tokens, shingles, "token")) == [token_shingle_hash32(s) for s in strings]


def test_a_document_shingles_the_same_in_any_batch() -> None:
    texts = ["the cat sat on the mat", "你好世界你好", "", "one two three four five"]
    tokens = text_tokens(pa.array(texts))
    alone = text_tokens(pa.array(texts[3:]))
    together = shingle_hashes(tokens, windows(tokens, np.full(4, 2), 100))
    single = shingle_hashes(alone, windows(alone, np.full(1, 2), 100))
    assert list(together[-len(single) :]) == list(single)


def test_every_code_point_normalises_idempotently() -> None:
    # NFKC then lower-case: the other order leaves e.g. U+1D54A (double-struck S) as "S" after one pass.
    points = pa.array([chr(c) for c in range(0x20, 0x30000) if not 0xD800 <= c < 0xE000])
    once = normalize(points)
    assert normalize(once).equals(once)


def test_ascii_fast_path_folds_every_ascii_character_as_the_unicode_path() -> None:
    # Equal up to the length of space runs (the Unicode path turns a run of noise into one space; tokens
    # split on spaces and drop empty ones, normalize() collapses runs).
    characters = pa.array([chr(c) for c in range(128)] + ["".join(chr(c) for c in range(128)), "Hello, World!! 42\x00"])
    fast, general = (pc.replace_substring_regex(folded, " +", " ") for folded in (_fold_ascii(characters), _fold_unicode(characters, set_apart=True)))
    assert fast.equals(general)


MIXED = st.lists(
    st.one_of(
        ASCII,
        st.text(max_size=40),
        st.lists(st.sampled_from(["你", "好", "世界", "hello", "Ｗorld", "\x00", "。", " ", "ß", "İ"]), max_size=12).map("".join),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=100, deadline=None)
@given(MIXED)
@example([":", "::", "  a  b ", "", "a", "你好 a"])  # leading blanks of different lengths, a last token without a space after it
def test_a_mixed_batch_tokenises_each_text_as_alone(texts: list[str]) -> None:
    # ASCII rows take the byte-level path, the others the Unicode path; the batch puts them back in order.
    together = text_tokens(pa.array(texts))
    strings = together.tokens.to_pylist()
    for d, text in enumerate(texts):
        alone = text_tokens(pa.array([text]))
        assert strings[together.offsets[d] : together.offsets[d + 1]] == alone.tokens.to_pylist()
        assert together.slice(int(together.offsets[d]), int(together.counts[d])).to_pylist() == alone.tokens.to_pylist()
        assert together.cjk[d] == alone.cjk[0]
    assert normalize(pa.array(texts)).to_pylist() == [norm(t) for t in texts]


def test_null_and_sliced_texts_fold_like_their_values() -> None:
    texts = pa.array(["X, Y!", None, "Ünïcode 你好", "A\tB"])
    assert normalize(texts).to_pylist() == ["x y", None, "ünïcode 你 好", "a b"]
    assert normalize(texts.slice(2)).to_pylist() == ["ünïcode 你 好", "a b"]
    assert normalize(pa.array(["Plain ASCII, only.", None]).slice(0)).to_pylist() == ["plain ascii only", None]
    assert text_tokens(pa.array(["A b", None, "c"], pa.large_string())).tokens.to_pylist() == ["a", "b", "c"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(WORDS, st.integers(1, 5)), min_size=1, max_size=5), st.integers(1, 40))
def test_mixed_shingle_sizes_and_caps_match_the_references(documents: list[tuple[list[str], int]], cap: int) -> None:
    tokens = text_tokens(pa.array([" ".join(words) for words, _ in documents]))
    shingles = windows(tokens, np.array([n for _, n in documents]), cap)
    strings = shingle_strings(tokens, shingles).to_pylist()
    for d, (words, n) in enumerate(documents):
        expected = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
        assert strings[shingles.offsets[d] : shingles.offsets[d + 1]] == expected[:cap]
        assert shingles.capped[d] == (len(expected) > cap)
    assert list(shingle_hashes(tokens, shingles, "token")) == [token_shingle_hash32(s.encode("utf-8")) for s in strings]


def test_token_hash_is_order_sensitive_and_spreads() -> None:
    words = [f"w{i}" for i in range(300)]
    trigrams = {" ".join(words[i : i + 3]).encode() for i in range(298)}
    swapped = {b" ".join(reversed(s.split(b" "))) for s in trigrams}
    hashes = {token_shingle_hash32(s) for s in trigrams | swapped}
    assert len(hashes) == len(trigrams | swapped)


CJK_MIX = st.text(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from("你好世界ひらがなカタカナｶﾀｶﾅ〇々〆㐀\U00020000\U0002a6d6\U00030000 ，。、「」"),
        st.sampled_from(["a", "Z", "1", " ", "\n", "-"]),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(CJK_MIX, min_size=1, max_size=4))
def test_tokens_are_the_normalised_text_split_on_spaces(texts: list[str]) -> None:
    # Tokens split CJK characters off in numpy; normalize() sets them apart with the regex: the same tokens,
    # and the CJK count is the number of characters the regex class matches.
    tokens = text_tokens(pa.array(texts))
    strings = tokens.tokens.to_pylist()
    for d, text in enumerate(texts):
        expected = [t for t in norm(text).split(" ") if t]
        assert strings[tokens.offsets[d] : tokens.offsets[d + 1]] == expected
        assert tokens.cjk[d] == sum(1 for t in expected if len(t) == 1 and regex_is_cjk(t))


def regex_is_cjk(character: str) -> bool:
    return bool(pc.match_substring_regex(pa.array([character]), f"^[{CJK_CHARS}]$")[0].as_py())


def test_cjk_table_marks_han_kana_and_extension_planes() -> None:
    # The table is built from the regex class; spot-check it against Unicode's own names.
    table = _cjk_table()
    for character in "你〇々ひカㇰ㐀\U00020000\U0002ebe0\U00031350":
        assert table[ord(character)], (character, unicodedata.name(character, "?"))
    for character in "aé한ㄱ，。ー\u3000\U0001f600":  # Hangul, punctuation, the prolonged sound mark (Common), an emoji
        assert not table[ord(character)] and not regex_is_cjk(character), character
