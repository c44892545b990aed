"""read.pippa: Character.AI logs with definitions, categories and round trip."""

from __future__ import annotations

from pathlib import Path

from tests.operators.ingest.harness import comparable, read, round_trip, split, write_jsonl

RECORD = {
    "submission_timestamp": 1674000000000,
    "categories": ["Anime", "Game Characters"],
    "bot_id": "abc123",
    "bot_name": "Rin",
    "bot_greeting": "Hm? What do you want?",
    "bot_definitions": "{{user}}: hello\n{{char}}: Hmph. Hello.\nEND_OF_DIALOG\n{{user}}: tea?\n{{char}}: ...Fine. One cup.",
    "bot_description": "A tsundere mage from a magical academy.",
    "conversation": [
        {"message": "Hm? What do you want?", "is_human": False},
        {"message": "Just saying hi.", "is_human": True},
        {"message": "Hmph. Hi.", "is_human": False},
    ],
}


def test_pippa_record_maps_profile_examples_and_category(tmp_path: Path) -> None:
    dialogue = split(read("pippa", write_jsonl(tmp_path / "p.jsonl", [RECORD])))[0][0]
    character = dialogue["character"]
    assert character["profile_text"] == "A tsundere mage from a magical academy."
    assert character["styles"]["example_lines"] == ["Hmph. Hello.", "...Fine. One cup."]
    assert (character["category"], dialogue["meta"]["ingest.category_source"]) == ("fictional", "tags")
    assert [t["role"] for t in dialogue["turns"]] == ["character", "user", "character"]
    assert dialogue["meta"]["ingest.session_id"] == "abc123" and dialogue["language"] == "en"


def test_round_trip_is_identity_and_keeps_every_field(tmp_path: Path) -> None:
    first, second, out = round_trip("pippa", write_jsonl(tmp_path / "p.jsonl", [RECORD]), tmp_path)
    assert comparable(second) == comparable(first)
    import json

    assert json.loads(out.read_text(encoding="utf-8")) == RECORD


def test_bad_conversation_names_the_message(tmp_path: Path) -> None:
    bad = {**RECORD, "conversation": [{"message": "hi", "is_human": "yes"}]}
    reject = split(read("pippa", write_jsonl(tmp_path / "p.jsonl", [bad])))[1][0]
    assert reject["_reject_reason"] == "invalid_record" and "conversation[0].is_human" in reject["_reject_detail"]
