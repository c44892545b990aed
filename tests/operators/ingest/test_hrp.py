"""read.hrp: human role-play logs, round trip, card references and every kind of bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.operators.ingest.harness import comparable, read, round_trip, split, write_jsonl

SESSIONS = [
    {
        "id": "s1",
        "character": {"name": "Lu Xiaoxia", "work": "Ordinary World", "category": "fictional", "tags": ["novel"],
                      "attributes": {"gender": "female", "hobbies": ["reading"], "extra": {"hometown": "Shuangshui"}},
                      "styles": {"catchphrases": ["Really?"]}, "profile_text": "A journalist from a village."},
        "user_role": "her brother",
        "scenario": "companionship",
        "language": "en",
        "started_at": "2024-05-01T09:00:00+08:00",
        "turns": [
            {"role": "user", "text": "You look tired.", "author_id": "u-1", "timestamp": "2024-05-01T09:00:05+08:00"},
            {"role": "character", "text": "Long day at the paper.", "author_id": "u-2", "speaker": "Xiaoxia"},
        ],
        "meta": {"platform": "pilot"},
    },
    {
        "id": "s2",
        "character": {"name": "项羽", "profile_text": "项羽（公元前232年—公元前202年），西楚霸王，中国历史上的英雄。"},
        "scenario": "interview",
        "language": "zh",
        "turns": [{"role": "user", "text": "你后悔吗？", "author_id": "u-3"}, {"role": "character", "text": "大丈夫何悔之有！", "author_id": "u-4"}],
    },
]


def test_round_trip_is_identity(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "log.jsonl", SESSIONS)
    first, second, out = round_trip("hrp", path, tmp_path)
    assert comparable(second) == comparable(first)
    assert [d["turns"][0]["author_id"] for d in first] == ["u-1", "u-3"]
    assert first[0]["meta"]["platform"] == "pilot"
    assert json.loads(first[0]["meta"]["hrp.turns"])[0] == {"timestamp": "2024-05-01T09:00:05+08:00"}
    assert first[0]["character"]["attributes"]["extra"] == {"hometown": "Shuangshui"}
    assert first[0]["source"] == "human_roleplay" and first[0]["turns"][1]["speaker"] == "Xiaoxia"
    # the export of the re-import is byte-identical to the first export
    again = tmp_path / "again"
    again.mkdir()
    assert round_trip("hrp", out, again)[2].read_bytes() == out.read_bytes()


def test_category_comes_from_the_record_then_the_profile_then_config(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "log.jsonl", SESSIONS)
    dialogues, _ = split(read("hrp", path))
    assert [(d["character"]["category"], d["meta"]["ingest.category_source"]) for d in dialogues] == [("fictional", "format"), ("celebrity", "rules")]
    forced, _ = split(read("hrp", path, category="daily_life"))
    assert {d["character"]["category"] for d in forced} == {"daily_life"}


def test_card_reference_is_resolved_and_inline_fields_win(tmp_path: Path) -> None:
    card = {"spec": "chara_card_v2", "spec_version": "2.0",
            "data": {"name": "Seraphina", "description": "{{char}} is a forest guardian who heals {{user}}.", "tags": ["fantasy"], "extensions": {}}}
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "sera.json").write_text(json.dumps(card), encoding="utf-8")
    session = {**SESSIONS[1], "id": "s3", "language": "en", "user_role": "a traveller", "character": {"card": "cards/sera.json", "work": "Eldoria"}}
    dialogues, rejects = split(read("hrp", write_jsonl(tmp_path / "log.jsonl", [session])))
    assert not rejects
    character = dialogues[0]["character"]
    assert character["name"] == "Seraphina" and character["work"] == "Eldoria"
    assert character["profile_text"] == "Seraphina is a forest guardian who heals a traveller."
    assert character["category"] == "fictional" and dialogues[0]["meta"]["ingest.category_source"] == "tags"


def test_every_line_gives_exactly_one_row_and_bad_lines_name_file_line_and_field(tmp_path: Path) -> None:
    lines = [
        SESSIONS[0],
        {**SESSIONS[1], "version": "7.0"},
        {**SESSIONS[1], "scenario": "chat"},
        "",
        "[1, 2]",
        {**SESSIONS[1], "character": {"card": "missing.png"}},
        '{"id": "s9", "character": {"name": "X"',
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    table = read("hrp", path)
    assert table.num_rows == len(lines)
    dialogues, rejects = split(table)
    assert len(dialogues) == 1
    found = {r["_input_line"]: (r["_reject_reason"], r["_reject_detail"]) for r in rejects}
    assert found[2][0] == "unsupported_version" and "version '7.0'" in found[2][1]
    assert found[3][0] == "invalid_record" and found[3][1].startswith(f"{path}:3: ") and "scenario" in found[3][1]
    assert found[4][0] == "blank_line"
    assert found[5][0] == "not_an_object"
    assert found[6][0] == "card_not_found" and "character.card" in found[6][1]
    assert found[7][0] == "truncated_record" and "file ends inside this record" in found[7][1]
    assert all(r["_reject_operator"] == "read.hrp" and r["_input_file"] == str(path) for r in rejects)


def test_empty_file_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    _, rejects = split(read("hrp", path))
    assert [(r["_reject_reason"], r["_input_line"]) for r in rejects] == [("empty_file", 0)]


def _session(turns: list[tuple[str, str]]) -> dict:
    return {**SESSIONS[1], "turns": [{"role": role, "text": text} for role, text in turns]}


def test_consecutive_turns_by_one_side_are_merged_or_rejected(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "log.jsonl", [_session([("user", "a"), ("character", "b"), ("character", "c"), ("user", "d")])])
    merged, _ = split(read("hrp", path))
    assert [t["text"] for t in merged[0]["turns"]] == ["a", "b\nc", "d"]
    assert merged[0]["meta"]["ingest.merged_turns"] == "1"
    _, rejects = split(read("hrp", path, same_side="reject"))
    assert rejects[0]["_reject_reason"] == "consecutive_same_side" and "messages 1 and 2" in rejects[0]["_reject_detail"]


def test_empty_messages_are_skipped_and_counted_or_rejected(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "log.jsonl", [_session([("user", "a"), ("character", "  "), ("character", "b")]), _session([("user", " ")])])
    dialogues, rejects = split(read("hrp", path))
    assert [t["text"] for t in dialogues[0]["turns"]] == ["a", "b"] and dialogues[0]["meta"]["ingest.skipped_empty"] == "1"
    assert [r["_reject_reason"] for r in rejects] == ["no_turns"]
    _, rejects = split(read("hrp", path, empty_messages="reject"))
    assert [r["_reject_reason"] for r in rejects] == ["empty_message", "empty_message"]


def test_enormous_messages_are_capped_with_a_reason(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "log.jsonl", [_session([("user", "hi"), ("character", "x" * 500)])])
    dialogues, _ = split(read("hrp", path, max_chars_per_turn=100))
    assert len(dialogues[0]["turns"][1]["text"]) == 100
    assert json.loads(dialogues[0]["meta"]["ingest.capped"]) == [{"turn": 1, "chars": 500, "reason": "longer than max_chars_per_turn 100"}]


@pytest.mark.parametrize("bad", [b"\xff\xfe{}\n", b"{\"id\": 1}\n"])
def test_undecodable_or_invalid_lines_are_rejects(tmp_path: Path, bad: bytes) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(bad)
    _, rejects = split(read("hrp", path))
    assert len(rejects) == 1 and rejects[0]["_reject_reason"] in ("invalid_utf8", "invalid_record")
