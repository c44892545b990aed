"""Built-in checks on generated dialogues."""

from __future__ import annotations

import pytest

from operators.synthesis.checks import character_break, detect_language, dialogue_problems, speaks_user_lines, turn_problems

EN_USER = "How was your weekend, did you get out of the city at all?"
EN_CHAR = "We drove up to the lakes and my brother fell in the water, it was the best thing ever."


@pytest.mark.parametrize(
    "text",
    ["As an AI, I don't have a weekend.", "I'm just a language model.", "I don't have feelings, sorry.", "作为一个AI，我没有周末。",
     "我是人工智能，不能吃东西。", "作为AI助手", "ChatGPT here!"],
)
def test_character_breaks_are_found(text):
    assert character_break(text)[0] == "character_break"


@pytest.mark.parametrize("text", ["I said I'd email her.", "The AI in that film was creepy.", "我今天去了超市。", "Paint is an air-drying medium."])
def test_ordinary_lines_are_not_breaks(text):
    assert character_break(text) is None


def test_language_detection():
    assert detect_language("我今天去了超市，买了很多水果。") == "zh"
    assert detect_language(EN_CHAR) == "en"
    assert detect_language("12345 !!!") == "und"


def test_user_lines_inside_a_character_turn():
    assert speaks_user_lines("Sure.\nUser: really?", "Fan", "en")[0] == "character_speaks_user_lines"
    assert speaks_user_lines("Sure.\nFan: really?", "Fan", "en") is not None
    assert speaks_user_lines("好啊。\n用户：真的吗？", "粉丝", "zh") is not None
    assert speaks_user_lines("My note said: buy milk.", "Fan", "en") is None


def test_dialogue_problems_name_each_reason():
    good = [("user", EN_USER), ("character", EN_CHAR)]
    assert dialogue_problems(good, expected_turns=2, first_role="user", language="en", user_speaker="Fan") == []
    reasons = lambda turns, **kw: [p[0] for p in dialogue_problems(turns, **{"expected_turns": 2, "first_role": "user", "language": "en", "user_speaker": "Fan", **kw})]  # noqa: E731
    assert reasons(good, expected_turns=4) == ["wrong_turn_count"]
    assert reasons([("character", EN_CHAR), ("user", EN_USER)]) == ["turns_not_alternating"]
    assert reasons(good, language="zh") == ["wrong_language"]
    assert reasons([("user", EN_USER), ("character", "")]) == ["empty_turn"]


def test_short_rewrites_skip_the_language_guess():
    assert turn_problems("Ha! Sure.", language="zh", user_speaker="Fan") == []
    assert [p[0] for p in turn_problems("The weather is lovely today and I would like a walk.", language="zh", user_speaker="Fan")] == ["wrong_language"]
