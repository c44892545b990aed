"""Features of a dialogue for the quality classifier: hashed n-grams of the character's turns plus a few
dense shape features (length, repetition, questions, overlap with the profile).

Word n-grams cover space-separated languages; CJK text is taken out of the word view (a Chinese clause
has no spaces, so it would be one huge token) and is covered by the character n-grams, which see every
language. Hashing keeps the vectorisers stateless: a model artifact stores only their settings.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field
from sklearn.feature_extraction.text import HashingVectorizer

from operators.arrow_lists import combined

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]+")
_WORD = re.compile(r"\w+")
DENSE_FEATURES: tuple[str, ...] = (
    "log_turns",
    "log_character_chars",
    "log_user_chars",
    "character_share",
    "distinct_bigram_ratio",
    "repeated_turn_share",
    "question_share",
    "profile_overlap",
    "catchphrase_hits",
    "cjk_share",
)


class FeatureSettings(BaseModel):
    """How text becomes features; stored in the model artifact so scoring uses what training used."""

    model_config = ConfigDict(extra="forbid")

    word_ngrams: tuple[int, int] = Field((1, 2), description="Word n-gram range (non-CJK text).")
    char_ngrams: tuple[int, int] = Field((1, 3), description="Character n-gram range (every language; the only view of zh).")
    word_features: int = Field(2**18, ge=2**10, description="Hashed word feature space size.")
    char_features: int = Field(2**18, ge=2**10, description="Hashed character feature space size.")
    include_user_turns: bool = Field(False, description="Also hash the user's turns (prefixed), not only the character's.")


def _without_cjk(text: str) -> str:
    return _CJK.sub(" ", text.lower())


def vectorizers(settings: FeatureSettings) -> tuple[HashingVectorizer, HashingVectorizer]:
    """The (word, character) hashing vectorisers for `settings`."""
    word = HashingVectorizer(
        analyzer="word", ngram_range=settings.word_ngrams, n_features=settings.word_features, preprocessor=_without_cjk, token_pattern=r"(?u)\b\w+\b"
    )
    char = HashingVectorizer(analyzer="char_wb", ngram_range=settings.char_ngrams, n_features=settings.char_features, lowercase=True)
    return word, char


def _tokens(text: str) -> list[str]:
    """Words for overlap and repetition: CJK characters one by one, other words whole."""
    out: list[str] = []
    for match in _CJK.finditer(text):
        out.extend(match.group())
    out.extend(w.lower() for w in _WORD.findall(_CJK.sub(" ", text)))
    return out


def _dense(row: dict[str, Any]) -> list[float]:
    turns = row.get("turns") or []
    mine = [t["text"] or "" for t in turns if t["role"] == "character"]
    theirs = [t["text"] or "" for t in turns if t["role"] != "character"]
    mine_chars, their_chars = sum(map(len, mine)), sum(map(len, theirs))
    tokens = _tokens(" ".join(mine))
    bigrams = list(zip(tokens, tokens[1:], strict=False))
    normalized = [" ".join(t.split()).lower() for t in mine]
    repeated = sum(1 for i, t in enumerate(normalized) if t and t in normalized[:i])
    character = row.get("character") or {}
    styles = character.get("styles") or {}
    profile = " ".join(filter(None, [character.get("profile_text") or "", styles.get("speaking_style") or "", " ".join(styles.get("example_lines") or [])]))
    profile_tokens, own_tokens = set(_tokens(profile)), set(tokens)
    catchphrases = [c for c in styles.get("catchphrases") or [] if c]
    joined = " ".join(mine)
    cjk = sum(len(m.group()) for m in _CJK.finditer(joined))
    return [
        math.log1p(len(turns)),
        math.log1p(mine_chars / max(1, len(mine))),
        math.log1p(their_chars / max(1, len(theirs))),
        mine_chars / max(1, mine_chars + their_chars),
        len(set(bigrams)) / len(bigrams) if bigrams else 0.0,
        repeated / max(1, len(mine)),
        sum(1 for t in mine if "?" in t or "？" in t) / max(1, len(mine)),
        len(profile_tokens & own_tokens) / max(1, len(own_tokens)) if profile_tokens else 0.0,
        float(sum(1 for c in catchphrases if c in joined)),
        cjk / max(1, len(joined)),
    ]


def dialogue_texts(rows: list[dict[str, Any]], include_user_turns: bool) -> list[str]:
    """The text each dialogue is hashed from: its character turns (and, optionally, the user's, marked)."""
    texts = []
    for row in rows:
        parts = []
        for turn in row.get("turns") or []:
            if turn["role"] == "character":
                parts.append(turn["text"] or "")
            elif include_user_turns:
                parts.append("u: " + (turn["text"] or ""))
        texts.append("\n".join(parts))
    return texts


def row_dicts(batch: pa.Table) -> list[dict[str, Any]]:
    """The columns the features read, as Python rows."""
    return pa.table({name: combined(batch.column(name)) for name in ("turns", "character")}).to_pylist()


def featurize(rows: list[dict[str, Any]], settings: FeatureSettings) -> tuple[sp.csr_matrix, np.ndarray]:
    """(hashed n-gram matrix, dense feature matrix) for dialogue rows."""
    word, char = vectorizers(settings)
    texts = dialogue_texts(rows, settings.include_user_turns)
    hashed = sp.hstack([word.transform(texts), char.transform(texts)], format="csr")
    dense = np.array([_dense(row) for row in rows], dtype=np.float64).reshape(len(rows), len(DENSE_FEATURES))
    return hashed, dense
