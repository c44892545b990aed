"""`read.card`: Character Cards V1, V2 and V3, as JSON or embedded in a PNG (`chara` / `ccv3` tEXt chunk).

A card is a character, not a chat: its row carries the profile (description, personality and scenario
mapped into `profile_text`, styles and attributes; `mes_example` blocks parsed into example lines) and one
turn, the greeting (`first_mes`). `{{char}}`/`{{user}}` (and the old `<BOT>`/`<USER>`) are resolved. The
whole card, macros unresolved and unknown `extensions` included (the spec requires keeping them), travels
in `meta["card.record"]`, which the exporter writes back. In a run (a staging directory in the context)
each card's profile is also written to the `profiles` side table (`character_profile`).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from operators.columns import REJECT_REASON
from operators.ingest.base import (
    META_TAGS,
    IngestConfig,
    IngestSource,
    Message,
    RecordError,
    Session,
    file_stem,
    meta_json,
    register_format,
    validation_detail,
)
from operators.registry import register
from schemas.tables import TABLES

PROFILE_SCHEMA = TABLES["character_profile"].schema
SPECS = {"chara_card_v2": "2", "chara_card_v3": "3"}
PNG_KEYS = ("ccv3", "chara")  # V3 first: a V3 PNG usually carries a V2 `chara` fallback too
_MACROS = {"char": re.compile(r"\{\{char\}\}|<BOT>", re.IGNORECASE), "user": re.compile(r"\{\{user\}\}|<USER>", re.IGNORECASE)}
_START = re.compile(r"^\s*<START>\s*$", re.IGNORECASE | re.MULTILINE)


class CardData(BaseModel):
    """The fields of a card's `data` (V2/V3) or of a V1 card; other fields are kept as they are."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1)
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    creator_notes: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    alternate_greetings: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    creator: str = ""
    character_version: str = ""
    extensions: dict[str, Any] = Field(default_factory=dict)
    nickname: str | None = None


class CardConfig(IngestConfig):
    """Character Card files (`.json`, `.png`)."""

    user_name: str = Field("User", min_length=1, description="What `{{user}}` becomes in the card's texts.")


def resolve_macros(text: str, char: str, user: str) -> str:
    """`{{char}}`/`<BOT>` -> the character's name, `{{user}}`/`<USER>` -> the user's name."""
    return _MACROS["user"].sub(user, _MACROS["char"].sub(char, text))


def example_lines(mes_example: str, char: str, user: str) -> list[str]:
    """The character's lines in `mes_example` (`<START>` blocks of `{{char}}: ...`/`{{user}}: ...`), macros resolved."""
    speaker = re.compile(r"^\s*(\{\{char\}\}|\{\{user\}\}|<BOT>|<USER>|" + re.escape(char) + "|" + re.escape(user) + r")\s*:\s?(.*)$", re.IGNORECASE)
    is_char = {"{{char}}", "<bot>", char.casefold()}
    lines: list[str] = []
    for block in _START.split(mes_example):
        current: list[str] | None = None  # the character's utterance being read, None inside the user's
        for raw in block.splitlines():
            match = speaker.match(raw)
            if match:
                if current:
                    lines.append("\n".join(current).strip())
                current = [match.group(2)] if match.group(1).casefold() in is_char else None
            elif current is not None and raw.strip():
                current.append(raw.strip())  # a continuation line of the same utterance
        if current:
            lines.append("\n".join(current).strip())
    return [resolve_macros(line, char, user) for line in lines if line]


def card_from_png(path: str) -> dict[str, Any]:
    """The card JSON in a PNG's `ccv3` or `chara` text chunk (base64 of UTF-8 JSON)."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.exists(path):
        raise RecordError("card_not_found", f"{path}: card file not found")
    try:
        with Image.open(path) as image:
            image.load()  # text chunks after the image data are read only on load
            chunks = dict(getattr(image, "text", {}) or {})
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise RecordError("invalid_png", f"{path}: not a readable PNG: {error}") from None
    key = next((k for k in PNG_KEYS if k in chunks), None)
    if key is None:
        raise RecordError("missing_card_chunk", f"{path}: PNG has no 'chara' or 'ccv3' text chunk (chunks: {sorted(chunks) or 'none'})")
    try:
        payload = base64.b64decode("".join(chunks[key].split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise RecordError("bad_base64", f"{path}: the '{key}' chunk is not valid base64: {error}") from None
    try:
        card = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecordError("invalid_json", f"{path}: the '{key}' chunk does not decode to JSON: {error}") from None
    if not isinstance(card, dict):
        raise RecordError("not_an_object", f"{path}: the '{key}' chunk holds a {type(card).__name__}, not a card object")
    return card


def load_card(path: str) -> dict[str, Any]:
    """A card file (JSON or PNG) as its JSON object; raises RecordError naming the file."""
    if path.lower().endswith(".png"):
        return card_from_png(path)
    try:
        with open(path, encoding="utf-8-sig") as handle:
            card = json.load(handle)
    except FileNotFoundError:
        raise RecordError("card_not_found", f"{path}: card file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecordError("invalid_json", f"{path}: not a JSON card: {error}") from None
    if not isinstance(card, dict):
        raise RecordError("not_an_object", f"{path}: expected a card object, got {type(card).__name__}")
    return card


def card_data(card: dict[str, Any]) -> CardData:
    """The validated data of a V1/V2/V3 card; unknown specs and versions are `unsupported_version`."""
    if "spec" in card:
        spec, version = card.get("spec"), str(card.get("spec_version", ""))
        if spec not in SPECS or version.split(".")[0] != SPECS[spec]:
            raise RecordError("unsupported_version", f"card spec {spec!r} version {version!r} is not supported (known: chara_card_v2 2.x, chara_card_v3 3.x, or V1 without `spec`)")
        data, prefix = card.get("data"), "data"
    else:
        data, prefix = card, "card"
    if not isinstance(data, dict):
        raise RecordError("invalid_record", f"{prefix}: expected an object, got {type(data).__name__}")
    try:
        return CardData.model_validate(data)
    except ValidationError as error:
        raise RecordError("invalid_record", validation_detail(error, prefix)) from None


def card_character(card: dict[str, Any], user: str) -> tuple[dict[str, Any], list[str], str]:
    """(canonical character, tags, resolved greeting) of a card."""
    data = card_data(card)
    name = data.name

    def resolved(text: str) -> str:
        return resolve_macros(text, name, user).strip()

    parts = [resolved(data.description)]
    if data.personality.strip():
        parts.append(f"Personality: {resolved(data.personality)}")
    if data.scenario.strip():
        parts.append(f"Scenario: {resolved(data.scenario)}")
    extra = {}
    if data.scenario.strip():
        extra["scenario"] = resolved(data.scenario)
    if data.nickname:
        extra["nickname"] = data.nickname
    character = {
        "name": name,
        "profile_text": "\n\n".join(p for p in parts if p) or None,
        "attributes": {"extra": extra},
        "styles": {"speaking_style": resolved(data.personality) or None, "example_lines": example_lines(data.mes_example, name, user)},
    }
    return character, list(data.tags), resolve_macros(data.first_mes, name, user)


@register
class CardReader(IngestSource):
    name: ClassVar[str] = "read.card"
    format: ClassVar[str] = "card"
    Config = CardConfig
    suffixes = (".json", ".png")
    summary = "Character Cards V1/V2/V3 (JSON or PNG): the profile and its greeting; the card kept whole in meta."
    # A card without a greeting is still a profile: its row has no turns (the length filter rejects it
    # visibly) rather than being lost here.
    allow_no_turns = True

    def records(self, path: str) -> Iterator[tuple[int, Any, str]]:
        if path.lower().endswith(".png"):
            try:
                card: Any = card_from_png(path)
            except RecordError as error:
                yield 1, error, ""
                return
            yield 1, card, json.dumps(card, ensure_ascii=False)
            return
        yield from super().records(path)

    def read(self, path: str, rows_per_block: int) -> Iterator[pa.Table]:
        """Rows as every source yields them; in a run, each card's profile also goes to the `profiles` side table."""
        for block in super().read(path, rows_per_block):
            if self.context.staging_dir is not None:
                self.context.side_output("profiles", card_profiles(block, self.context.run_id))
            yield block

    def parse(self, data: Any, path: str, line: int) -> Session:
        config: CardConfig = self.config  # type: ignore[assignment]
        character, tags, greeting = card_character(data, config.user_name)
        messages = [Message("character", greeting)] if greeting.strip() else []
        return Session(character=character, messages=messages, record_id=None, tags=tags, extra=data)


def card_profiles(block: pa.Table, run_id: str) -> pa.Table:
    """The `character_profile` rows of the cards read in a block (rejects have none)."""
    live = block.filter(pc.is_null(block.column(REJECT_REASON)))
    rows = [
        {**row["character"], "character_id": row["character_id"], "source": "import", "source_ref": row["source_ref"], "pipeline_run_id": run_id}
        for row in live.select(["character", "character_id", "source_ref"]).to_pylist()
    ]
    return pa.Table.from_pylist(rows, schema=PROFILE_SCHEMA)


def dialogue_card(dialogue: dict[str, Any]) -> dict[str, Any]:
    """The card of a dialogue: the stored original, or a V2 card built from the canonical profile."""
    stored = meta_json(dialogue, "card.record")
    if stored is not None:
        return stored
    character = dialogue["character"]
    attributes, styles = character.get("attributes") or {}, character.get("styles") or {}
    greeting = next((t["text"] for t in dialogue["turns"] if t["role"] == "character"), "")
    examples = styles.get("example_lines") or []
    data = {
        "name": character["name"],
        "description": character.get("profile_text") or "",
        "personality": styles.get("speaking_style") or "",
        "scenario": (attributes.get("extra") or {}).get("scenario", ""),
        "first_mes": greeting,
        "mes_example": "\n".join(f"<START>\n{{{{char}}}}: {line}" for line in examples),
        "creator_notes": "",
        "system_prompt": "",
        "post_history_instructions": "",
        "alternate_greetings": [],
        "tags": meta_json(dialogue, META_TAGS, []),
        "creator": "",
        "character_version": "",
        "extensions": {"characterdial": {"category": character.get("category"), "character_id": dialogue.get("character_id")}},
    }
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}


def write_card_png(card: dict[str, Any], path: str, image: Any = None) -> None:
    """Write a card into a PNG: `ccv3` for V3 cards plus the `chara` chunk every reader knows."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    payload = base64.b64encode(json.dumps(card, ensure_ascii=False).encode("utf-8")).decode("ascii")
    info = PngInfo()
    info.add_text("chara", payload)
    if card.get("spec") == "chara_card_v3":
        info.add_text("ccv3", payload)
    (image or Image.new("RGB", (400, 600), (32, 32, 40))).save(path, format="PNG", pnginfo=info)


def export_cards(dialogues: Iterable[dict[str, Any]], out: str, png: bool = False) -> int:
    """One card per character (the first dialogue of each character_id) into folder `out`; returns cards written."""
    os.makedirs(out, exist_ok=True)
    seen: set[str] = set()
    taken: set[str] = set()
    written = 0
    for dialogue in dialogues:
        if dialogue["character_id"] in seen:
            continue
        seen.add(dialogue["character_id"])
        card = dialogue_card(dialogue)
        stem = os.path.join(out, file_stem(dialogue["character"]["name"], taken))
        if png:
            write_card_png(card, stem + ".png")
        else:
            with open(stem + ".json", "w", encoding="utf-8") as handle:
                json.dump(card, handle, ensure_ascii=False, indent=2)
                handle.write("\n")
        written += 1
    return written


register_format("card", CardReader, export_cards, "folder")
