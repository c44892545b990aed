"""read.hpi: prototype logs with ratings and rewrites, bad cases, round trip."""

from __future__ import annotations

import json
from pathlib import Path

from tests.operators.ingest.harness import comparable, read, round_trip, split, write_jsonl

SESSION = {
    "id": "h1",
    "model": "proto-6b@2024-03",
    "character": {"name": "项羽", "category": "celebrity"},
    "scenario": "interview",
    "language": "zh",
    "rating_scale": [1, 5],
    "turns": [
        {"role": "user", "text": "你后悔吗？", "author_id": "u1"},
        {"role": "character", "text": "作为一个AI助手，我没有感情。", "rating": 1, "rewrite": "后悔？大丈夫何悔之有！", "author_id": "r1"},
        {"role": "user", "text": "乌江边呢？"},
        {"role": "character", "text": "天亡我，非战之罪也。", "rating": 5},
        {"role": "user", "text": "再说一遍。"},
        {"role": "character", "text": "好的。", "rating": 1.5},
    ],
}


def test_rewrite_is_the_turn_and_the_model_output_is_kept(tmp_path: Path) -> None:
    dialogues, rejects = split(read("hpi", write_jsonl(tmp_path / "hpi.jsonl", [SESSION])))
    assert not rejects
    dialogue = dialogues[0]
    assert dialogue["source"] == "human_prototype"
    assert [t["text"] for t in dialogue["turns"]][1] == "后悔？大丈夫何悔之有！"
    turns = json.loads(dialogue["meta"]["hpi.turns"])
    assert turns[1] == {"model_output": "作为一个AI助手，我没有感情。", "rating": 1.0, "text_is": "rewrite"}
    assert json.loads(dialogue["meta"]["hpi.record"])["model"] == "proto-6b@2024-03"


def test_low_rated_turn_without_rewrite_is_a_labelled_bad_case(tmp_path: Path) -> None:
    dialogue = split(read("hpi", write_jsonl(tmp_path / "hpi.jsonl", [SESSION])))[0][0]
    assert json.loads(dialogue["meta"]["hpi.bad_case_turns"]) == [5]
    assert json.loads(dialogue["meta"]["hpi.turns"])[5] == {"bad_case": True, "rating": 1.5}
    # mean rating (1 + 5 + 1.5) / 3 on 1..5
    assert dialogue["quality"]["overall"] == 2.5 and dialogue["quality"]["scorer"] == "human:hpi"
    _, rejects = split(read("hpi", write_jsonl(tmp_path / "hpi.jsonl", [SESSION]), low_rated="reject"))
    assert rejects[0]["_reject_reason"] == "low_rated_turn" and "turns[5]" in rejects[0]["_reject_detail"]


def test_model_output_can_be_the_turn_text(tmp_path: Path) -> None:
    dialogue = split(read("hpi", write_jsonl(tmp_path / "hpi.jsonl", [SESSION]), turn_text="model_output"))[0][0]
    assert dialogue["turns"][1]["text"] == "作为一个AI助手，我没有感情。"
    assert json.loads(dialogue["meta"]["hpi.turns"])[1]["rewrite"] == "后悔？大丈夫何悔之有！"


def test_round_trip_is_identity(tmp_path: Path) -> None:
    for turn_text in ("rewrite", "model_output"):
        work = tmp_path / turn_text
        work.mkdir()
        first, second, out = round_trip("hpi", write_jsonl(work / "hpi.jsonl", [SESSION]), work, turn_text=turn_text)
        assert comparable(second) == comparable(first)
        exported = json.loads(out.read_text(encoding="utf-8"))
        assert exported["turns"][1]["text"] == SESSION["turns"][1]["text"] and exported["turns"][1]["rewrite"] == SESSION["turns"][1]["rewrite"]
        assert exported["rating_scale"] == [1.0, 5.0] and "hpi.bad_case_turns" not in exported["meta"]


def test_ratings_on_user_turns_name_the_turn(tmp_path: Path) -> None:
    bad = {**SESSION, "turns": [{"role": "user", "text": "hi", "rewrite": "hello"}]}
    _, rejects = split(read("hpi", write_jsonl(tmp_path / "hpi.jsonl", [bad])))
    assert rejects[0]["_reject_reason"] == "invalid_record" and "turns[0]" in rejects[0]["_reject_detail"]
