"""`dedup.minhash`: planted near-duplicates removed by policy, too-short and bad input reported, and the same
survivors in-process and on Ray whatever the block count or input order."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pydantic import ValidationError

from benchmarks.corpus import corpus, dialogue_texts, mutate, row
from operators.columns import WORKING_SCHEMA
from operators.dedup.minhash import MinHashDedup, MinHashDedupConfig
from operators.registry import lookup
from tests.ray_layouts import apply_on_ray


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=WORKING_SCHEMA)


def outcome(result: pa.Table) -> dict[str, tuple]:
    columns = [result.column(name).to_pylist() for name in ("dialogue_id", "_reject_reason", "_duplicate_of", "dup_cluster_id")]
    return {uid: tuple(rest) for uid, *rest in zip(*columns, strict=True)}


def test_registered_under_its_yaml_name() -> None:
    assert lookup("dedup.minhash") is MinHashDedup


def test_near_duplicates_removed_and_survivor_chosen_by_policy() -> None:
    rng = random.Random(3)
    base = dialogue_texts(rng, "en", 6, 25)
    other = dialogue_texts(rng, "zh", 6, 25)
    rows = [
        row(0, base, "en", "synthesis", 0.99),
        row(1, mutate(random.Random(1), base, "en", 0.02), "en", "extraction", 0.2),
        row(2, mutate(random.Random(2), base, "en", 0.02), "en", "extraction", 0.7),
        row(3, other, "zh", "synthesis"),
        row(4, mutate(random.Random(4), other, "zh", 0.02), "zh", "synthesis"),
        row(5, dialogue_texts(rng, "en", 6, 25), "en", "synthesis"),
    ]
    result = outcome(MinHashDedup()(table(rows)))
    ids = [r["dialogue_id"] for r in rows]
    # Extraction beats synthesis; the higher quality of the two extractions survives.
    assert result[ids[2]] == (None, None, result[ids[2]][2])
    assert result[ids[0]][:2] == ("near_duplicate", ids[2]) and result[ids[1]][:2] == ("near_duplicate", ids[2])
    assert result[ids[0]][2] == result[ids[1]][2] == result[ids[2]][2] and result[ids[2]][2].startswith("m_")
    # zh by characters: equal sources and no quality, so the smaller id survives.
    survivor, removed = sorted(ids[3:5])
    assert result[survivor] == (None, None, result[survivor][2]) and result[removed][:2] == ("near_duplicate", survivor)
    assert result[ids[5]] == (None, None, None)


def test_too_short_dialogues_are_deduplicated_exactly_and_reported() -> None:
    rows = [
        row(0, ["Hi!", "Hello."], "en"),
        row(1, ["hi", "HELLO"], "en"),  # equal once normalised
        row(2, ["hi", "bye"], "en"),
        row(3, ["...", "!!"], "en"),  # no tokens at all: nothing to compare, never clustered
        row(4, ["?", "—"], "en"),
    ]
    operator = MinHashDedup(MinHashDedupConfig(word_ngram=3))
    result = outcome(operator(table(rows)))
    ids = sorted([rows[0]["dialogue_id"], rows[1]["dialogue_id"]])
    assert result[ids[1]][:2] == ("near_duplicate", ids[0])
    assert result[rows[2]["dialogue_id"]] == (None, None, None)
    assert result[rows[3]["dialogue_id"]] == result[rows[4]["dialogue_id"]] == (None, None, None)
    report = operator.report
    assert (report.too_short_for_shingle, report.without_tokens, report.removed_too_short) == (3, 2, 1)


def test_bad_input_gives_reasons_not_crashes() -> None:
    rng = random.Random(5)
    huge = dialogue_texts(rng, "en", 2, 3000)
    rows = [
        row(0, ["hello\x00 there my\x00 friend", "nul\x00bytes are \x00 noise"], "en"),
        row(1, ["hello there my friend", "nul bytes are noise"], "en"),
        row(2, huge, "en"),
        row(3, [huge[0], huge[1] + " extra words at the end"], "en"),
        row(4, [], "en"),
    ]
    operator = MinHashDedup(MinHashDedupConfig(max_shingles=500))
    result = outcome(operator(table(rows)))
    assert result[rows[1]["dialogue_id"]][0] == "near_duplicate" or result[rows[0]["dialogue_id"]][0] == "near_duplicate"
    assert [result[rows[i]["dialogue_id"]][0] for i in (2, 3)].count("near_duplicate") == 1
    assert operator.report.capped == 2 and operator.report.without_tokens == 1


def test_config_rejects_half_set_banding() -> None:
    with pytest.raises(ValidationError, match="both `bands` and `rows`"):
        MinHashDedupConfig(bands=10)
    with pytest.raises(ValidationError, match="exceeds num_perm"):
        MinHashDedupConfig(bands=20, rows=10, num_perm=128)


def test_null_dialogue_id_is_a_clear_error() -> None:
    rows = [row(0, ["a b c d"], "en")]
    rows[0]["dialogue_id"] = None
    with pytest.raises(ValueError, match="dialogue_id is null in row 0"):
        MinHashDedup()(table(rows))


def test_same_survivors_on_ray_for_any_blocks_and_order(ray_cluster) -> None:
    data = corpus(240, seed=11, duplicate_rate=0.3)
    operator = MinHashDedup(MinHashDedupConfig(num_partitions=3))
    expected = outcome(operator(data))
    assert sum(1 for r in expected.values() if r[0] == "near_duplicate") > 25
    # Two layouts (Ray stages cost seconds each on 2 cores): many small blocks, and a few uneven ones.
    for blocks, seed in ((11, 1), (3, 2)):
        result = apply_on_ray(operator, data, blocks, seed)
        assert result.num_rows == data.num_rows
        assert outcome(result) == expected
    assert pc.sum(pc.is_valid(result.column("_reject_detail"))).as_py() == sum(1 for r in expected.values() if r[0])


def test_slicing_does_not_change_survivors() -> None:
    data = corpus(300, seed=5, duplicate_rate=0.3)
    whole = outcome(MinHashDedup(MinHashDedupConfig(rows_per_slice=10_000))(data))
    assert outcome(MinHashDedup(MinHashDedupConfig(rows_per_slice=37))(data)) == whole
