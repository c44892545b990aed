"""Test helpers for the ingest formats: read a file through a format's Source, export, compare."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from operators.columns import REJECT_REASON
from operators.ingest.base import FORMATS, dialogue_dicts
from operators.registry import all_operators
from schemas import Dialogue

all_operators()  # import every format module so FORMATS is complete


def read(fmt: str, path: Path, **config: Any) -> pa.Table:
    """Every row a format's Source yields for one file (small blocks, to cross block boundaries)."""
    reader = FORMATS[fmt].reader(FORMATS[fmt].reader.Config(paths=[str(path)], **config))
    return pa.concat_tables(list(reader.read(str(path), rows_per_block=3)))


def split(table: pa.Table) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(dialogues as validated plain dicts, reject rows)."""
    rows = table.to_pylist()
    live = table.filter(pa.array([r[REJECT_REASON] is None for r in rows]))
    dialogues = dialogue_dicts(live)
    for dialogue in dialogues:
        Dialogue.model_validate({k: v for k, v in dialogue.items()})
    return dialogues, [r for r in rows if r[REJECT_REASON] is not None]


def comparable(dialogues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dialogues without provenance that names the file they were read from."""
    return [{k: v for k, v in d.items() if k != "source_ref"} for d in dialogues]


def round_trip(fmt: str, path: Path, tmp_path: Path, **config: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Path]:
    """Import `path`, export to the format, import the export: (first import, second import, export path)."""
    first, rejects = split(read(fmt, path, **config))
    assert not rejects, rejects
    spec = FORMATS[fmt]
    out = tmp_path / ("export" if spec.output == "folder" else f"export.{spec.output}")
    spec.export(first, str(out))
    files = sorted(p for p in out.iterdir()) if out.is_dir() else [out]
    second: list[dict[str, Any]] = []
    for file in files:
        rows, rejects = split(read(fmt, file, **config))
        assert not rejects, rejects
        second += rows
    return first, second, out


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records), encoding="utf-8")
    return path
