"""Labelled dialogues for training and evaluating the quality model: dialogue Parquet with `quality` filled in.

Labels come from a published run (its `corpus/`): `read.hpi` fills `quality.overall` from human ratings,
`quality.judge` fills every dimension. A path may be a Parquet file, a folder of them, or a run folder.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from operators.quality.model import ModelError

COLUMNS = ("dialogue_id", "character_id", "character", "turns", "quality")


def label_files(paths: list[str | Path]) -> list[Path]:
    """The Parquet files of the given files, folders or run folders (a run folder means its corpus/)."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and (path / "corpus").is_dir():
            path = path / "corpus"
        if path.is_dir():
            found = sorted(p for p in path.rglob("*.parquet") if not p.name.startswith("."))
            if not found:
                raise ModelError(f"{raw}: no .parquet files in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise ModelError(f"{raw}: no such file or folder")
    return files


def read_labels(paths: list[str | Path]) -> tuple[pa.Table, list[str]]:
    """(the labelled rows with the columns the model needs, the files read); rows with no scores are left out."""
    import pyarrow.compute as pc

    tables = []
    files = label_files(paths)
    for file in files:
        try:
            table = pq.read_table(file, columns=list(COLUMNS))
        except (pa.ArrowInvalid, OSError) as error:
            raise ModelError(f"{file}: cannot read as a dialogue table with columns {list(COLUMNS)}: {error}") from None
        tables.append(table)
    table = pa.concat_tables(tables, promote_options="permissive")
    quality = table.column("quality")
    return table.filter(pc.is_valid(quality)), [str(f) for f in files]
