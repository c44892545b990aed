"""Every table we write, by name: its model and its Arrow schema."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from pydantic import BaseModel, ValidationError

from schemas.arrow import SCHEMA_VERSION, arrow_schema, from_arrow_row
from schemas.extraction import Quote
from schemas.human_logs import HpiSession, HrpSession
from schemas.llm_usage import LLMUsage
from schemas.native import NativeDialogue
from schemas.records import CharacterProfile, Dialogue, PreferencePair, Reject
from schemas.run import CompositionRow, RunManifest
from schemas.seeds import SeedsFile


@dataclass(frozen=True)
class Table:
    name: str
    model: type[BaseModel]
    doc: str
    parquet: bool = True

    @property
    def schema(self) -> pa.Schema:
        if not self.parquet:
            raise TypeError(f"table {self.name!r} is JSON, not Parquet: it has no Arrow schema")
        return arrow_schema(self.model, self.name)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table("dialogue", Dialogue, "corpus/*.parquet: one dialogue session per row."),
        Table("character_profile", CharacterProfile, "profiles/*.parquet: one character profile per row."),
        Table("preference_pair", PreferencePair, "pairs/*.parquet: one preference pair per row."),
        Table("reject", Reject, "rejects/*.parquet: one rejected record per row."),
        Table("quotes", Quote, "quotes/*.parquet: every quote found in a novel, with its speaker, method and confidence."),
        Table("llm_usage", LLMUsage, "llm_usage/*.parquet: requests, cache hits, tokens and cost of each LLM batch."),
        Table("seeds", SeedsFile, "Synthesis seeds (YAML): characters to write profiles and dialogues for.", parquet=False),
        Table("composition", CompositionRow, "stats/composition.parquet: counts by category x scenario x source x language x split."),
        Table("run_manifest", RunManifest, "manifest.json: the run's manifest and ledger.", parquet=False),
        Table("native_dialogue", NativeDialogue, "The native input format: one JSON object per line of a .jsonl file.", parquet=False),
        Table("hrp_session", HrpSession, "Human role-play log (HRP) input: one session per line of a .jsonl file.", parquet=False),
        Table("hpi_session", HpiSession, "Human-prototype interaction log (HPI) input: one session per line, with ratings and rewrites.", parquet=False),
    )
}

DIALOGUE_SCHEMA = TABLES["dialogue"].schema
REJECT_SCHEMA = TABLES["reject"].schema
COMPOSITION_SCHEMA = TABLES["composition"].schema


def format_validation_error(error: ValidationError, record: str) -> str:
    """One line per problem, each naming the record and the field path, e.g. `turns[2].role`."""
    lines = []
    for problem in error.errors():
        path = ""
        for part in problem["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        lines.append(f"{record}: {path or '(record)'}: {problem['msg']}")
    return "; ".join(lines)


def validate_record(model: type[BaseModel], data: object, record: str) -> BaseModel:
    """Validate one record; raises ValueError naming the record and every bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ValueError(format_validation_error(error, record)) from None


def validate_table(table: pa.Table, name: str, source: str = "table") -> None:
    """Check an Arrow table row by row against a table's model; raises naming the first bad rows."""
    model = TABLES[name].model
    problems = []
    for index, row in enumerate(table.to_pylist()):
        try:
            validate_record(model, from_arrow_row(model, row), f"{source} row {index}")
        except ValueError as error:
            problems.append(str(error))
            if len(problems) >= 5:
                break
    if problems:
        raise ValueError("\n".join(problems))


def export_json_schemas(directory: Path) -> list[Path]:
    """Write `<table>.schema.json` for every table; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES.values():
        schema = table.model.model_json_schema()
        schema["$id"] = f"https://characterdial.dev/schemas/{SCHEMA_VERSION}/{table.name}.schema.json"
        schema["x-schema-version"] = SCHEMA_VERSION
        schema["x-table"] = table.name
        path = directory / f"{table.name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written
