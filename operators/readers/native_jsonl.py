"""`read.jsonl`: the native dialogue JSONL format (docs/formats.md), one record per line.

Every line becomes exactly one row: a dialogue, or a reject naming the file, the line and what was
wrong (invalid UTF-8, invalid JSON, not an object, a field that fails validation, a blank line). An
empty file becomes one reject at line 0.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import ValidationError

from operators.base import Source, SourceConfig
from operators.columns import INPUT_FILE, INPUT_LINE, RAW, REJECT_DETAIL, REJECT_OPERATOR, REJECT_REASON, WORKING_SCHEMA
from operators.identity import character_id, content_digest, dialogue_id
from operators.registry import register
from schemas.arrow import to_arrow_map
from schemas.native import NativeDialogue
from schemas.records import Attributes, Styles
from schemas.tables import format_validation_error

RAW_LIMIT = 100_000  # characters of a bad line kept in the reject record


class JsonlConfig(SourceConfig):
    """Paths of native dialogue JSONL files (`.jsonl`, `.json`)."""


def native_to_row(record: NativeDialogue) -> dict[str, Any]:
    """A validated native record as a working-schema row (ids derived, speakers filled in)."""
    character = record.character
    turns = []
    for turn in record.turns:
        default_speaker = character.name if turn.role == "character" else (record.user_role or "user")
        turns.append(
            {
                "role": turn.role,
                "speaker": turn.speaker or default_speaker,
                "text": turn.text,
                "spans": [s.model_dump() for s in turn.spans] if turn.spans is not None else None,
                "author_id": turn.author_id,
            }
        )
    content = content_digest(character.name, ((t["role"], t["text"]) for t in turns))
    return {
        "dialogue_id": dialogue_id(record.source, record.id, content),
        "character_id": character.id or character_id(character.name, character.work),
        "character": {
            "name": character.name,
            "category": character.category,
            "work": character.work,
            "attributes": _with_maps((character.attributes or Attributes()).model_dump(), "extra"),
            "styles": (character.styles or Styles()).model_dump(),
            "profile_text": character.profile_text,
        },
        "user_role": record.user_role,
        "scenario": record.scenario,
        "language": record.language,
        "turns": turns,
        "source": record.source,
        "source_ref": record.source_ref,
        "meta": to_arrow_map(record.meta),
    }


def _with_maps(value: dict[str, Any], key: str) -> dict[str, Any]:
    value[key] = to_arrow_map(value[key])
    return value


def reject_row(operator: str, path: str, line: int, reason: str, detail: str, raw: str) -> dict[str, Any]:
    return {
        REJECT_REASON: reason,
        REJECT_OPERATOR: operator,
        REJECT_DETAIL: detail,
        INPUT_FILE: path,
        INPUT_LINE: line,
        RAW: raw[:RAW_LIMIT],
    }


@register
class NativeJsonlReader(Source):
    name: ClassVar[str] = "read.jsonl"
    Config = JsonlConfig
    suffixes = (".jsonl", ".json")
    summary = "Native dialogue JSONL; each bad line becomes a reject naming file and line."

    def parse_line(self, raw: bytes, path: str, line: int) -> dict[str, Any]:
        """One input line -> one working row (a dialogue or a reject)."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            detail = f"{path}:{line}: invalid UTF-8 at byte {error.start}: {raw[error.start:error.start + 4]!r}"
            return reject_row(self.name, path, line, "invalid_utf8", detail, raw.decode("utf-8", "replace"))
        if not text.strip():
            return reject_row(self.name, path, line, "blank_line", f"{path}:{line}: blank line", text)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            detail = f"{path}:{line}: invalid JSON: {error.msg} at column {error.colno}"
            return reject_row(self.name, path, line, "invalid_json", detail, text)
        if not isinstance(data, dict):
            detail = f"{path}:{line}: expected a JSON object, got {type(data).__name__}"
            return reject_row(self.name, path, line, "not_an_object", detail, text)
        try:
            record = NativeDialogue.model_validate(data)
        except ValidationError as error:
            return reject_row(self.name, path, line, "invalid_record", format_validation_error(error, f"{path}:{line}"), text)
        row = native_to_row(record)
        row["source_ref"] = row["source_ref"] or f"{path}:{line}"
        row[INPUT_FILE] = path
        row[INPUT_LINE] = line
        return row

    def read(self, path: str, rows_per_block: int) -> Iterator[pa.Table]:
        rows: list[dict[str, Any]] = []
        seen_any = False
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                raw = raw.rstrip(b"\r\n")
                seen_any = True
                rows.append(self.parse_line(raw, path, number))
                if len(rows) >= rows_per_block:
                    yield pa.Table.from_pylist(rows, schema=WORKING_SCHEMA)
                    rows = []
        if not seen_any:
            rows.append(reject_row(self.name, path, 0, "empty_file", f"{path}: empty file (no records)", ""))
        if rows:
            yield pa.Table.from_pylist(rows, schema=WORKING_SCHEMA)
