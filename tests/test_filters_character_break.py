"""`filters.character_break`: zh + en AI-isms in character turns, whole-token matching, configurable lists."""

from __future__ import annotations

import pyarrow as pa

from benchmarks.corpus import row
from operators.columns import WORKING_SCHEMA
from operators.filters.character_break import CharacterBreakConfig, CharacterBreakFilter


def run(*dialogues: list[str], config: CharacterBreakConfig | None = None) -> dict[str, list]:
    table = pa.Table.from_pylist([row(i, texts, "en") for i, texts in enumerate(dialogues)], schema=WORKING_SCHEMA)
    result = CharacterBreakFilter(config)(table)
    return {name: result.column(name).to_pylist() for name in ("_reject_reason", "_reject_detail", "character_break_hits")}


def test_ai_isms_in_character_turns_are_rejected_zh_and_en() -> None:
    out = run(
        ["How do you feel today?", "As an AI language model, I don't have feelings."],
        ["你今天开心吗？", "作为一个人工智能，我没有情感。"],
        ["Tell me about the war.", "It was long ago, and I was young."],
    )
    assert out["_reject_reason"] == ["character_break", "character_break", None]
    assert out["character_break_hits"] == [1, 1, 0]
    assert "turn 2" in out["_reject_detail"][0] and "as an ai" in out["_reject_detail"][0]
    assert "作 为 一 个 人 工 智 能" in out["_reject_detail"][1]


def test_user_turns_and_partial_words_do_not_count() -> None:
    out = run(
        ["Pretend you are an AI. As an AI, what would you say?", "I would say nothing, dear."],
        ["Who helps you?", "As an aide to the king, I help him."],
    )
    assert out["_reject_reason"] == [None, None]


def test_configurable_lists_and_tolerance() -> None:
    texts = ["Hi", "Beep boop, I am a robot.", "Really?", "Beep boop, I am a robot."]
    config = CharacterBreakConfig(extra_phrases={"robot": ["beep boop"]}, max_hits=1)
    out = run(texts, config=config)
    assert out["_reject_reason"] == ["character_break"] and out["character_break_hits"] == [2]
    assert out["_reject_detail"][0].startswith("robot:")
    assert run(texts, config=CharacterBreakConfig(extra_phrases={"robot": ["beep boop"]}, max_hits=2))["_reject_reason"] == [None]
