"""`read.sharegpt`: ShareGPT records (`conversations` of `{from, value}`, optional `system`), JSONL or a JSON array.

`human`/`user` are the user, `gpt`/`assistant`/`model`/`bot` the character; a system prompt (the
`system` field or a leading `system` message) becomes the profile text, and the character's name comes
from the source config or the prompt ("You are X", "你是X"). Tool messages (`function_call`,
`observation`) have no place in a role-play dialogue: such records are rejected naming the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import Field

from operators.ingest.base import (
    IngestConfig,
    IngestSource,
    Message,
    RecordError,
    Session,
    meta_json,
    register_format,
    turn_extras,
    write_jsonl,
)
from operators.ingest.chat_fields import require_list, require_str, unknown_fields
from operators.ingest.names import name_from_prompt
from operators.registry import register

ROLES = {"human": "user", "user": "user", "gpt": "character", "assistant": "character", "model": "character", "bot": "character", "chatgpt": "character"}
DEFAULT_TAG = {"user": "human", "character": "gpt"}


class ChatConfig(IngestConfig):
    """Chat formats that may not name the character."""

    character_name: str | None = Field(None, min_length=1, description="The character's name; else taken from the system prompt; else the record is rejected.")


def chat_name(config: ChatConfig, system: str | None, named: str | None = None) -> str | None:
    """The character's name: config, then a name the format gives, then the system prompt."""
    return config.character_name or named or name_from_prompt(system)


@register
class ShareGptReader(IngestSource):
    name: ClassVar[str] = "read.sharegpt"
    format: ClassVar[str] = "sharegpt"
    Config = ChatConfig
    summary = "ShareGPT `conversations` records; the system prompt becomes the profile; tool messages rejected."

    def parse(self, data: Any, path: str, line: int) -> Session:
        conversations = require_list(data, "conversations")
        system = require_str(data, "system", "record", optional=True)
        extra = unknown_fields(data, ("conversations", "system"))
        messages = []
        for index, item in enumerate(conversations):
            where = f"conversations[{index}]"
            tag, value = require_str(item, "from", where), require_str(item, "value", where)
            if tag == "system" and index == 0 and system is None:
                system, extra["_system_in"] = value, "conversations"
                continue
            role = ROLES.get(tag.casefold())
            if role is None:
                raise RecordError("unsupported_role", f"{where}.from: {tag!r} has no place in a role-play dialogue (known: {', '.join(sorted(ROLES))}, a leading 'system')")
            kept = unknown_fields(item, ("from", "value"))
            if tag != DEFAULT_TAG[role]:
                kept["from"] = tag
            messages.append(Message(role, value, extra=kept or None))
        name = chat_name(self.config, system)  # type: ignore[arg-type]
        return Session(character={"name": name, "profile_text": system}, messages=messages, record_id=_record_id(data), extra=extra or None)


def _record_id(data: dict[str, Any]) -> str | None:
    value = data.get("id")
    return str(value) if isinstance(value, (str, int)) else None


def export_sharegpt_record(dialogue: dict[str, Any]) -> dict[str, Any]:
    extra = dict(meta_json(dialogue, "sharegpt.record", {}))
    placement = extra.pop("_system_in", "field")
    conversations = []
    system = dialogue["character"].get("profile_text")
    if system is not None and placement == "conversations":
        conversations.append({"from": "system", "value": system})
    for turn, kept in zip(dialogue["turns"], turn_extras(dialogue, "sharegpt"), strict=True):
        tag = kept.pop("from", DEFAULT_TAG[turn["role"]])
        conversations.append({"from": tag, "value": turn["text"], **kept})
    record: dict[str, Any] = {**extra, "conversations": conversations}
    if system is not None and placement == "field":
        record["system"] = system
    return record


def export_sharegpt(dialogues: Iterable[dict[str, Any]], out: str) -> int:
    """Dialogues as ShareGPT JSONL."""
    return write_jsonl((export_sharegpt_record(d) for d in dialogues), out)


register_format("sharegpt", ShareGptReader, export_sharegpt, "jsonl")
