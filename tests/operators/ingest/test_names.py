"""Character names from system prompts."""

from __future__ import annotations

import pytest

from operators.ingest.names import name_from_prompt


@pytest.mark.parametrize(
    ("prompt", "name"),
    [
        ("You are Sherlock Holmes, a detective.", "Sherlock Holmes"),
        ("I want you to act like Beethoven.", "Beethoven"),
        ("You are now Bob.", "Bob"),
        ("你是张起灵，张家族长。", "张起灵"),
        ("以下是一段项羽和用户之间的对话。", "项羽"),
        ("You are a helpful assistant.", None),
        ("你是一个AI助手", None),
        (None, None),
    ],
)
def test_name_from_prompt(prompt: str | None, name: str | None) -> None:
    assert name_from_prompt(prompt) == name
