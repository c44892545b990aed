"""read.openai: OpenAI `messages` records, names, content parts, tool messages, round trip."""

from __future__ import annotations

import json
from pathlib import Path

from tests.operators.ingest.harness import comparable, read, round_trip, split, write_jsonl

RECORDS = [
    {"messages": [
        {"role": "system", "content": "Stay in character. Speak like a Victorian."},
        {"role": "user", "content": "Good evening.", "name": "Watson"},
        {"role": "assistant", "content": "Ah, Watson.", "name": "Holmes"},
        {"role": "user", "content": [{"type": "text", "text": "A case?"}], "name": "Watson"},
        {"role": "assistant", "content": "Indeed.", "name": "Holmes"},
    ], "split": "train"},
]


def test_openai_messages_map_names_system_and_parts(tmp_path: Path) -> None:
    dialogue = split(read("openai", write_jsonl(tmp_path / "o.jsonl", RECORDS)))[0][0]
    assert dialogue["character"]["name"] == "Holmes"
    assert dialogue["character"]["profile_text"] == "Stay in character. Speak like a Victorian."
    assert [(t["role"], t["speaker"], t["text"]) for t in dialogue["turns"]] == [
        ("user", "Watson", "Good evening."), ("character", "Holmes", "Ah, Watson."), ("user", "Watson", "A case?"), ("character", "Holmes", "Indeed.")]


def test_round_trip_is_identity(tmp_path: Path) -> None:
    first, second, out = round_trip("openai", write_jsonl(tmp_path / "o.jsonl", RECORDS), tmp_path)
    assert comparable(second) == comparable(first)
    assert json.loads(out.read_text(encoding="utf-8")) == RECORDS[0]


def test_tool_and_image_messages_are_rejected(tmp_path: Path) -> None:
    tool = {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "{}"}]}
    image = {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}
    rejects = split(read("openai", write_jsonl(tmp_path / "o.jsonl", [tool, image]), character_name="Bob"))[1]
    assert [(r["_reject_reason"], r["_input_line"]) for r in rejects] == [("unsupported_role", 1), ("unsupported_content", 2)]
    assert "messages[1].role" in rejects[0]["_reject_detail"] and "messages[0].content[0]" in rejects[1]["_reject_detail"]
