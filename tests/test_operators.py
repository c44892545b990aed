"""The first operators, in-process on Arrow tables: reader, normalizer, length filter, exact dedup, split."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from operators.columns import DUPLICATE_OF, REJECT_DETAIL, REJECT_OPERATOR, REJECT_REASON, WORKING_SCHEMA, conform, working_schema
from operators.registry import all_operators, lookup
from operators.transforms.split import split_of
from pipelines.steps import OperatorContractError, run_step


def record(id: str, turns: list[tuple[str, str]], name: str = "Lin", source: str = "import", **extra) -> dict:
    return {
        "id": id,
        "character": {"name": name, "category": "daily_life"},
        "scenario": "chit_chat",
        "language": "en",
        "source": source,
        "turns": [{"role": r, "text": t} for r, t in turns],
        **extra,
    }


def read(tmp_path, lines: list[str]) -> pa.Table:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    reader = lookup("read.jsonl")(lookup("read.jsonl").Config(paths=[str(path)]))
    return pa.concat_tables(reader.read(str(path), 2))


def apply(name: str, table: pa.Table, **config) -> pa.Table:
    cls = lookup(name)
    schema = working_schema(cls.new_fields)  # as the runner builds it: the operator's score columns included
    return run_step(cls(cls.Config(**config)), conform(table, schema), schema)


GOOD = [("user", "Hello there"), ("character", "Hi! Lovely day.")]


def test_registry_lists_the_quickstart_operators():
    assert {"read.jsonl", "normalize.text", "filters.length", "dedup.exact", "split.by_character"} <= set(all_operators())
    with pytest.raises(KeyError, match="unknown operator 'nope'"):
        lookup("nope")


def test_reader_fills_speakers_and_derives_stable_ids(tmp_path):
    table = read(tmp_path, [json.dumps(record("a", GOOD, user_role="a neighbour"))])
    row = table.to_pylist()[0]
    assert row[REJECT_REASON] is None
    assert [t["speaker"] for t in row["turns"]] == ["a neighbour", "Lin"]
    assert row["dialogue_id"].startswith("d_") and row["character_id"].startswith("c_")
    assert row["source_ref"].endswith("in.jsonl:1")
    again = read(tmp_path, [json.dumps(record("a", GOOD, user_role="a neighbour"))]).to_pylist()[0]
    assert (again["dialogue_id"], again["character_id"]) == (row["dialogue_id"], row["character_id"])


def test_reader_turns_every_bad_line_into_a_reject_naming_file_and_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = json.dumps(record("ok", GOOD)).encode()
    missing = json.dumps({"id": "m", "scenario": "chit_chat", "language": "en", "turns": []}).encode()
    wrong_type = json.dumps(record("w", GOOD) | {"turns": "hello"}).encode()
    path.write_bytes(b"\n".join([good, b"{not json", missing, wrong_type, b"\xff\xfe bad utf8", b"", b"42", good]) + b"\n")
    reader = lookup("read.jsonl")(lookup("read.jsonl").Config(paths=[str(path)]))
    rows = pa.concat_tables(reader.read(str(path), 3)).to_pylist()
    assert len(rows) == 8  # one row per line
    reasons = [(r["_input_line"], r[REJECT_REASON]) for r in rows]
    assert reasons == [
        (1, None), (2, "invalid_json"), (3, "invalid_record"), (4, "invalid_record"),
        (5, "invalid_utf8"), (6, "blank_line"), (7, "not_an_object"), (8, None),
    ]
    details = {r["_input_line"]: r[REJECT_DETAIL] for r in rows}
    assert details[3].startswith(f"{path}:3: character: Field required")
    assert "turns: Field required" not in details[3] and "turns: List should have at least 1 item" in details[3]
    assert f"{path}:4: turns: Input should be a valid list" in details[4]
    assert "at byte 0" in details[5]
    assert all(r[REJECT_OPERATOR] == "read.jsonl" for r in rows if r[REJECT_REASON])
    assert rows[1]["_raw"] == "{not json"


def test_reader_empty_file_is_one_reject(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    reader = lookup("read.jsonl")(lookup("read.jsonl").Config(paths=[str(path)]))
    rows = pa.concat_tables(reader.read(str(path), 10)).to_pylist()
    assert [(r["_input_line"], r[REJECT_REASON]) for r in rows] == [(0, "empty_file")]


def test_normalizer_cleans_text_and_keeps_cjk_punctuation(tmp_path):
    messy = [("user", "  Hello\u200b   there\r\n\r\n\r\n\r\nfriend\t!"), ("character", "你好，\u3000世界！\x07")]
    table = apply("normalize.text", read(tmp_path, [json.dumps(record("n", messy, user_role="  a  fan "))]))
    row = table.to_pylist()[0]
    assert [t["text"] for t in row["turns"]] == ["Hello there\n\nfriend !", "你好，\u3000世界！"]
    assert row["user_role"] == "a fan"


def test_length_filter_reasons(tmp_path):
    lines = [
        json.dumps(record("ok", GOOD)),
        json.dumps(record("one", [("user", "hi")])),
        json.dumps(record("users", [("user", "a"), ("user", "b")])),
        json.dumps(record("long", [("user", "a"), ("character", "x" * 50)])),
    ]
    table = apply("filters.length", read(tmp_path, lines), max_chars_per_turn=40)
    got = {r["_input_line"]: (r[REJECT_REASON], r[REJECT_OPERATOR]) for r in table.to_pylist()}
    assert got == {
        1: (None, None),
        2: ("too_few_turns", "filters.length"),
        3: ("too_few_character_turns", "filters.length"),
        4: ("turn_too_long", "filters.length"),
    }
    scores = {r["_input_line"]: (r["len_turns"], r["len_chars"], r["len_max_speaker_run"]) for r in table.to_pylist()}
    assert scores == {1: (2, 26, 1), 2: (1, 2, 1), 3: (2, 2, 2), 4: (2, 51, 1)}


def test_length_filter_turns_must_alternate(tmp_path):
    u, c = ("user", "hello there"), ("character", "hi, how are you")
    lines = [
        json.dumps(record("alternating", [u, c, u, c])),
        json.dumps(record("double_text", [u, u, c, c, c, u, c])),  # runs of 2 and 3: human chat does this
        json.dumps(record("monologue", [u, c, c, c, c, c, u])),  # 5 character turns in a row
    ]
    table = apply("filters.length", read(tmp_path, lines))
    got = {r["_input_line"]: (r[REJECT_REASON], r["len_max_speaker_run"]) for r in table.to_pylist()}
    assert got == {1: (None, 1), 2: (None, 3), 3: ("turns_do_not_alternate", 5)}
    assert "5 turns in a row by one speaker > max_speaker_run 4" in table.column(REJECT_DETAIL).to_pylist()[2]
    relaxed = apply("filters.length", read(tmp_path, lines), max_speaker_run=None)
    assert relaxed.column(REJECT_REASON).null_count == 3


def test_length_filter_multi_party_scenes_alternate():
    """Five user-side turns by three speakers (an extracted scene) alternate; five by one speaker do not."""
    from benchmarks.corpus import row

    scene = row(0, ["hello"] * 7, "en")
    speakers = ["Ann", "Lin", "Bo", "Ann", "Lin", "Bo", "Ann"]
    scene["turns"] = [{"role": "user", "speaker": s, "text": "hello there"} for s in speakers[:5]] + [
        {"role": "character", "speaker": "Lin", "text": "hi all"}
    ]
    alone = row(1, ["hello"] * 7, "en")
    alone["turns"] = [{"role": "user", "speaker": "Ann", "text": "hello there"}] * 5 + [{"role": "character", "speaker": "Lin", "text": "hi"}]
    table = apply("filters.length", pa.Table.from_pylist([scene, alone], schema=WORKING_SCHEMA))
    assert table.column("len_max_speaker_run").to_pylist() == [1, 5]
    assert table.column(REJECT_REASON).to_pylist() == [None, "turns_do_not_alternate"]


def test_exact_dedup_keeps_by_policy_not_arrival_order(tmp_path):
    variants = [("user", "HELLO there!!"), ("character", "hi,  lovely day")]
    lines = [
        json.dumps(record("syn", GOOD, source="synthesis")),
        json.dumps(record("imp", variants, source="import")),
        json.dumps(record("hum", GOOD, source="human_roleplay")),
        json.dumps(record("other", [("user", "different"), ("character", "words")], source="extraction")),
    ]
    table = apply("dedup.exact", read(tmp_path, lines))
    rows = {r["source"]: r for r in table.to_pylist() if r["dialogue_id"]}
    assert rows["extraction"][REJECT_REASON] is None
    assert rows["human_roleplay"][REJECT_REASON] is None
    survivor = rows["human_roleplay"]["dialogue_id"]
    for source in ("synthesis", "import"):
        assert rows[source][REJECT_REASON] == "duplicate"
        assert rows[source][DUPLICATE_OF] == survivor
        assert survivor in rows[source][REJECT_DETAIL]
    assert len({r["content_hash"] for r in rows.values() if r["turns"][0]["text"] != "different"}) == 1
    reversed_rows = apply("dedup.exact", read(tmp_path, list(reversed(lines)))).to_pylist()
    assert {r["dialogue_id"] for r in reversed_rows if r[REJECT_REASON] is None} == {r["dialogue_id"] for r in table.to_pylist() if r[REJECT_REASON] is None}


def test_split_is_stable_disjoint_and_follows_ratios():
    ratios = {"train": 0.8, "validation": 0.1, "test": 0.1}
    ids = [f"c_{i:05d}" for i in range(20_000)]
    first = [split_of(i, ratios, "s") for i in ids]
    assert first == [split_of(i, ratios, "s") for i in ids]
    share = {name: first.count(name) / len(ids) for name in ratios}
    for name, ratio in ratios.items():
        assert abs(share[name] - ratio) < 0.015
    assert [split_of(i, ratios, "other-salt") for i in ids] != first
    assert {split_of(i, {"train": 1.0}, "s") for i in ids} == {"train"}


def test_run_step_routes_only_live_rows_and_enforces_rows_in_equals_rows_out(tmp_path):
    table = read(tmp_path, [json.dumps(record("a", GOOD)), "{bad"])

    class Dropper:
        name = "test.dropper"

        def __call__(self, batch):
            return batch.slice(0, 0)

    with pytest.raises(OperatorContractError, match="test.dropper returned 0 rows for 1"):
        run_step(Dropper(), table, WORKING_SCHEMA)

    class Seen:
        name = "test.seen"
        rows = 0

        def __call__(self, batch):
            Seen.rows += batch.num_rows
            return batch

    out = run_step(Seen(), table, WORKING_SCHEMA)
    assert Seen.rows == 1 and out.num_rows == 2
    assert conform(out).schema == WORKING_SCHEMA


def test_run_step_only_filter_leaves_other_rows_untouched(tmp_path):
    lines = [json.dumps(record("a", [("user", "x"), ("character", "y")], source="synthesis")), json.dumps(record("b", [("user", "x")], source="import"))]
    table = read(tmp_path, lines)
    cls = lookup("filters.length")
    schema = working_schema(cls.new_fields)
    out = run_step(cls(cls.Config(min_turns=3)), conform(table, schema), schema, only={"source": ["import"]})
    got = {r["source"]: r[REJECT_REASON] for r in out.to_pylist()}
    assert got == {"synthesis": None, "import": "too_few_turns"}


@pytest.mark.parametrize("name", ["dedup.exact", "dedup.minhash", "dedup.replies"])
def test_dedup_source_priority_names_unknown_sources(name):
    cls = lookup(name)
    assert cls.Config().source_priority[0] == "human_roleplay"
    with pytest.raises(ValueError, match=r"unknown sources \['novel'\]; known: "):
        cls.Config(source_priority=["synthesis", "novel"])
