"""classify.category over working-schema rows from a native JSONL file."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from operators.classify.category import ClassifyCategory
from operators.ingest.base import dialogue_dicts
from operators.readers.native_jsonl import NativeJsonlReader


def _rows(tmp_path: Path, records: list[dict]) -> pa.Table:
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    reader = NativeJsonlReader(NativeJsonlReader.Config(paths=[str(path)]))
    return pa.concat_tables(list(reader.read(str(path), 10)))


def _record(name: str, category: str, profile: str) -> dict:
    turns = [{"role": "user", "text": "hi"}, {"role": "character", "text": "hello"}]
    return {"id": name, "character": {"name": name, "category": category, "profile_text": profile}, "scenario": "chit_chat", "language": "zh", "turns": turns}


def test_other_rows_get_a_category_and_known_rows_are_left_alone(tmp_path: Path) -> None:
    table = _rows(tmp_path, [
        _record("李白", "other", "李白（701年—762年），唐代伟大的浪漫主义诗人。"),
        _record("小王", "other", "喜欢吃苹果。"),
        _record("白浅", "daily_life", "唐七作品《三生三世十里桃花》中的女主角。"),
    ])
    out = dialogue_dicts(ClassifyCategory()(table))
    assert [d["character"]["category"] for d in out] == ["celebrity", "other", "daily_life"]
    assert out[0]["meta"]["ingest.category_source"] == "rules" and "ingest.category_source" not in out[1]["meta"]
    assert ClassifyCategory()(table).num_rows == 3
