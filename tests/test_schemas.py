"""Record schemas: Arrow derivation, validation errors that name record and field, JSON Schema export, docs."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from schemas import DIALOGUE_SCHEMA, SCHEMA_VERSION, TABLES, export_json_schemas, validate_record, validate_table
from schemas.native import NativeDialogue
from schemas.records import Dialogue
from schemas.reference import render_reference
from tests.conftest import REPO


def test_every_parquet_table_has_a_versioned_arrow_schema():
    for table in TABLES.values():
        if not table.parquet:
            with pytest.raises(TypeError):
                _ = table.schema
            continue
        schema = table.schema
        assert schema.metadata[b"characterdial.schema_version"] == SCHEMA_VERSION.encode()
        assert schema.metadata[b"characterdial.table"] == table.name.encode()
        assert len(schema) == len(table.model.model_fields)


def test_dialogue_schema_types_follow_the_model():
    assert DIALOGUE_SCHEMA.field("dialogue_id").type == pa.string()
    assert not DIALOGUE_SCHEMA.field("dialogue_id").nullable
    assert DIALOGUE_SCHEMA.field("split").nullable
    turn = DIALOGUE_SCHEMA.field("turns").type.value_type
    assert [f.name for f in turn] == ["role", "speaker", "text", "spans", "author_id"]
    quality = DIALOGUE_SCHEMA.field("quality").type
    assert {f.name for f in quality} >= {"consistency", "human_likeness", "engagement", "quality", "safety", "correctness", "overall"}
    # dict fields are list<struct<key, value>> so that Hugging Face datasets can load them
    meta = DIALOGUE_SCHEMA.field("meta").type
    assert pa.types.is_list(meta) and [f.name for f in meta.value_type] == ["key", "value"]
    assert DIALOGUE_SCHEMA.field("dialogue_id").metadata[b"description"].startswith(b"Stable id")


def test_validation_error_names_record_and_field_path():
    bad = {
        "id": "x",
        "character": {"name": "Lin", "category": "hero"},
        "scenario": "chit_chat",
        "language": "en",
        "turns": [{"role": "user", "text": "hi"}, {"role": "bot", "text": "yo"}],
        "scenaro": "typo",
    }
    with pytest.raises(ValueError) as error:
        validate_record(NativeDialogue, bad, "data.jsonl:7")
    message = str(error.value)
    assert "data.jsonl:7: character.category:" in message
    assert "data.jsonl:7: turns[1].role:" in message
    assert "data.jsonl:7: scenaro: Extra inputs are not permitted" in message


def test_validate_table_round_trips_arrow_rows_and_reports_bad_rows():
    row = {
        "dialogue_id": "d_1",
        "character_id": "c_1",
        "character": {
            "name": "Lin",
            "category": "fictional",
            "attributes": {"relationships": [], "experiences": [], "hobbies": [], "extra": [{"key": "home", "value": "Hangzhou"}]},
            "styles": {"catchphrases": [], "example_lines": []},
        },
        "scenario": "chit_chat",
        "language": "zh",
        "turns": [{"role": "user", "speaker": "a", "text": "你好"}, {"role": "character", "speaker": "Lin", "text": "你好呀"}],
        "source": "import",
        "meta": [{"key": "k", "value": "v"}],
    }
    table = pa.Table.from_pylist([row], schema=DIALOGUE_SCHEMA)
    validate_table(table, "dialogue", "t.parquet")
    bad = pa.Table.from_pylist([{**row, "scenario": "party"}], schema=DIALOGUE_SCHEMA)
    with pytest.raises(ValueError, match=r"t.parquet row 0: scenario"):
        validate_table(bad, "dialogue", "t.parquet")


def test_json_schema_export(tmp_path):
    paths = export_json_schemas(tmp_path)
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{name}.schema.json" for name in TABLES)
    dialogue = json.loads((tmp_path / "dialogue.schema.json").read_text())
    assert dialogue["x-schema-version"] == SCHEMA_VERSION
    assert set(dialogue["required"]) >= {"dialogue_id", "character_id", "character", "scenario", "language", "turns", "source"}
    assert dialogue["properties"]["scenario"]["enum"] == ["chit_chat", "interview", "companionship", "other"]
    assert dialogue == {**Dialogue.model_json_schema(), "$id": dialogue["$id"], "x-schema-version": SCHEMA_VERSION, "x-table": "dialogue"}


def test_docs_schemas_md_is_generated_from_the_models():
    current = (REPO / "docs" / "schemas.md").read_text(encoding="utf-8")
    assert current == render_reference(), "docs/schemas.md is stale: run `chardial schema docs --out docs/schemas.md`"
