"""preference.swipes: the swipe a SillyTavern user kept, against the ones passed over."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq

from operators.base import RunContext
from operators.preference.swipes import SwipePairs
from operators.registry import lookup


def chat(tmp_path, swipes: list[str], kept: int):
    lines = [
        {"user_name": "You", "character_name": "Mira"},
        {"name": "You", "is_user": True, "is_system": False, "mes": "Which way to the harbour?"},
        {"name": "Mira", "is_user": False, "is_system": False, "mes": swipes[kept], "swipe_id": kept, "swipes": swipes},
        {"name": "You", "is_user": True, "is_system": False, "mes": "Thanks!"},
    ]
    path = tmp_path / "chat.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    reader = lookup("read.sillytavern")(lookup("read.sillytavern").Config(paths=[str(path)]))
    return pa.concat_tables(list(reader.read(str(path), 10)))


def test_the_kept_swipe_is_chosen_over_each_other_distinct_swipe(tmp_path):
    table = chat(tmp_path, ["East, past the <i>bakery</i>.", "I cannot help.", "East, past the bakery.", ""], kept=0)
    out = SwipePairs(context=RunContext(staging_dir=str(tmp_path / "staging")))(table)
    assert out.equals(table)
    (part,) = (tmp_path / "staging" / "pairs").glob("*.parquet")
    pairs = pq.read_table(part).to_pylist()
    assert [(p["chosen"]["text"], p["rejected"]["text"], p["pair_source"]) for p in pairs] == [("East, past the bakery.", "I cannot help.", "swipe_choice")]
    assert [t["text"] for t in pairs[0]["context"]] == ["Which way to the harbour?"]
    assert pairs[0]["chosen"]["speaker"] == "Mira"


def test_no_swipes_no_pairs(tmp_path):
    table = chat(tmp_path, ["Only reply."], kept=0)
    SwipePairs(context=RunContext(staging_dir=str(tmp_path / "staging")))(table)
    assert not (tmp_path / "staging").exists()
