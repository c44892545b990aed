"""`filters.repetition`: Gopher duplicate-line and n-gram fractions, repeated replies; zh and en alike."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from benchmarks.corpus import dialogue_texts, row
from operators.columns import WORKING_SCHEMA
from operators.filters.repetition import RepetitionConfig, RepetitionFilter


def run(*dialogues: list[str], config: RepetitionConfig | None = None) -> pa.Table:
    table = pa.Table.from_pylist([row(i, texts, "en") for i, texts in enumerate(dialogues)], schema=WORKING_SCHEMA)
    return RepetitionFilter(config)(table)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_varied_dialogues_pass(language: str) -> None:
    rng = random.Random(7)
    result = run(*(dialogue_texts(rng, language, 8, 20) for _ in range(5)))
    assert result.column("_reject_reason").to_pylist() == [None] * 5
    assert max(result.column("rep_dup_ngram_frac").to_pylist()) < 0.1


def test_duplicate_lines_are_counted_but_back_channel_is_not() -> None:
    looped = ["Where is the lighthouse keeper tonight?", "He went down to the harbour.", "Where is the lighthouse keeper tonight?"] * 2
    chatty = ["ok", "Tell me about the harbour.", "ok", "It is small and cold.", "ok", "Do you like it?", "ok", "Very much."]
    result = run(looped, chatty)
    assert result.column("_reject_reason").to_pylist() == ["duplicate_lines", None]
    assert result.column("rep_dup_line_frac").to_pylist()[0] == pytest.approx(4 / 6)
    assert result.column("rep_dup_line_frac").to_pylist()[1] == 0


def test_repeated_character_replies() -> None:
    texts = []
    for i in range(6):
        texts += [
            f"Question number {i} about the weather and the sea?",
            "I cannot say, my friend." if i % 2 else f"Answer {i} is different.",
        ]
    result = run(texts, config=RepetitionConfig(max_dup_line_frac=1, max_dup_line_char_frac=1))
    assert result.column("_reject_reason").to_pylist() == ["repeated_replies"]
    assert result.column("rep_repeated_reply_frac").to_pylist()[0] == pytest.approx(2 / 6)


def test_repeated_ngrams_in_long_dialogues_zh() -> None:
    rng = random.Random(1)
    phrase = "我真的非常非常喜欢你"
    texts = [t + phrase * 3 for t in dialogue_texts(rng, "zh", 6, 10)]
    result = run(texts)
    assert result.column("_reject_reason").to_pylist() == ["repeated_ngrams"]
    assert "gram" in result.column("_reject_detail").to_pylist()[0]
    short = run(["好好好好好好"], config=RepetitionConfig(min_tokens=50))
    assert short.column("_reject_reason").to_pylist() == [None] and short.column("rep_top_ngram_frac").to_pylist() == [0]
