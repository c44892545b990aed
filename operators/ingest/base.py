"""What every ingest source shares: reading records, turning a parsed session into a canonical row, exporters.

A format module parses one input record into a `Session` (or raises `RecordError`); `IngestSource`
applies the same rules to every format: empty messages, two turns in a row by the same side, enormous
messages, the character's category, language, stable ids and the provenance in `meta`. Fields a format
carries that have no canonical column travel in `meta` under `<format>.` keys as JSON, so the format's
exporter can write them back (import -> export -> import is the identity).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field, ValidationError

from operators.base import Source, SourceConfig
from operators.columns import INPUT_FILE, INPUT_LINE, RAW, REJECT_DETAIL, REJECT_OPERATOR, REJECT_REASON, WORKING_SCHEMA
from operators.identity import character_id, content_digest, dialogue_id
from operators.ingest.category import classify_profile, classify_tags
from operators.ingest.language import detect_language
from schemas.arrow import from_arrow_map, to_arrow_map
from schemas.records import Category, Scenario

RAW_LIMIT = 100_000  # characters of a bad record kept in its reject row
# meta keys the ingest sources write themselves; a format's own keys start with "<format>."
META_FORMAT = "ingest.format"
META_SESSION_ID = "ingest.session_id"
META_CATEGORY_SOURCE = "ingest.category_source"
META_TAGS = "ingest.tags"
META_CAPPED = "ingest.capped"
META_MERGED = "ingest.merged_turns"
META_SKIPPED_EMPTY = "ingest.skipped_empty"


class RecordError(Exception):
    """A record that cannot become a dialogue: a machine reason and a detail naming the field."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass
class Message:
    """One message as the format gave it, before the shared rules run."""

    role: str
    text: str
    speaker: str | None = None
    author_id: str | None = None
    extra: dict[str, Any] | None = None  # this message's format fields that have no canonical column


@dataclass
class Session:
    """One parsed input record, in canonical terms plus what the format alone carries."""

    character: dict[str, Any]  # name, work, category (None: infer), attributes, styles, profile_text
    messages: list[Message]
    record_id: str | None = None
    source: str = "import"
    user_role: str | None = None
    scenario: str | None = None
    language: str | None = None
    character_id: str | None = None
    tags: list[str] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] | None = None  # record-level format fields that have no canonical column


class IngestConfig(SourceConfig):
    """Settings shared by every ingest source."""

    category: Category | None = Field(None, description="Category of every character read; overrides the format and the classifier.")
    scenario: Scenario = Field("other", description="Scenario for formats that carry none.")
    language: str | None = Field(None, min_length=2, description="Language for formats that carry none; null: detect from the text.")
    user_role: str | None = Field(None, description="Who the character talks to, for formats that carry none.")
    same_side: Literal["merge", "reject"] = Field("merge", description="Two turns in a row by the same side: join them (newline) or reject the record.")
    empty_messages: Literal["skip", "reject"] = Field("skip", description="Empty messages: skip them (counted in meta) or reject the record.")
    max_chars_per_turn: int = Field(20_000, ge=1, description="Longer messages are cut to this many characters; meta records which and why.")


def jsonl_records(path: str) -> Iterator[tuple[int, Any, str]]:
    """(line, parsed object or RecordError, raw text) for each line of a JSONL file; a cut-off last line is `truncated_record`."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        yield 0, RecordError("empty_file", f"{path}: empty file (no records)"), ""
        return
    lines = data.split(b"\n")
    ends_cleanly = data.endswith(b"\n")
    if ends_cleanly:
        lines.pop()
    for number, raw in enumerate(lines, start=1):
        raw = raw.rstrip(b"\r")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            text = raw.decode("utf-8", "replace")
            yield number, RecordError("invalid_utf8", f"{path}:{number}: invalid UTF-8 at byte {error.start}"), text
            continue
        if not text.strip():
            yield number, RecordError("blank_line", f"{path}:{number}: blank line"), text
            continue
        try:
            yield number, json.loads(text), text
        except json.JSONDecodeError as error:
            cut = number == len(lines) and not ends_cleanly  # a last line with no newline: the writer was interrupted
            if cut or error.pos >= len(text.rstrip()):
                where = "the file ends inside this record" if cut else "the line ends inside the record"
                yield number, RecordError("truncated_record", f"{path}:{number}: {where} (truncated JSONL): {error.msg}"), text
            else:
                yield number, RecordError("invalid_json", f"{path}:{number}: invalid JSON: {error.msg} at column {error.colno}"), text


def json_records(path: str) -> Iterator[tuple[int, Any, str]]:
    """Records of a `.json` file: each item of a top-level array (numbered from 1), or the one object."""
    try:
        with open(path, encoding="utf-8-sig") as handle:
            text = handle.read()
    except UnicodeDecodeError as error:
        yield 0, RecordError("invalid_utf8", f"{path}: invalid UTF-8 at byte {error.start}"), ""
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        reason = "truncated_record" if error.pos >= len(text.rstrip()) else "invalid_json"
        yield 0, RecordError(reason, f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"), text
        return
    if isinstance(data, list):
        if not data:
            yield 0, RecordError("empty_file", f"{path}: empty array (no records)"), text
        for number, item in enumerate(data, start=1):
            yield number, item, json.dumps(item, ensure_ascii=False)
    else:
        yield 1, data, text


def validation_detail(error: ValidationError, prefix: str = "") -> str:
    """Every problem of a validation error as `path: message`, paths like `turns[2].role` (under `prefix`)."""
    problems = []
    for problem in error.errors():
        path = prefix
        for part in problem["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        problems.append(f"{path or '(record)'}: {problem['msg']}")
    return "; ".join(problems)


def reject_row(operator: str, path: str, line: int, reason: str, detail: str, raw: str) -> dict[str, Any]:
    """A working-schema reject row naming the file and line (or record number)."""
    return {REJECT_REASON: reason, REJECT_OPERATOR: operator, REJECT_DETAIL: detail, INPUT_FILE: path, INPUT_LINE: line, RAW: raw[:RAW_LIMIT]}


def dumps(value: Any) -> str:
    """Compact, key-ordered JSON for meta values (stable across runs)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def empty_attributes() -> dict[str, Any]:
    return {"gender": None, "age": None, "occupation": None, "relationships": [], "experiences": [], "hobbies": [], "extra": {}}


def empty_styles() -> dict[str, Any]:
    return {"speaking_style": None, "catchphrases": [], "example_lines": []}


class IngestSource(Source):
    """A Source for one community or human-log format; subclasses implement `records` and `parse`."""

    format: ClassVar[str]
    Config = IngestConfig
    suffixes: ClassVar[tuple[str, ...]] = (".jsonl", ".json")
    allow_no_turns: ClassVar[bool] = False

    def records(self, path: str) -> Iterator[tuple[int, Any, str]]:
        """(line or record number, parsed JSON or RecordError, raw text) for each record of one file."""
        return json_records(path) if path.endswith(".json") else jsonl_records(path)

    def parse(self, data: Any, path: str, line: int) -> Session:
        """One parsed record -> a Session; raises RecordError naming the field."""
        raise NotImplementedError

    def read(self, path: str, rows_per_block: int) -> Iterator[pa.Table]:
        rows: list[dict[str, Any]] = []
        for line, data, raw in self.records(path):
            rows.append(self.row(data, raw, path, line))
            if len(rows) >= rows_per_block:
                yield pa.Table.from_pylist(rows, schema=WORKING_SCHEMA)
                rows = []
        if rows:
            yield pa.Table.from_pylist(rows, schema=WORKING_SCHEMA)

    def row(self, data: Any, raw: str, path: str, line: int) -> dict[str, Any]:
        """One record -> one working row: a dialogue or a reject naming file and line."""
        where = f"{path}:{line}"
        try:
            if isinstance(data, RecordError):
                raise data
            if not isinstance(data, dict):
                raise RecordError("not_an_object", f"{where}: expected a JSON object, got {type(data).__name__}")
            row = self.session_row(self.parse(data, path, line), where)
        except RecordError as error:
            detail = error.detail if error.detail.startswith(path) else f"{where}: {error.detail}"
            return reject_row(self.name, path, line, error.reason, detail, raw)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as error:
            # A shape no check anticipated (community files vary wildly): reject the record, keep the run.
            return reject_row(self.name, path, line, "invalid_record", f"{where}: unexpected record shape: {type(error).__name__}: {error}", raw)
        row[INPUT_FILE] = path
        row[INPUT_LINE] = line
        return row

    def session_row(self, session: Session, where: str) -> dict[str, Any]:
        """Apply the shared rules to a parsed session and build its canonical row."""
        config: IngestConfig = self.config  # type: ignore[assignment]
        meta = dict(session.meta)
        messages = self._without_empty(session.messages, meta)
        messages = self._same_side(messages, meta)
        if not messages and not self.allow_no_turns:
            raise RecordError("no_turns", "the record has no messages with text")
        self._cap(messages, meta)
        name = session.character.get("name")
        if not name or not str(name).strip():
            raise RecordError("missing_character_name", "no character name: the format gives none and the source config sets no character_name")
        character = self._character(session, meta)
        turns = []
        for message in messages:
            default_speaker = name if message.role == "character" else (session.user_role or config.user_role or "user")
            turns.append({"role": message.role, "speaker": message.speaker or default_speaker, "text": message.text, "spans": None, "author_id": message.author_id})
        language = session.language or config.language or detect_language(" ".join([t["text"] for t in turns[:8]] + [character["profile_text"] or ""]))
        content = content_digest(name, ((t["role"], t["text"]) for t in turns))
        meta[META_FORMAT] = self.format
        if session.record_id is not None:
            meta[META_SESSION_ID] = session.record_id
        if session.tags:
            meta[META_TAGS] = dumps(session.tags)
        if session.extra:
            meta[f"{self.format}.record"] = dumps(session.extra)
        extras = [m.extra for m in messages]
        if any(extras):
            meta[f"{self.format}.turns"] = dumps(extras)
        return {
            "dialogue_id": dialogue_id(session.source, f"{self.format}:{session.record_id or ''}", content),
            "character_id": session.character_id or character_id(name, character["work"]),
            "character": character,
            "user_role": session.user_role if session.user_role is not None else config.user_role,
            "scenario": session.scenario or config.scenario,
            "language": language,
            "turns": turns,
            "source": session.source,
            "source_ref": where,
            "meta": to_arrow_map(dict(sorted(meta.items()))),
        }

    def _without_empty(self, messages: list[Message], meta: dict[str, str]) -> list[Message]:
        config: IngestConfig = self.config  # type: ignore[assignment]
        kept = [m for m in messages if m.text.strip()]
        if len(kept) < len(messages):
            if config.empty_messages == "reject":
                first = next(i for i, m in enumerate(messages) if not m.text.strip())
                raise RecordError("empty_message", f"message {first} is empty (empty_messages: reject)")
            meta[META_SKIPPED_EMPTY] = str(len(messages) - len(kept) + int(meta.get(META_SKIPPED_EMPTY, "0")))
        return kept

    def _same_side(self, messages: list[Message], meta: dict[str, str]) -> list[Message]:
        config: IngestConfig = self.config  # type: ignore[assignment]
        merged: list[Message] = []
        count = 0
        for index, message in enumerate(messages):
            if merged and merged[-1].role == message.role:
                if config.same_side == "reject":
                    raise RecordError("consecutive_same_side", f"messages {index - 1} and {index} are both by the {message.role} side (same_side: reject)")
                previous = merged[-1]
                merged[-1] = Message(previous.role, previous.text + "\n" + message.text, previous.speaker, previous.author_id, previous.extra)
                count += 1
            else:
                merged.append(Message(message.role, message.text, message.speaker, message.author_id, message.extra))
        if count:
            meta[META_MERGED] = str(count + int(meta.get(META_MERGED, "0")))
        return merged

    def _cap(self, messages: list[Message], meta: dict[str, str]) -> None:
        limit = self.config.max_chars_per_turn  # type: ignore[attr-defined]
        capped = json.loads(meta.get(META_CAPPED, "[]"))
        for index, message in enumerate(messages):
            if len(message.text) > limit:
                capped.append({"turn": index, "chars": len(message.text), "reason": f"longer than max_chars_per_turn {limit}"})
                message.text = message.text[:limit]
        if capped:
            meta[META_CAPPED] = dumps(capped)

    def _character(self, session: Session, meta: dict[str, str]) -> dict[str, Any]:
        """The canonical character, its category from config, the format, tags or the profile (in that order)."""
        config: IngestConfig = self.config  # type: ignore[assignment]
        given = session.character
        attributes = {**empty_attributes(), **(given.get("attributes") or {})}
        attributes["extra"] = to_arrow_map(dict(sorted(attributes["extra"].items())))
        styles = {**empty_styles(), **(given.get("styles") or {})}
        character = {
            "name": given["name"],
            "work": given.get("work"),
            "attributes": attributes,
            "styles": styles,
            "profile_text": given.get("profile_text"),
        }
        if config.category is not None:
            category, how = config.category, "config"
        elif given.get("category"):
            category, how = given["category"], "format"
        else:
            category = classify_tags(session.tags)
            how = "tags"
            if category is None:
                category = classify_profile(profile_corpus(character))
                how = "rules" if category is not None else "none"
        character["category"] = category or "other"
        # A re-imported export keeps how the category was first found.
        meta.setdefault(META_CATEGORY_SOURCE, how)
        return character


def profile_corpus(character: dict[str, Any]) -> str:
    """All profile text of a character, for the category classifier."""
    attributes = character.get("attributes") or {}
    styles = character.get("styles") or {}
    extra = attributes.get("extra") or []
    extra_values = [v for _, v in extra] if isinstance(extra, list) else list(extra.values())
    parts = [character.get("work") or "", character.get("profile_text") or "", attributes.get("occupation") or "", styles.get("speaking_style") or ""]
    parts += list(attributes.get("experiences") or []) + list(attributes.get("relationships") or []) + [v or "" for v in extra_values]
    return "\n".join(p for p in parts if p)


# --- exporting ---------------------------------------------------------------------------------


def dialogue_dicts(table: pa.Table) -> list[dict[str, Any]]:
    """Dialogue rows of an Arrow table as plain dicts (maps as dicts), for the exporters."""
    rows = table.select([n for n in table.column_names if not n.startswith("_")]).to_pylist()
    for row in rows:
        row["meta"] = from_arrow_map(row.get("meta")) or {}
        character = row.get("character") or {}
        attributes = character.get("attributes")
        if attributes is not None:
            attributes["extra"] = from_arrow_map(attributes.get("extra")) or {}
    return rows


def meta_json(dialogue: dict[str, Any], key: str, default: Any = None) -> Any:
    """A JSON value an ingest source stored in meta, or `default`."""
    value = dialogue["meta"].get(key)
    return json.loads(value) if value is not None else default


def turn_extras(dialogue: dict[str, Any], fmt: str) -> list[dict[str, Any]]:
    """Per-turn format fields stored at import, aligned with the turns (empty dicts where none)."""
    extras = meta_json(dialogue, f"{fmt}.turns") or []
    if len(extras) != len(dialogue["turns"]):
        extras = []
    return [dict(e or {}) for e in extras] or [{} for _ in dialogue["turns"]]


def user_meta(dialogue: dict[str, Any], fmt: str) -> dict[str, str]:
    """Meta entries not written by this format's own reader (so they survive a round trip unchanged)."""
    own = (f"{fmt}.turns", f"{fmt}.record")
    return {k: v for k, v in dialogue["meta"].items() if k not in own}


def without_nulls(value: Any) -> Any:
    """Drop null values from dicts (recursively): optional fields are left out of the line."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def write_jsonl(records: Iterable[dict[str, Any]], out: str) -> int:
    """Write records one per line (UTF-8, no ASCII escaping); returns the count."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    count = 0
    with open(out, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def file_stem(name: str, taken: set[str]) -> str:
    """A safe, unique file name stem for an exported record (`taken` collects the stems used)."""
    stem = re.sub(r"[^\w\-]+", "_", name).strip("_") or "card"
    candidate, number = stem, 1
    while candidate in taken:
        number += 1
        candidate = f"{stem}-{number}"
    taken.add(candidate)
    return candidate


Exporter = Callable[[Iterable[dict[str, Any]], str], int]


@dataclass(frozen=True)
class Format:
    """A format: its reader (a registered Source) and its exporter (dialogue dicts -> a file or folder)."""

    name: str
    reader: type[IngestSource]
    export: Exporter
    output: str  # what `export` writes: "jsonl", "json" or "folder"


FORMATS: dict[str, Format] = {}


def register_format(name: str, reader: type[IngestSource], export: Exporter, output: str) -> None:
    FORMATS[name] = Format(name, reader, export, output)


def input_files(path: str, suffixes: tuple[str, ...]) -> list[str]:
    """A file, or every file under a folder with one of `suffixes`, sorted."""
    if os.path.isdir(path):
        found = []
        for root, _, files in os.walk(path):
            found += [os.path.join(root, f) for f in files if f.lower().endswith(suffixes)]
        return sorted(found)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file or folder")
    return [path]
