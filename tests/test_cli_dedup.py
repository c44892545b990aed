"""`chardial dedup`: run layout, ledger, rejects with duplicate_of, clear errors; Parquet and native JSONL in."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from typer.testing import CliRunner

from benchmarks.corpus import as_corpus, corpus
from jobs.cli_dedup import app
from schemas import DIALOGUE_SCHEMA, REJECT_SCHEMA

runner = CliRunner(env={"COLUMNS": "300", "TERMINAL_WIDTH": "300"})  # no wrapping of error boxes


def inputs(folder: Path) -> Path:
    folder.mkdir()
    data = corpus(200, seed=4, duplicate_rate=0.3)
    pq.write_table(as_corpus(data, "gen"), folder / "dialogues.parquet")
    with open(folder / "more.jsonl", "w", encoding="utf-8") as handle:
        for i, row in enumerate(data.slice(0, 3).to_pylist()):  # exact copies of Parquet rows
            turns = [{"role": t["role"], "text": t["text"]} for t in row["turns"]]
            record = {"id": f"j{i}", "character": row["character"] | {"attributes": None, "styles": None}, "scenario": row["scenario"]}
            handle.write(
                json.dumps(record | {"language": row["language"], "source": row["source"], "turns": turns}, ensure_ascii=False) + "\n"
            )
        handle.write("{broken\n")
    return folder


def test_dedup_writes_a_balanced_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, [str(inputs(tmp_path / "in")), "--out", str(out), "--threshold", "0.8"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    ledger = manifest["ledger"]
    assert ledger["balanced"] and ledger["input"] == 204 == ledger["output"] + ledger["rejected"]
    steps = {entry["operator"]: entry for entry in ledger["operators"]}
    assert steps["read.jsonl"]["by_reason"] == {"invalid_json": 1}
    assert steps["dedup.exact"]["rejected"] >= 3 and steps["dedup.minhash"]["by_reason"]["near_duplicate"] > 10
    kept = pq.read_table(out / "corpus")
    rejects = pq.read_table(out / "rejects")
    assert kept.schema.equals(DIALOGUE_SCHEMA, check_metadata=False) and rejects.schema.equals(REJECT_SCHEMA, check_metadata=False)
    near = rejects.filter(pc.equal(rejects.column("reason"), "near_duplicate"))
    assert set(near.column("duplicate_of").to_pylist()) <= set(kept.column("dialogue_id").to_pylist())
    assert set(near.column("operator").to_pylist()) == {"dedup.minhash"}
    assert len(near) == steps["dedup.minhash"]["rejected"]
    assert not list(tmp_path.glob(".out.staging-*"))
    # A run's output is valid input (its corpus/ is read): deduplicating it again removes nothing.
    again = runner.invoke(app, [str(out), "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output
    second = json.loads((tmp_path / "again" / "manifest.json").read_text())["ledger"]
    assert second["input"] == ledger["output"] and second["rejected"] == 0


def test_clear_errors_and_help(tmp_path: Path) -> None:
    assert "--threshold" in runner.invoke(app, ["--help"]).output
    missing = runner.invoke(app, [str(tmp_path / "nothing"), "--out", str(tmp_path / "o")])
    assert missing.exit_code != 0 and "no such file or folder" in missing.output
    first = runner.invoke(app, [str(inputs(tmp_path / "in")), "--out", str(tmp_path / "exists")])
    assert first.exit_code == 0, first.output
    taken = runner.invoke(app, [str(tmp_path / "in"), "--out", str(tmp_path / "exists")])
    assert taken.exit_code != 0 and "--overwrite" in taken.output
