"""`filters.safety`: zh + en lexicons by category, personal-data patterns, flag-only categories, classifier hook."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pytest

from benchmarks.corpus import row
from operators.columns import WORKING_SCHEMA
from operators.filters.safety import SafetyConfig, SafetyFilter


def keyword_classifier(texts: Sequence[str]) -> list[dict[str, float]]:
    """A real (if tiny) classifier plugged in by its import path, as a user's would be."""
    return [{"toxicity": 0.9 if "idiot" in text.lower() else 0.1} for text in texts]


def run(*dialogues: list[str], config: SafetyConfig | None = None) -> dict[str, list]:
    table = pa.Table.from_pylist([row(i, texts, "en") for i, texts in enumerate(dialogues)], schema=WORKING_SCHEMA)
    result = SafetyFilter(config)(table)
    return {name: result.column(name).to_pylist() for name in ("_reject_reason", "_reject_detail", "safety_flags", "safety_model_score")}


def test_lexicon_categories_zh_and_en() -> None:
    out = run(
        ["I want to KILL MYSELF tonight.", "Please, talk to me."],
        ["我想知道自杀方法", "不要这样。"],
        ["What a lovely day.", "Indeed it is."],
    )
    assert out["_reject_reason"] == ["unsafe_self_harm", "unsafe_self_harm", None]
    assert out["_reject_detail"][0] == "self_harm in turn 1"
    assert out["safety_flags"] == [["self_harm"], ["self_harm"], []]


def test_personal_data_patterns_and_flag_only() -> None:
    texts = ["Write to me at lin.wei@example.com", "Or call 13812345678."]
    assert run(texts)["_reject_reason"] == ["unsafe_personal_data"]
    out = run(texts, config=SafetyConfig(flag_only=["personal_data"]))
    assert out["_reject_reason"] == [None] and out["safety_flags"] == [["personal_data"]]
    assert run(["Room 13812345678901 is long", "fine"])["_reject_reason"] == [None]  # 14 digits: not a phone number


def test_classifier_hook() -> None:
    config = SafetyConfig(classifier="tests.test_filters_safety:keyword_classifier", classifier_threshold=0.5)
    out = run(["You are an idiot.", "How rude."], ["Good morning.", "Good morning to you."], config=config)
    assert out["_reject_reason"] == ["unsafe_toxicity", None]
    assert out["safety_model_score"] == pytest.approx([0.9, 0.1])
    with pytest.raises(ValueError, match="cannot load classifier"):
        run(["a", "b"], config=SafetyConfig(classifier="tests.nowhere:nothing"))
