"""`read.novel`: files to working-schema rows, rejects naming the file, quotes side table."""

from __future__ import annotations

import pyarrow.parquet as pq

from operators.base import RunContext
from operators.columns import INPUT_FILE, INPUT_LINE, REJECT_DETAIL, REJECT_REASON
from operators.readers.novel import NovelConfig, NovelReader


def entries(value) -> dict:
    """A dict field read back from Arrow: map entries are (key, value) tuples, struct entries dicts."""
    return dict((e["key"], e["value"]) if isinstance(e, dict) else e for e in value)


ZH_BOOK = "第一章\n孙少平走进屋。田晓霞抬起头。\n晓霞问：“你怎么来了？”\n“想你了。”少平说。\n“真的？”\n“真的。”\n"


def read(tmp_path, data: bytes, name: str = "book.txt", **config):
    path = tmp_path / name
    path.write_bytes(data)
    staging = tmp_path / "staging"
    reader = NovelReader(NovelConfig(paths=[str(path)], min_lines=1, **config), RunContext(staging_dir=str(staging)))
    rows = [row for table in reader.read(str(path), 100) for row in table.to_pylist()]
    return rows, staging, str(path)


def test_gbk_novel_with_cast(tmp_path):
    cast = tmp_path / "cast.csv"
    cast.write_text("name,aliases,gender\n孙少平,少平,男\n田晓霞,晓霞,女\n", encoding="utf-8")
    rows, staging, path = read(tmp_path, ZH_BOOK.encode("gbk"), cast=str(cast))
    assert all(r[REJECT_REASON] is None for r in rows)
    assert {r["character"]["name"] for r in rows} == {"孙少平", "田晓霞"}
    row = next(r for r in rows if r["character"]["name"] == "孙少平")
    assert [t["role"] for t in row["turns"]] == ["user", "character", "user", "character"]
    assert row["language"] == "zh" and entries(row["meta"])["encoding"] == "gbk"
    assert row[INPUT_FILE] == path and row[INPUT_LINE] == 3
    quotes = pq.read_table(next((staging / "quotes").iterdir()))
    assert quotes.column("speaker").to_pylist() == ["田晓霞", "孙少平", "田晓霞", "孙少平"]
    assert ZH_BOOK[quotes.column("start")[0].as_py():quotes.column("end")[0].as_py()] == "你怎么来了？"


def test_unreadable_files_become_rejects(tmp_path):
    for data, reason in ((b"", "empty_file"), (b"\x00\x01\x02\x03", "binary_file"), (b"caf\xe9 au lait \xff\xfd\xfc", "undecodable")):
        rows, _, path = read(tmp_path, data)
        assert len(rows) == 1 and rows[0][REJECT_REASON] == reason
        assert path in rows[0][REJECT_DETAIL] and rows[0][INPUT_LINE] == 0


def test_bad_cast_file_is_a_reject_naming_it(tmp_path):
    cast = tmp_path / "cast.csv"
    cast.write_text("who,gender\nA,F\n", encoding="utf-8")
    rows, _, _ = read(tmp_path, ZH_BOOK.encode("utf-8"), cast=str(cast))
    assert rows[0][REJECT_REASON] == "cast_error" and str(cast) in rows[0][REJECT_DETAIL]


def test_book_without_dialogue_is_one_reject(tmp_path):
    rows, staging, _ = read(tmp_path, b"Nothing is said in this book at all.\n")
    assert [r[REJECT_REASON] for r in rows] == ["no_dialogue"]
    assert not (staging / "quotes").exists()


def test_unclosed_quote_is_logged_with_line_and_book_still_extracted(tmp_path, caplog):
    text = '"Open quote never closed, said Tom.\n\nAnna Reed left.\n\n"Hello," said Anna Reed.\n\n"Hi," said Tom Hale.\n'
    cast = tmp_path / "cast.yaml"
    cast.write_text("- {name: Anna Reed, aliases: [Anna], gender: F}\n- {name: Tom Hale, aliases: [Tom], gender: M}\n", encoding="utf-8")
    rows, _, path = read(tmp_path, text.encode("utf-8"), language="en", cast=str(cast))
    assert any(f"{path}:1: unclosed quote" in message for message in caplog.messages)
    assert any(r[REJECT_REASON] is None for r in rows)


def test_mixed_encoding_is_logged_and_the_book_extracted(tmp_path, caplog):
    cast = tmp_path / "cast.csv"
    cast.write_text("name,aliases,gender\nAnna Reed,Anna,F\nTom Hale,Tom,M\n", encoding="utf-8")
    data = b'"Hello," said Anna.\n\n"Hi there, caf\xe9x," said Tom.\n\n' + b"Narration. " * 40
    rows, _, path = read(tmp_path, data, language="en", cast=str(cast))
    assert any(f"{path}:3: invalid UTF-8 byte" in message for message in caplog.messages)
    assert {r["character"]["name"] for r in rows if r[REJECT_REASON] is None} == {"Anna Reed", "Tom Hale"}
