"""read.sillytavern: chat files with a metadata line, swipes, system messages and HTML."""

from __future__ import annotations

import json
from pathlib import Path

from operators.ingest.sillytavern import strip_html
from tests.operators.ingest.harness import comparable, read, round_trip, split, write_jsonl

HEADER = {"user_name": "Anon", "character_name": "Seraphina", "create_date": "2024-1-2 @10h 00m 00s", "chat_metadata": {"note_prompt": "", "tainted": False}}
MESSAGES = [
    {"name": "Seraphina", "is_user": False, "is_system": False, "send_date": "January 2, 2024 10:00am", "mes": "*She smiles.* Welcome.<br>Rest here.", "extra": {}},
    {"name": "Anon", "is_user": True, "is_system": False, "send_date": "January 2, 2024 10:01am", "mes": "Where am I?", "extra": {}},
    {"name": "Narrator", "is_user": False, "is_system": True, "send_date": "January 2, 2024 10:01am", "mes": "The fire crackles.", "extra": {"type": "narrator"}},
    {"name": "Seraphina", "is_user": False, "is_system": False, "send_date": "January 2, 2024 10:02am", "mes": "In my glade &amp; safe.",
     "swipe_id": 1, "swipes": ["You are lost.", "In my glade &amp; safe.", "Somewhere far away."],
     "swipe_info": [{"send_date": "x", "extra": {}}, {"send_date": "y", "extra": {}}, {"send_date": "z", "extra": {}}], "extra": {"api": "openai", "model": "gpt-4o"}},
]


def test_chat_is_one_dialogue_with_html_stripped_and_swipes_kept(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "chat.jsonl", [HEADER, *MESSAGES])
    table = read("sillytavern", path)
    assert table.num_rows == 1
    dialogue = split(table)[0][0]
    assert dialogue["character"]["name"] == "Seraphina"
    assert [(t["role"], t["speaker"], t["text"]) for t in dialogue["turns"]] == [
        ("character", "Seraphina", "*She smiles.* Welcome.\nRest here."),
        ("user", "Anon", "Where am I?"),
        ("character", "Seraphina", "In my glade & safe."),
    ]
    turns = json.loads(dialogue["meta"]["sillytavern.turns"])
    assert turns[2]["swipes"] == MESSAGES[3]["swipes"] and turns[2]["swipe_id"] == 1
    record = json.loads(dialogue["meta"]["sillytavern.record"])
    assert record["system"] == [{"position": 2, "message": MESSAGES[2]}] and record["header"] == HEADER


def test_round_trip_is_identity(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    path = write_jsonl(tmp_path / "in" / "chat.jsonl", [HEADER, *MESSAGES])
    first, second, out = round_trip("sillytavern", path, tmp_path)
    assert comparable(second) == comparable(first)
    exported = [json.loads(line) for line in next(out.iterdir()).read_text(encoding="utf-8").splitlines()]
    assert exported[0] == HEADER and exported[3] == MESSAGES[2]
    assert exported[4]["swipes"] == MESSAGES[3]["swipes"] and exported[4]["mes"] == "In my glade & safe."


def test_a_bad_line_rejects_the_chat_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join([json.dumps(HEADER), json.dumps(MESSAGES[0]), '{"name": "Anon", "is_user": tr']), encoding="utf-8")
    table = read("sillytavern", path)
    assert table.num_rows == 1
    reject = split(table)[1][0]
    assert reject["_reject_reason"] == "truncated_record" and reject["_input_line"] == 3 and reject["_reject_detail"].startswith(f"{path}:3:")


def test_missing_metadata_line_and_bad_fields_are_rejects(tmp_path: Path) -> None:
    no_header = write_jsonl(tmp_path / "a.jsonl", MESSAGES)
    assert split(read("sillytavern", no_header))[1][0]["_reject_reason"] == "missing_metadata"
    bad = write_jsonl(tmp_path / "b.jsonl", [HEADER, {**MESSAGES[1], "mes": None}])
    reject = split(read("sillytavern", bad))[1][0]
    assert reject["_reject_reason"] == "invalid_record" and f"{bad}:2: mes" in reject["_reject_detail"]


def test_strip_html_leaves_plain_text_alone() -> None:
    assert strip_html("I <3 you & a < b") == "I <3 you & a < b"
    assert strip_html('<p>Hi <i>there</i></p><img src="x.png"><script>alert(1)</script>') == "Hi there"
