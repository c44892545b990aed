"""read.sharegpt: ShareGPT conversations, system prompts, names, tool messages, round trip."""

from __future__ import annotations

import json
from pathlib import Path

from tests.operators.ingest.harness import comparable, read, round_trip, split, write_jsonl

RECORDS = [
    {"id": "r1", "system": "You are Sherlock Holmes, the detective of Baker Street.", "conversations": [
        {"from": "human", "value": "Who stole the jewels?"}, {"from": "gpt", "value": "Elementary: the butler."}], "source": "rp-set"},
    {"conversations": [{"from": "system", "value": "你是张起灵，张家族长。"}, {"from": "user", "value": "小哥？"}, {"from": "assistant", "value": "嗯。"}]},
]


def test_sharegpt_maps_system_prompt_and_names(tmp_path: Path) -> None:
    dialogues, rejects = split(read("sharegpt", write_jsonl(tmp_path / "s.jsonl", RECORDS)))
    assert not rejects
    assert [d["character"]["name"] for d in dialogues] == ["Sherlock Holmes", "张起灵"]
    assert dialogues[0]["character"]["profile_text"] == RECORDS[0]["system"]
    assert [d["language"] for d in dialogues] == ["en", "zh"]


def test_round_trip_is_identity_and_keeps_tags_and_fields(tmp_path: Path) -> None:
    first, second, out = round_trip("sharegpt", write_jsonl(tmp_path / "s.jsonl", RECORDS), tmp_path)
    assert comparable(second) == comparable(first)
    assert [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] == RECORDS


def test_json_array_file_and_config_name(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps([{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}]), encoding="utf-8")
    assert split(read("sharegpt", path))[1][0]["_reject_reason"] == "missing_character_name"
    dialogue = split(read("sharegpt", path, character_name="Maya", language="en"))[0][0]
    assert dialogue["character"]["name"] == "Maya" and dialogue["language"] == "en"


def test_tool_messages_are_rejected_naming_the_message(tmp_path: Path) -> None:
    bad = {"system": "You are Bob.", "conversations": [{"from": "human", "value": "x"}, {"from": "function_call", "value": "{}"}]}
    reject = split(read("sharegpt", write_jsonl(tmp_path / "s.jsonl", [bad])))[1][0]
    assert reject["_reject_reason"] == "unsupported_role" and "conversations[1].from" in reject["_reject_detail"]
