"""`read.characterglm`: the CharacterGLM session format (`session_meta` + `messages` with `user`/`assistant`).

JSONL of sessions, a JSON array of them, or the demo's `character.json` layout (an object keyed by name,
each `{user_info, bot_info, user_name, bot_name, greeting}`: the greeting becomes the first character
turn). `bot_info` is the profile text, `user_info` the user's role, `user_name` the user turns' speaker.
The streamlit demo's `image` messages carry no text: they are skipped and counted in meta.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from operators.ingest.base import IngestSource, Message, RecordError, Session, meta_json, register_format, write_jsonl
from operators.ingest.chat_fields import require_list, require_str, unknown_fields
from operators.registry import register

META_FIELDS = ("user_info", "bot_info", "bot_name", "user_name")
DEFAULT_USER = "用户"
ROLES = {"user": "user", "assistant": "character"}


def is_character_dict(data: Any) -> bool:
    """The demo's `character.json`: an object of name -> session_meta-like entries."""
    return isinstance(data, dict) and "session_meta" not in data and bool(data) and all(isinstance(v, dict) and "bot_name" in v for v in data.values())


@register
class CharacterGlmReader(IngestSource):
    name: ClassVar[str] = "read.characterglm"
    format: ClassVar[str] = "characterglm"
    summary = "CharacterGLM sessions (session_meta + messages), and the demo's character.json of greetings."

    def records(self, path: str) -> Iterator[tuple[int, Any, str]]:
        for line, data, raw in super().records(path):
            if path.endswith(".json") and line == 1 and is_character_dict(data):
                for number, entry in enumerate(data.values(), start=1):
                    record = {"session_meta": unknown_fields(entry, ("greeting",)), "greeting": entry.get("greeting")}
                    yield number, record, json.dumps(entry, ensure_ascii=False)
            else:
                yield line, data, raw

    def parse(self, data: Any, path: str, line: int) -> Session:
        meta = data.get("session_meta")
        if not isinstance(meta, dict):
            raise RecordError("invalid_record", "session_meta: expected an object with bot_name, bot_info, user_name, user_info")
        name = require_str(meta, "bot_name", "session_meta")
        bot_info = require_str(meta, "bot_info", "session_meta", optional=True)
        user_info = require_str(meta, "user_info", "session_meta", optional=True)
        user_name = require_str(meta, "user_name", "session_meta", optional=True) or DEFAULT_USER
        items = [{"role": "assistant", "content": data["greeting"]}] if data.get("greeting") else []
        if "messages" in data or not items:
            items += require_list(data, "messages")
        messages, images = [], 0
        for index, item in enumerate(items):
            where = f"messages[{index}]"
            role = require_str(item, "role", where)
            if role == "image":
                images += 1
                continue
            if role not in ROLES:
                raise RecordError("unsupported_role", f"{where}.role: {role!r} (known: user, assistant, image)")
            speaker = user_name if role == "user" else name
            messages.append(Message(ROLES[role], require_str(item, "content", where), speaker))
        extra = {**unknown_fields(meta, META_FIELDS), "user_name": user_name}
        session = Session(character={"name": name, "profile_text": bot_info or None}, messages=messages, user_role=user_info or None, extra=extra)
        if images:
            session.meta["characterglm.skipped_images"] = str(images)
        return session


def export_characterglm_record(dialogue: dict[str, Any]) -> dict[str, Any]:
    stored = dict(meta_json(dialogue, "characterglm.record", {}))
    user_name = stored.pop("user_name", None) or next((t["speaker"] for t in dialogue["turns"] if t["role"] == "user"), DEFAULT_USER)
    character = dialogue["character"]
    session_meta = {
        **stored,
        "user_info": dialogue.get("user_role") or "",
        "bot_info": character.get("profile_text") or "",
        "bot_name": character["name"],
        "user_name": user_name,
    }
    messages = [{"role": "user" if t["role"] == "user" else "assistant", "content": t["text"]} for t in dialogue["turns"]]
    return {"session_meta": session_meta, "messages": messages}


def export_characterglm(dialogues: Iterable[dict[str, Any]], out: str) -> int:
    """Dialogues as CharacterGLM session JSONL."""
    return write_jsonl((export_characterglm_record(d) for d in dialogues), out)


register_format("characterglm", CharacterGlmReader, export_characterglm, "jsonl")
