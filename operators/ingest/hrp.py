"""`read.hrp`: human role-play logs (schemas/human_logs.py: HrpSession), one session per JSONL line.

Two people, one plays the character. The character is inline, a Character Card reference (a path relative
to the log file), or both (inline fields win). Turn timestamps and the session start travel in meta
(`hrp.turns`, `hrp.record`); author ids stay on the turns until `privacy.consent` pseudonymises them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from operators.base import RunContext
from operators.ingest.base import (
    META_SESSION_ID,
    META_TAGS,
    IngestConfig,
    IngestSource,
    Message,
    RecordError,
    Session,
    meta_json,
    register_format,
    turn_extras,
    user_meta,
    validation_detail,
    without_nulls,
    write_jsonl,
)
from operators.ingest.card import card_character, load_card
from operators.registry import register
from schemas.human_logs import HUMAN_LOG_VERSIONS, HpiSession, HrpSession, LogCharacter


def check_version(data: dict[str, Any], kind: str) -> None:
    """Unknown format versions are rejected by name, before field validation muddies the message."""
    version = data.get("version", HUMAN_LOG_VERSIONS[0])
    if version not in HUMAN_LOG_VERSIONS:
        raise RecordError("unsupported_version", f"version: {kind} format version {version!r} is not supported (supported: {', '.join(HUMAN_LOG_VERSIONS)})")


def validate(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RecordError("invalid_record", validation_detail(error)) from None


class CardCache:
    """Cards referenced by log sessions, loaded once per file path."""

    def __init__(self) -> None:
        self._cards: dict[str, dict[str, Any]] = {}

    def get(self, path: str) -> dict[str, Any]:
        if path not in self._cards:
            self._cards[path] = load_card(path)
        return self._cards[path]


def log_character(given: LogCharacter, log_path: str, user: str, cards: CardCache) -> tuple[dict[str, Any], list[str]]:
    """The canonical character of a log session (card reference resolved, inline fields winning) and its tags."""
    character: dict[str, Any] = {"attributes": {}, "styles": {}}
    tags: list[str] = []
    if given.card is not None:
        card_path = given.card if os.path.isabs(given.card) else os.path.join(os.path.dirname(log_path), given.card)
        try:
            character, tags, _ = card_character(cards.get(card_path), user)
        except RecordError as error:
            raise RecordError(error.reason, f"character.card: {error.detail}") from None
    if given.name is not None:
        character["name"] = given.name
    for key in ("category", "work", "profile_text"):
        if getattr(given, key) is not None:
            character[key] = getattr(given, key)
    if given.attributes is not None:
        character["attributes"] = given.attributes.model_dump()
    if given.styles is not None:
        character["styles"] = given.styles.model_dump()
    return character, list(dict.fromkeys(given.tags + tags))


@register
class HrpReader(IngestSource):
    name: ClassVar[str] = "read.hrp"
    format: ClassVar[str] = "hrp"
    summary = "Human role-play JSONL (one session per line); card references resolved; each bad line a reject."

    def __init__(self, config: IngestConfig, context: RunContext | None = None) -> None:
        super().__init__(config, context)
        self.cards = CardCache()

    def parse(self, data: Any, path: str, line: int) -> Session:
        check_version(data, "HRP")
        record: HrpSession = validate(HrpSession, data)
        character, tags = log_character(record.character, path, record.user_role or "User", self.cards)
        # timestamps kept as written (validated above): the export gives back the same string
        messages = [
            Message(t.role, t.text, t.speaker, t.author_id, {"timestamp": raw["timestamp"]} if t.timestamp else None)
            for t, raw in zip(record.turns, data["turns"], strict=True)
        ]
        extra = {k: v for k, v in {"started_at": data.get("started_at"), "card": record.character.card}.items() if v is not None}
        return log_session(record, character, tags, messages, "human_roleplay", extra or None)


def log_session(
    record: HrpSession | HpiSession, character: dict[str, Any], tags: list[str], messages: list[Message], source: str, extra: dict[str, Any] | None
) -> Session:
    """The session of a validated HRP or HPI line: the fields both formats share, plus its own messages and extras."""
    return Session(
        character=character,
        messages=messages,
        record_id=record.id,
        source=source,
        user_role=record.user_role,
        scenario=record.scenario,
        language=record.language,
        character_id=record.character.id,
        tags=tags,
        meta=dict(record.meta),
        extra=extra,
    )


def log_record(dialogue: dict[str, Any], fmt: str) -> dict[str, Any]:
    """The parts an HRP or HPI line shares, from a canonical dialogue."""
    character = dialogue["character"]
    profile = {
        "id": dialogue["character_id"],
        "name": character["name"],
        "category": character["category"],
        "work": character.get("work"),
        "tags": meta_json(dialogue, META_TAGS, []),
        "attributes": character.get("attributes"),
        "styles": character.get("styles"),
        "profile_text": character.get("profile_text"),
    }
    stored = meta_json(dialogue, f"{fmt}.record", {})
    record: dict[str, Any] = {
        "version": HUMAN_LOG_VERSIONS[-1],
        "id": dialogue["meta"].get(META_SESSION_ID) or dialogue["dialogue_id"],
        "character": {k: v for k, v in profile.items() if v not in (None, [])},
        "user_role": dialogue.get("user_role"),
        "scenario": dialogue["scenario"],
        "language": dialogue["language"],
        "started_at": stored.get("started_at"),
        "meta": user_meta(dialogue, fmt),
    }
    return record


def export_hrp_record(dialogue: dict[str, Any]) -> dict[str, Any]:
    record = log_record(dialogue, "hrp")
    record["turns"] = [
        {"role": t["role"], "speaker": t["speaker"], "text": t["text"], "author_id": t.get("author_id"), "timestamp": extra.get("timestamp")}
        for t, extra in zip(dialogue["turns"], turn_extras(dialogue, "hrp"), strict=True)
    ]
    return without_nulls(record)


def export_hrp(dialogues: Iterable[dict[str, Any]], out: str) -> int:
    """Dialogues as an HRP JSONL file."""
    return write_jsonl((export_hrp_record(d) for d in dialogues), out)


register_format("hrp", HrpReader, export_hrp, "jsonl")
