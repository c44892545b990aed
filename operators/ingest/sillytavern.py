"""`read.sillytavern`: SillyTavern chat files (`.jsonl`: a metadata line, then one message per line); one chat per file.

`is_user` messages are the user's turns, the others the character's (speaker: the message's `name`);
`is_system` messages (narration, notes) are not turns and travel in meta with their position. HTML in
`mes` is stripped to text. `swipes` (the alternative replies the user browsed) and every other message
field stay with their turn in `meta["sillytavern.turns"]`: the kept swipe is `mes`, the others are the
candidates a preference builder can pair against it. A bad line rejects the chat, naming the line.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from typing import Any, ClassVar

from operators.ingest.base import (
    IngestSource,
    Message,
    RecordError,
    Session,
    file_stem,
    jsonl_records,
    meta_json,
    register_format,
    turn_extras,
)
from operators.registry import register

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>")
_BLOCK = {"br", "p", "div", "li", "tr", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
MAPPED = ("name", "is_user", "is_system", "mes")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BLOCK and tag != "br":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """Text of a message that may hold HTML (`<br>`, `<i>`, `<img>`, entities); a lone `<` or `&` stays as it is."""
    if not _TAG.search(text):
        return html.unescape(text)
    parser = _Text()
    parser.feed(text)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts)).strip()


@register
class SillyTavernReader(IngestSource):
    name: ClassVar[str] = "read.sillytavern"
    format: ClassVar[str] = "sillytavern"
    suffixes = (".jsonl",)
    summary = "SillyTavern chat files: one chat per file; HTML stripped; swipes and system messages kept in meta."

    def records(self, path: str) -> Iterator[tuple[int, Any, str]]:
        lines = list(jsonl_records(path))
        raw = "\n".join(text for _, _, text in lines)
        bad = next(((line, data) for line, data, _ in lines if isinstance(data, RecordError)), None)
        if bad is not None:
            yield bad[0], bad[1], raw
            return
        yield 1, {"lines": [(line, data) for line, data, _ in lines]}, raw

    def parse(self, data: Any, path: str, line: int) -> Session:
        (_, header), *rest = data["lines"]
        if not isinstance(header, dict) or "mes" in header:
            raise RecordError("missing_metadata", f"{path}:1: the first line must be the chat's metadata (user_name, character_name, ...), not a message")
        system: list[dict[str, Any]] = []
        messages: list[Message] = []
        for number, item in rest:
            where = f"{path}:{number}"
            if not isinstance(item, dict):
                raise RecordError("not_an_object", f"{where}: expected a message object, got {type(item).__name__}")
            if not isinstance(item.get("mes"), str):
                raise RecordError("invalid_record", f"{where}: mes: expected a string")
            if item.get("is_system"):
                system.append({"position": len(messages), "message": item})
                continue
            if not isinstance(item.get("is_user"), bool):
                raise RecordError("invalid_record", f"{where}: is_user: expected true or false")
            kept = {k: v for k, v in item.items() if k not in MAPPED}
            if "is_system" in item:
                kept["is_system"] = item["is_system"]
            role = "user" if item["is_user"] else "character"
            messages.append(Message(role, strip_html(item["mes"]), item.get("name"), extra=kept or None))
        name = header.get("character_name") or next((m.speaker for m in messages if m.role == "character"), None)
        extra: dict[str, Any] = {"header": header}
        if system:
            extra["system"] = system
        return Session(character={"name": name}, messages=messages, extra=extra)


def export_chat(dialogue: dict[str, Any]) -> list[dict[str, Any]]:
    """A dialogue as SillyTavern lines: the metadata line, then the messages (system messages back in place)."""
    stored = meta_json(dialogue, "sillytavern.record", {})
    user = next((t["speaker"] for t in dialogue["turns"] if t["role"] == "user"), "User")
    header = {**stored.get("header", {"user_name": user, "create_date": "", "chat_metadata": {}}), "character_name": dialogue["character"]["name"]}
    system = {}
    for entry in stored.get("system", []):
        system.setdefault(entry["position"], []).append(entry["message"])
    lines = [header]
    for index, (turn, kept) in enumerate(zip(dialogue["turns"], turn_extras(dialogue, "sillytavern"), strict=True)):
        lines += system.get(index, [])
        is_system = kept.pop("is_system", False)
        lines.append({"name": turn["speaker"], "is_user": turn["role"] == "user", "is_system": is_system, "mes": turn["text"], **kept})
    lines += system.get(len(dialogue["turns"]), [])
    return lines


def export_sillytavern(dialogues: Iterable[dict[str, Any]], out: str) -> int:
    """Dialogues as SillyTavern chat files, one `.jsonl` per dialogue, in folder `out`."""
    os.makedirs(out, exist_ok=True)
    taken: set[str] = set()
    count = 0
    for dialogue in dialogues:
        path = os.path.join(out, file_stem(f"{dialogue['character']['name']}-{dialogue['dialogue_id'][2:10]}", taken) + ".jsonl")
        with open(path, "w", encoding="utf-8") as handle:
            for line in export_chat(dialogue):
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
        count += 1
    return count


register_format("sillytavern", SillyTavernReader, export_sillytavern, "folder")
