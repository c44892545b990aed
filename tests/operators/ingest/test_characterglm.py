"""read.characterglm: CharacterGLM sessions and the demo's character.json (shared data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.operators.ingest.harness import comparable, read, round_trip, split, write_jsonl

SESSION = {
    "session_meta": {"user_info": "我是一名大学生。", "bot_info": "宋亚轩，2004年出生，中国内地男歌手、演员。", "bot_name": "宋亚轩", "user_name": "小林"},
    "messages": [{"role": "user", "content": "你好！"}, {"role": "assistant", "content": "真秀！你好呀。"}],
}


def test_session_maps_meta_to_profile_and_user(tmp_path: Path) -> None:
    dialogue = split(read("characterglm", write_jsonl(tmp_path / "c.jsonl", [SESSION])))[0][0]
    assert dialogue["character"]["profile_text"] == "宋亚轩，2004年出生，中国内地男歌手、演员。"
    assert dialogue["character"]["category"] == "celebrity"
    assert dialogue["user_role"] == "我是一名大学生。" and dialogue["turns"][0]["speaker"] == "小林"
    assert dialogue["language"] == "zh"


def test_round_trip_is_identity(tmp_path: Path) -> None:
    first, second, out = round_trip("characterglm", write_jsonl(tmp_path / "c.jsonl", [SESSION]), tmp_path)
    assert comparable(second) == comparable(first)
    assert json.loads(out.read_text(encoding="utf-8")) == SESSION


def test_image_messages_are_skipped_and_counted_and_bad_roles_rejected(tmp_path: Path) -> None:
    with_image = {**SESSION, "messages": [*SESSION["messages"], {"role": "image", "content": "x.png"}]}
    dialogue = split(read("characterglm", write_jsonl(tmp_path / "c.jsonl", [with_image])))[0][0]
    assert dialogue["meta"]["characterglm.skipped_images"] == "1" and len(dialogue["turns"]) == 2
    bad = {**SESSION, "messages": [{"role": "system", "content": "x"}]}
    reject = split(read("characterglm", write_jsonl(tmp_path / "c.jsonl", [bad])))[1][0]
    assert reject["_reject_reason"] == "unsupported_role" and "messages[0].role" in reject["_reject_detail"]


@pytest.mark.shared_data
def test_demo_character_json_imports_every_character(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "characterglm" / "character.json"
    demo = json.loads(path.read_text(encoding="utf-8"))
    table = read("characterglm", path)
    dialogues, rejects = split(table)
    assert table.num_rows == len(demo) and not rejects
    by_name = {d["character"]["name"]: d for d in dialogues}
    assert set(by_name) == set(demo)
    for name, entry in demo.items():
        assert by_name[name]["turns"][0] == {"role": "character", "speaker": name, "text": entry["greeting"], "spans": None, "author_id": None}
        assert by_name[name]["language"] == "zh"
    categories = {d["character"]["category"] for d in dialogues}
    assert {"celebrity", "fictional", "daily_life"} <= categories
    first, second, _ = round_trip("characterglm", path, tmp_path)
    assert comparable(second) == comparable(first)
