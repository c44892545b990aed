"""`extract novel` / `extract script`: Parquet outputs with the project's Arrow schemas."""

from __future__ import annotations

import pyarrow.parquet as pq
from typer.testing import CliRunner

from jobs.cli_extract import app
from schemas.extraction import QUOTES_SCHEMA
from schemas.tables import DIALOGUE_SCHEMA, REJECT_SCHEMA

runner = CliRunner()
BOOK = '"Where were you?" asked Anna.\n\n"At the mill," said Tom.\n\n"All day?"\n\n"All day, Anna."\n'


def test_extract_novel_writes_corpus_quotes_and_rejects(tmp_path):
    book = tmp_path / "book.txt"
    book.write_text(BOOK, encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    cast = tmp_path / "cast.csv"
    cast.write_text("name,aliases,gender\nAnna Reed,Anna,F\nTom Hale,Tom,M\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["novel", str(book), str(empty), "--cast", str(cast), "--out", str(out), "--min-lines", "1"])
    assert result.exit_code == 0, result.output
    corpus = pq.read_table(out / "corpus" / "part-00000.parquet")
    assert corpus.schema.equals(DIALOGUE_SCHEMA, check_metadata=False)
    assert sorted(corpus.column("character").to_pylist(), key=lambda c: c["name"])[0]["name"] == "Anna Reed"
    quotes = pq.read_table(out / "quotes" / "part-00000.parquet")
    assert quotes.schema.equals(QUOTES_SCHEMA, check_metadata=False)
    assert quotes.column("speaker").to_pylist() == ["Anna Reed", "Tom Hale", "Anna Reed", "Tom Hale"]
    rejects = pq.read_table(out / "rejects" / "part-00000.parquet")
    assert rejects.schema.equals(REJECT_SCHEMA, check_metadata=False)
    assert rejects.column("reason").to_pylist() == ["empty_file"] and rejects.column("input_file").to_pylist() == [str(empty)]


def test_extract_script_fountain(tmp_path):
    script = tmp_path / "scene.fountain"
    script.write_text("INT. KITCHEN - NIGHT\n\nANNA\nDid you hear that?\n\nTOM\nHear what?\n\nANNA\nNothing.\n", encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["script", str(tmp_path), "--format", "fountain", "--out", str(out), "--min-lines", "1"])
    assert result.exit_code == 0, result.output
    corpus = pq.read_table(out / "corpus" / "part-00000.parquet").to_pylist()
    assert {row["character"]["name"] for row in corpus} == {"Anna", "Tom"}
    assert all(row["source"] == "extraction" for row in corpus)


def test_bad_option_is_a_usage_error(tmp_path):
    result = runner.invoke(app, ["novel", str(tmp_path), "--lang", "fr", "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "language" in result.output
