"""`read.pippa`: PIPPA records (Character.AI logs: `bot_name`, `bot_description`, `bot_definitions`, `conversation`).

`bot_description` becomes the profile text, `bot_definitions` (example chats with `{{char}}:`/`{{user}}:`
lines, separated by `END_OF_DIALOG`) the example lines, `categories` the tags the category is inferred
from. The other fields (`bot_id`, `bot_greeting`, `submission_timestamp`, ...) travel in meta.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from operators.ingest.base import META_TAGS, IngestSource, Message, RecordError, Session, meta_json, register_format, write_jsonl
from operators.ingest.card import example_lines
from operators.ingest.chat_fields import require_list, require_str, unknown_fields
from operators.registry import register

MAPPED = ("bot_name", "bot_description", "conversation")


@register
class PippaReader(IngestSource):
    name: ClassVar[str] = "read.pippa"
    format: ClassVar[str] = "pippa"
    summary = "PIPPA records (Character.AI logs); bot definitions parsed into example lines, categories into tags."

    def parse(self, data: Any, path: str, line: int) -> Session:
        name = require_str(data, "bot_name", "record")
        description = require_str(data, "bot_description", "record", optional=True)
        definitions = require_str(data, "bot_definitions", "record", optional=True) or ""
        categories = data.get("categories") or []
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise RecordError("invalid_record", "categories: expected a list of strings")
        messages = []
        for index, item in enumerate(require_list(data, "conversation")):
            where = f"conversation[{index}]"
            text = require_str(item, "message", where)
            if not isinstance(item.get("is_human"), bool):
                raise RecordError("invalid_record", f"{where}.is_human: expected true or false")
            kept = unknown_fields(item, ("message", "is_human"))
            messages.append(Message("user" if item["is_human"] else "character", text, extra=kept or None))
        examples = example_lines(definitions.replace("END_OF_DIALOG", "<START>"), name, "User")
        character = {"name": name, "profile_text": description or None, "styles": {"example_lines": examples}}
        bot_id = data.get("bot_id")
        return Session(
            character=character,
            messages=messages,
            record_id=str(bot_id) if bot_id is not None else None,
            tags=categories,
            extra=unknown_fields(data, MAPPED) or None,
        )


def export_pippa_record(dialogue: dict[str, Any]) -> dict[str, Any]:
    character = dialogue["character"]
    stored = meta_json(dialogue, "pippa.record")
    if stored is None:
        examples = (character.get("styles") or {}).get("example_lines") or []
        first = dialogue["turns"][0] if dialogue["turns"] else None
        stored = {
            "bot_id": dialogue["character_id"],
            "bot_greeting": first["text"] if first and first["role"] == "character" else "",
            "bot_definitions": "\nEND_OF_DIALOG\n".join(f"{{{{char}}}}: {line}" for line in examples),
            "categories": meta_json(dialogue, META_TAGS, []),
            "submission_timestamp": None,
        }
    extras = meta_json(dialogue, "pippa.turns") or [None] * len(dialogue["turns"])
    conversation = [{"message": t["text"], "is_human": t["role"] == "user", **(e or {})} for t, e in zip(dialogue["turns"], extras, strict=True)]
    return {**stored, "bot_name": character["name"], "bot_description": character.get("profile_text") or "", "conversation": conversation}


def export_pippa(dialogues: Iterable[dict[str, Any]], out: str) -> int:
    """Dialogues as PIPPA JSONL."""
    return write_jsonl((export_pippa_record(d) for d in dialogues), out)


register_format("pippa", PippaReader, export_pippa, "jsonl")
