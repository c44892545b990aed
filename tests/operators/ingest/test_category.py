"""The category classifier: tags, then zh + en profile rules, None when nothing is known."""

from __future__ import annotations

import pytest

from operators.ingest.category import classify_profile, classify_tags


def test_tags_vote_and_unknown_tags_say_nothing() -> None:
    assert classify_tags(["Anime", "female", "Game Characters"]) == "fictional"
    assert classify_tags(["Famous People", "History"]) == "celebrity"
    assert classify_tags(["Slice of Life"]) == "daily_life"
    assert classify_tags(["nsfw", "female"]) is None
    assert classify_tags([]) is None


@pytest.mark.parametrize(
    ("profile", "category"),
    [
        ("李白（701年—762年），唐代伟大的浪漫主义诗人，被后人誉为诗仙。", "celebrity"),
        ("周杰伦，1979年1月18日出生于台湾省，中国台湾流行乐男歌手、演员、导演。", "celebrity"),
        ("Marie Curie (1867–1934) was a physicist and chemist, the first woman to win a Nobel Prize.", "celebrity"),
        ("Taylor Swift is an American singer-songwriter, born in 1989.", "celebrity"),
        ("白浅，唐七作品《三生三世十里桃花》中的女主角，青丘狐族女君。", "fictional"),
        ("Geralt is a witcher, a magic-wielding monster hunter from the video game series.", "fictional"),
        ("Gandalf is a wizard in the novel The Lord of the Rings.", "fictional"),
        ("林晓，25岁，在一家互联网公司上班的程序员，是你的室友。", "daily_life"),
        ("Emma is your roommate, a nurse who works night shifts at the city hospital.", "daily_life"),
        ("A barista at the coffee shop on your street, and a college student.", "daily_life"),
    ],
)
def test_profile_rules_zh_and_en(profile: str, category: str) -> None:
    assert classify_profile(profile) == category


def test_no_cues_means_no_category() -> None:
    assert classify_profile("") is None
    assert classify_profile("喜欢吃苹果。") is None
    assert classify_profile("Likes blue.") is None
