"""preference.hpi_rewrite: pairs from HPI rewrites, written as a real Parquet side table."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from operators.base import RunContext
from operators.preference.hpi_rewrite import HpiRewritePairs
from schemas.arrow import from_arrow_map
from schemas.records import PreferencePair
from schemas.tables import TABLES
from tests.operators.ingest.harness import read, write_jsonl
from tests.operators.ingest.test_hpi import SESSION


def test_rewrites_become_pairs_with_preceding_context(tmp_path: Path) -> None:
    table = read("hpi", write_jsonl(tmp_path / "hpi.jsonl", [SESSION, {**SESSION, "id": "h2", "turns": SESSION["turns"][:1]}]))
    staging = tmp_path / "staging"
    out = HpiRewritePairs(context=RunContext(run_id="r1", staging_dir=str(staging)))(table)
    assert out.equals(table)
    files = list((staging / "pairs").glob("*.parquet"))
    assert len(files) == 1
    pairs = pq.read_table(files[0])
    assert pairs.schema.equals(TABLES["preference_pair"].schema, check_metadata=False)
    (pair,) = pairs.to_pylist()
    # validate_table reads an empty Arrow map back as [], so convert the one map by hand
    PreferencePair.model_validate({**pair, "character": {**pair["character"], "attributes": {**pair["character"]["attributes"], "extra": {}}}})
    assert pair["chosen"] == {"speaker": "项羽", "text": "后悔？大丈夫何悔之有！"}
    assert pair["rejected"] == {"speaker": "项羽", "text": "作为一个AI助手，我没有感情。"}
    assert [t["text"] for t in pair["context"]] == ["你后悔吗？"]
    assert pair["pair_source"] == "hpi_rewrite" and pair["pipeline_run_id"] == "r1"
    assert pair["dialogue_id"] == table.column("dialogue_id")[0].as_py()


def test_pairs_follow_the_turn_text_setting_and_rerun_writes_the_same_file(tmp_path: Path) -> None:
    table = read("hpi", write_jsonl(tmp_path / "hpi.jsonl", [SESSION]), turn_text="model_output")
    staging = tmp_path / "staging"
    for _ in range(2):
        HpiRewritePairs(context=RunContext(staging_dir=str(staging)))(table)
    files = list((staging / "pairs").glob("*.parquet"))
    assert len(files) == 1
    (pair,) = pq.read_table(files[0]).to_pylist()
    assert pair["chosen"]["text"] == "后悔？大丈夫何悔之有！" and pair["rejected"]["text"] == "作为一个AI助手，我没有感情。"


def test_dialogues_without_rewrites_write_nothing(tmp_path: Path) -> None:
    plain = {**SESSION, "turns": [t for t in SESSION["turns"] if "rewrite" not in t]}
    table = read("hpi", write_jsonl(tmp_path / "hpi.jsonl", [plain]))
    HpiRewritePairs(context=RunContext(staging_dir=str(tmp_path / "staging")))(table)
    assert not (tmp_path / "staging").exists()
    assert json.loads(from_arrow_map(table.column("meta")[0].as_py())["hpi.bad_case_turns"]) == [3]
