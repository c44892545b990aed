"""`import` / `export` commands, run in-process through typer's runner on real files."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from jobs.cli_formats import app
from operators.privacy.consent import pseudonym
from schemas.tables import DIALOGUE_SCHEMA, REJECT_SCHEMA
from tests.operators.ingest.harness import write_jsonl
from tests.operators.ingest.test_hpi import SESSION as HPI_SESSION
from tests.operators.ingest.test_sharegpt import RECORDS as SHAREGPT_RECORDS

runner = CliRunner()


def _hrp(sid: str, user: str, text: str) -> dict:
    return {"id": sid, "character": {"name": "林晓", "profile_text": "在咖啡店打工的大学生，是你的同学。"}, "scenario": "chit_chat", "language": "zh",
            "turns": [{"role": "user", "text": text, "author_id": user}, {"role": "character", "text": "好呀。", "author_id": "actor"}]}


def test_import_hrp_publishes_corpus_rejects_and_manifest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARDIAL_PSEUDONYM_SALT", "s3cret")
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join([json.dumps(_hrp("s1", "u1", "我的电话是13812345678"), ensure_ascii=False),
                              json.dumps(_hrp("s2", "u2", "别用我的记录"), ensure_ascii=False), '{"id": "s3"']), encoding="utf-8")
    opt_out = tmp_path / "optout.txt"
    opt_out.write_text("user:u2\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["import", "hrp", str(log), "--out", str(out), "--opt-out", str(opt_out)])
    assert result.exit_code == 0, result.output
    corpus = pq.read_table(out / "corpus" / "part-00000.parquet")
    assert corpus.schema.equals(DIALOGUE_SCHEMA, check_metadata=False)
    (row,) = corpus.to_pylist()
    assert row["turns"][0]["text"] == "我的电话是<PHONE>"
    assert row["turns"][0]["author_id"] == pseudonym("u1", b"s3cret")
    assert row["character"]["category"] == "daily_life" and row["pipeline_run_id"] == json.loads((out / "manifest.json").read_text())["run_id"]
    rejects = pq.read_table(out / "rejects" / "part-00000.parquet")
    assert rejects.schema.equals(REJECT_SCHEMA, check_metadata=False)
    assert sorted(r["reason"] for r in rejects.to_pylist()) == ["opted_out", "truncated_record"]
    opted = next(r for r in rejects.to_pylist() if r["reason"] == "opted_out")
    assert "别用我的记录" not in opted["record"] and opted["input_line"] == 2
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    ledger = manifest["ledger"]
    assert (ledger["input"], ledger["output"], ledger["rejected"], ledger["balanced"]) == (3, 1, 2, True)
    assert manifest["metrics"]["privacy.pii"] == {"phone": 1}
    again = runner.invoke(app, ["import", "hrp", str(log), "--out", str(out)])
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_human_logs_need_a_salt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHARDIAL_PSEUDONYM_SALT", raising=False)
    log = write_jsonl(tmp_path / "log.jsonl", [_hrp("s1", "u1", "hi")])
    result = runner.invoke(app, ["import", "hrp", str(log), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "CHARDIAL_PSEUDONYM_SALT" in result.output
    assert runner.invoke(app, ["import", "hrp", str(log), "--out", str(tmp_path / "out"), "--no-pseudonymize"]).exit_code == 0


def test_import_hpi_writes_pairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARDIAL_PSEUDONYM_SALT", "s3cret")
    log = write_jsonl(tmp_path / "hpi.jsonl", [HPI_SESSION])
    result = runner.invoke(app, ["import", "hpi", str(log), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (part,) = (tmp_path / "out" / "pairs").glob("*.parquet")
    (pair,) = pq.read_table(part).to_pylist()
    assert pair["chosen"]["text"] == "后悔？大丈夫何悔之有！" and pair["context"][0]["author_id"] == pseudonym("u1", b"s3cret")


def test_import_folder_and_export_round_trip(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    write_jsonl(folder / "a.jsonl", SHAREGPT_RECORDS[:1])
    write_jsonl(folder / "sub" / "b.jsonl", SHAREGPT_RECORDS[1:])
    (folder / "notes.txt").write_text("not a record", encoding="utf-8")
    out = tmp_path / "out"
    assert runner.invoke(app, ["import", "sharegpt", str(folder), "--out", str(out), "--no-redact-pii"]).exit_code == 0
    exported = tmp_path / "export.jsonl"
    result = runner.invoke(app, ["export", "sharegpt", str(out), "--out", str(exported)])
    assert result.exit_code == 0, result.output
    assert sorted(json.loads(line)["conversations"][0]["value"] for line in exported.read_text(encoding="utf-8").splitlines()) == sorted(
        r["conversations"][0]["value"] for r in SHAREGPT_RECORDS)
    cards = tmp_path / "cards"
    assert runner.invoke(app, ["export", "card", str(out), "--out", str(cards), "--png"]).exit_code == 0
    assert len(list(cards.glob("*.png"))) == 2


def test_bad_invocations_are_clear(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["import", "pippa", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "o")])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output
    empty_corpus = runner.invoke(app, ["export", "openai", str(tmp_path), "--out", str(tmp_path / "x.jsonl")])
    assert empty_corpus.exit_code == 2 and "no corpus Parquet files" in empty_corpus.output
    assert runner.invoke(app, ["import", "tavern", str(tmp_path), "--out", str(tmp_path / "o")]).exit_code == 2
    for command in ("import", "export"):
        assert runner.invoke(app, [command, "--help"]).exit_code == 0
