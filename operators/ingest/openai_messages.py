"""`read.openai`: OpenAI chat `messages` records (`role`, `content`, optional `name`), JSONL or a JSON array.

`system`/`developer` messages at the start become the profile text; `user` is the user, `assistant`
the character, named by the source config, the assistant messages' `name`, or the system prompt.
Content given as parts keeps its text parts; other parts (images, audio) and tool messages are
rejected naming the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from operators.ingest.base import IngestSource, Message, RecordError, Session, meta_json, register_format, turn_extras, write_jsonl
from operators.ingest.chat_fields import require_list, unknown_fields
from operators.ingest.sharegpt import ChatConfig, chat_name
from operators.registry import register

ROLES = {"user": "user", "assistant": "character"}
SYSTEM_ROLES = ("system", "developer")


def content_text(content: Any, where: str) -> str:
    """A message's text: a string, or the text parts of a parts list joined by newlines."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text" or not isinstance(part.get("text"), str):
                raise RecordError("unsupported_content", f"{where}.content[{index}]: only text parts belong in a text corpus, got {kind or type(part).__name__!r}")
            texts.append(part["text"])
        return "\n".join(texts)
    found = "missing" if content is None else f"a {type(content).__name__}"
    raise RecordError("invalid_record", f"{where}.content: expected a string or a list of text parts, {found}")


@register
class OpenAiMessagesReader(IngestSource):
    name: ClassVar[str] = "read.openai"
    format: ClassVar[str] = "openai"
    Config = ChatConfig
    summary = "OpenAI chat `messages` records; leading system messages become the profile; tool messages rejected."

    def parse(self, data: Any, path: str, line: int) -> Session:
        items = require_list(data, "messages")
        systems: list[str] = []
        messages: list[Message] = []
        assistant_name: str | None = None
        for index, item in enumerate(items):
            where = f"messages[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("role"), str):
                raise RecordError("invalid_record", f"{where}.role: expected a string")
            role, text = item["role"], content_text(item.get("content"), where)
            if role in SYSTEM_ROLES and not messages:
                systems.append(text)
                continue
            if role not in ROLES:
                raise RecordError("unsupported_role", f"{where}.role: {role!r} has no place in a role-play dialogue (user, assistant, leading system)")
            name = item.get("name")
            if name is not None and not isinstance(name, str):
                raise RecordError("invalid_record", f"{where}.name: expected a string, got {type(name).__name__}")
            if ROLES[role] == "character" and assistant_name is None:
                assistant_name = name
            kept = unknown_fields(item, ("role", "content"))
            if isinstance(item.get("content"), list):
                kept["_content_parts"] = True
            messages.append(Message(ROLES[role], text, name, extra=kept or None))
        system = "\n\n".join(systems) if systems else None
        extra = unknown_fields(data, ("messages",))
        return Session(character={"name": chat_name(self.config, system, assistant_name), "profile_text": system}, messages=messages, extra=extra or None)  # type: ignore[arg-type]


def export_openai_record(dialogue: dict[str, Any]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    system = dialogue["character"].get("profile_text")
    if system is not None:
        messages.append({"role": "system", "content": system})
    native = "openai.turns" in dialogue["meta"] or "openai.record" in dialogue["meta"]
    for turn, kept in zip(dialogue["turns"], turn_extras(dialogue, "openai"), strict=True):
        content: Any = turn["text"]
        if kept.pop("_content_parts", False):
            content = [{"type": "text", "text": turn["text"]}]
        message = {"role": "user" if turn["role"] == "user" else "assistant", "content": content, **kept}
        if not native and turn["role"] == "character":
            message["name"] = dialogue["character"]["name"]  # from another format: name the character, or a re-import cannot
        messages.append(message)
    return {**meta_json(dialogue, "openai.record", {}), "messages": messages}


def export_openai(dialogues: Iterable[dict[str, Any]], out: str) -> int:
    """Dialogues as OpenAI `messages` JSONL."""
    return write_jsonl((export_openai_record(d) for d in dialogues), out)


register_format("openai", OpenAiMessagesReader, export_openai, "jsonl")
