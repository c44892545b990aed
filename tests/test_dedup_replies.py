"""`dedup.replies`: planted reused character replies found in zh and en, owners chosen by policy, short replies
never counted, flag vs reject, bad input, and the same verdicts from `__call__`, the spilled stream, Ray and a
pipeline run."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from benchmarks.corpus import as_corpus, dialogue_texts, reply_reuse_corpus, row
from operators.base import Blocks, Spill
from operators.columns import WORKING_SCHEMA
from operators.dedup.replies import ReplyDedup, ReplyDedupConfig
from operators.dedup.shingles import normalize
from operators.registry import lookup
from pipelines.execute import run_pipeline
from pipelines.spec import pipeline_from_dict
from pipelines.spill import SpilledBlocks
from tests.ray_layouts import apply_on_ray

COLUMNS = ("reply_reused_count", "reply_reused_frac", "reply_reused_of", "_reject_reason", "_duplicate_of")


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=WORKING_SCHEMA)


def outcome(result: pa.Table) -> dict[str, tuple]:
    columns = [result.column(name).to_pylist() for name in ("dialogue_id", *COLUMNS)]
    return {uid: tuple(rest) for uid, *rest in zip(*columns, strict=True)}


def dialogue(index: int, replies: list[str], language: str, source: str = "synthesis", overall: float | None = None) -> dict:
    """A dialogue whose character turns say `replies` (user turns are fresh random text)."""
    rng = random.Random(1000 + index)
    users = dialogue_texts(rng, language, len(replies), 6)
    texts = [text for pair in zip(users, replies, strict=True) for text in pair]
    return row(index, texts, language, source, overall)


def fresh(language: str, count: int, seed: int) -> list[str]:
    return dialogue_texts(random.Random(seed), language, count, 12)


def test_registered_under_its_yaml_name() -> None:
    assert lookup("dedup.replies") is ReplyDedup


@pytest.mark.parametrize("language", ["en", "zh"])
def test_planted_reuse_is_found_across_dialogues(language: str) -> None:
    stock = fresh(language, 3, 7)
    variant = stock[0].upper() if language == "en" else stock[0][:-1] + "！！"  # equal once normalised
    rows = [
        dialogue(0, stock + fresh(language, 1, 10), language, overall=0.9),  # the best: owns the stock replies
        dialogue(1, [variant, stock[1]] + fresh(language, 2, 11), language, overall=0.5),  # 2 of 4 reused: rejected
        dialogue(2, [stock[2]] + fresh(language, 3, 12), language, overall=0.4),  # 1 of 4: flagged, kept
        dialogue(3, fresh(language, 4, 13), language, overall=0.3),
    ]
    result = outcome(ReplyDedup()(table(rows)))
    ids = [r["dialogue_id"] for r in rows]
    assert result[ids[0]] == (0, 0.0, None, None, None)
    assert result[ids[1]] == (2, 0.5, ids[0], "reused_replies", ids[0])
    assert result[ids[2]] == (1, 0.25, ids[0], None, None)
    assert result[ids[3]] == (0, 0.0, None, None, None)


def test_detail_names_the_count_and_an_owner() -> None:
    stock = fresh("en", 2, 3)
    rows = [dialogue(0, stock, "en", overall=0.9), dialogue(1, stock + fresh("en", 1, 4), "en")]
    result = ReplyDedup()(table(rows))
    detail = result.column("_reject_detail").to_pylist()[1]
    assert detail.startswith("2 of 3 character replies (67%) reused") and rows[0]["dialogue_id"] in detail


def test_owner_is_chosen_by_source_priority_then_quality_then_id() -> None:
    stock = fresh("en", 2, 5)
    rows = [
        dialogue(0, stock, "en", "synthesis", 0.99),
        dialogue(1, stock, "en", "human_roleplay", 0.2),
        dialogue(2, stock, "en", "human_roleplay", 0.6),  # human beats synthesis, then higher quality wins
        dialogue(3, stock, "en", "human_roleplay", None),
    ]
    result = outcome(ReplyDedup()(table(rows)))
    ids = [r["dialogue_id"] for r in rows]
    assert result[ids[2]][3] is None and all(result[ids[i]][3:] == ("reused_replies", ids[2]) for i in (0, 1, 3))
    # Equal source and quality: the smallest id owns, whatever the input order.
    same = [dialogue(i, stock, "zh" if i % 2 else "en", "import", 0.5) for i in range(10, 14)]
    for order in ([0, 1, 2, 3], [3, 1, 0, 2]):
        result = outcome(ReplyDedup()(table([same[i] for i in order])))
        owner = min(r["dialogue_id"] for r in same)
        assert [uid for uid, r in result.items() if r[3] is None] == [owner]
    # A custom priority puts synthesis first.
    result = outcome(ReplyDedup(ReplyDedupConfig(source_priority=["synthesis", "human_roleplay"]))(table(rows)))
    assert result[ids[0]][3] is None and result[ids[2]][3:] == ("reused_replies", ids[0])


def test_short_replies_are_never_counted() -> None:
    short = ["Yes.", "嗯嗯", "好的，没问题。", "OK, sure thing!"]  # at most 11 normalised characters
    rows = [dialogue(i, short, "zh" if i % 2 else "en", overall=i / 10) for i in range(4)]
    result = outcome(ReplyDedup()(table(rows)))
    assert all(r == (0, 0.0, None, None, None) for r in result.values())
    # The threshold counts normalised characters, spaces not included: 12 counts, 11 does not.
    twelve, eleven = "Abc def ghi jkl!", "abc def ghi jk"
    rows = [dialogue(i, [twelve, twelve.upper(), eleven, eleven], "en", overall=1 - i / 10) for i in range(2)]
    result = outcome(ReplyDedup()(table(rows)))
    assert result[rows[1]["dialogue_id"]][:2] == (2, 0.5)
    result = outcome(ReplyDedup(ReplyDedupConfig(min_chars=11))(table(rows)))
    assert result[rows[1]["dialogue_id"]][:2] == (4, 1.0)


def test_flag_writes_scores_only_and_a_rejected_dialogue_owns_nothing() -> None:
    x, y = fresh("en", 2, 20), fresh("en", 2, 21)
    rows = [
        dialogue(0, x + fresh("en", 2, 22), "en", overall=0.9),
        dialogue(1, x + y, "en", overall=0.8),  # reuses x (2 of 4): rejected, so it does not own y
        dialogue(2, y + fresh("en", 2, 23), "en", overall=0.7),  # the best kept user of y: its owner
    ]
    ids = [r["dialogue_id"] for r in rows]
    rejected = outcome(ReplyDedup()(table(rows)))
    assert rejected[ids[1]] == (2, 0.5, ids[0], "reused_replies", ids[0])
    assert rejected[ids[2]] == (0, 0.0, None, None, None)
    flagged = outcome(ReplyDedup(ReplyDedupConfig(action="flag"))(table(rows)))
    assert flagged[ids[1]] == (2, 0.5, ids[0], None, None)
    assert flagged[ids[2]] == (2, 0.5, ids[1], None, None)  # dialogue 1 is kept when flagging: it owns y


def test_keep_per_reply_and_thresholds() -> None:
    stock = fresh("zh", 2, 30)
    rows = [dialogue(i, stock + fresh("zh", 2, 31 + i), "zh", overall=1 - i / 10) for i in range(4)]
    ids = [r["dialogue_id"] for r in rows]
    result = outcome(ReplyDedup(ReplyDedupConfig(keep_per_reply=2))(table(rows)))
    assert [result[uid][3] for uid in ids] == [None, None, "reused_replies", "reused_replies"]
    assert result[ids[2]][4] == ids[0]  # two replies shared with each owner: the better-ranked one is named
    assert all(r[3] is None for r in outcome(ReplyDedup(ReplyDedupConfig(min_reused=3))(table(rows))).values())
    assert all(r[3] is None for r in outcome(ReplyDedup(ReplyDedupConfig(min_reused_frac=0.6))(table(rows))).values())


def test_bad_input_does_not_crash() -> None:
    stock = fresh("en", 2, 40)
    rows = [
        dialogue(0, stock, "en", overall=0.9),
        dialogue(1, [stock[0].replace(" ", " \x00"), stock[1] + "\x00"], "en"),  # NUL bytes are noise
        dialogue(2, stock, "en"),
        row(3, [], "en"),  # no turns
        row(4, ["only the user speaks here"], "en"),  # no character turns
        dialogue(5, ["...", "!!"], "en"),  # nothing left once normalised
    ]
    rows[2]["turns"][1]["text"] = None  # a null text: the turn counts, its text does not
    rows[2]["turns"][3]["role"] = None
    no_turns = dict(row(6, ["x"], "en"), turns=None)
    result = outcome(ReplyDedup()(table([*rows, no_turns])))
    ids = [r["dialogue_id"] for r in rows]
    assert result[ids[1]] == (2, 1.0, ids[0], "reused_replies", ids[0])
    assert result[ids[2]] == (0, 0.0, None, None, None)  # one character turn left, and its text is null
    assert all(result[uid] == (0, 0.0, None, None, None) for uid in (*ids[3:], no_turns["dialogue_id"]))
    assert ReplyDedup()(table(rows[:0])).num_rows == 0


def test_null_dialogue_id_is_a_clear_error() -> None:
    rows = [dict(row(0, ["a", "b c d e f g h i j k l m"], "en"), dialogue_id=None)]
    with pytest.raises(ValueError, match="dedup.replies: dialogue_id is null in row 0"):
        ReplyDedup()(table(rows))


def test_config_rejects_unknown_sources() -> None:
    with pytest.raises(ValidationError, match="unknown sources"):
        ReplyDedupConfig(source_priority=["novels"])


def reference(data: pa.Table, config: ReplyDedupConfig) -> dict[str, tuple]:
    """The policy written plainly: Python dicts of normalised texts, dialogues sorted by a key tuple."""
    priority = {source: rank for rank, source in enumerate(config.source_priority)}
    said: dict[str, Counter[str]] = {}
    character_turns: dict[str, int] = {}
    rows = data.to_pylist()
    for r in rows:
        texts = [t["text"] or "" for t in r["turns"] or [] if t["role"] == "character"]
        character_turns[r["dialogue_id"]] = len(texts)
        normal = normalize(pa.array(texts, pa.string())).to_pylist()
        said[r["dialogue_id"]] = Counter(text for text in normal if len(text.replace(" ", "")) >= config.min_chars)

    def rank(r: dict) -> tuple:
        overall = (r["quality"] or {}).get("overall")
        return (priority.get(r["source"], len(priority)), -overall if overall is not None else math.inf, r["dialogue_id"])

    ranked = sorted(rows, key=rank)
    position = {r["dialogue_id"]: i for i, r in enumerate(ranked)}
    owners: dict[str, list[str]] = defaultdict(list)
    result = {}
    for r in ranked:
        uid = r["dialogue_id"]
        reused = sum(n for text, n in said[uid].items() if len(owners[text]) >= config.keep_per_reply)
        shared = Counter(o for text in said[uid] if len(owners[text]) >= config.keep_per_reply for o in owners[text])
        frac = reused / character_turns[uid] if reused else 0.0
        rejected = config.action == "reject" and reused >= config.min_reused and frac >= config.min_reused_frac
        of = min(shared, key=lambda o: (-shared[o], position[o])) if shared else None
        if not rejected:
            for text in said[uid]:
                if len(owners[text]) < config.keep_per_reply:
                    owners[text].append(uid)
        frac32 = pa.array([frac], pa.float32())[0].as_py()
        result[uid] = (reused, frac32, of, "reused_replies" if rejected else None, of if rejected else None)
    return result


@pytest.mark.parametrize(
    "config",
    [
        ReplyDedupConfig(),
        ReplyDedupConfig(keep_per_reply=2, min_reused=1, min_reused_frac=0.3),
        ReplyDedupConfig(keep_per_reply=3, min_reused=1, min_reused_frac=0.2, action="flag"),
    ],
)
def test_equals_a_plain_python_reference(config: ReplyDedupConfig) -> None:
    data = reply_reuse_corpus(300, seed=2, stock=30)
    result = outcome(ReplyDedup(config)(data))
    assert sum(1 for r in result.values() if r[3 if config.action == "reject" else 0]) > 20
    assert result == reference(data, config)


def spill_into(folder: Path) -> Spill:
    def spill(name: str, tables: Iterable[pa.Table]) -> Blocks:
        return SpilledBlocks(folder / f"{name}.arrow").extend(tables)

    return spill


@pytest.mark.parametrize("size", [17, 400])
def test_stream_over_spilled_blocks_equals_the_whole_table(tmp_path: Path, size: int) -> None:
    data = reply_reuse_corpus(400, seed=3, stock=40)
    expected = outcome(ReplyDedup()(data))
    assert sum(1 for r in expected.values() if r[3]) > 30
    store = SpilledBlocks(tmp_path / "in.arrow").extend(data.slice(start, size) for start in range(0, data.num_rows, size))
    out = list(ReplyDedup().stream(store, spill_into(tmp_path)))
    assert [b.num_rows for b in out] == [b.num_rows for b in store]  # marked block by block
    assert outcome(pa.concat_tables(out)) == expected
    order = list(range(data.num_rows))
    random.Random(4).shuffle(order)
    assert outcome(ReplyDedup(ReplyDedupConfig(rows_per_slice=33))(data.take(pa.array(order)))) == expected


def test_same_verdicts_on_ray_for_any_blocks_and_order(ray_cluster) -> None:
    data = reply_reuse_corpus(300, seed=5, stock=30)
    operator = ReplyDedup(ReplyDedupConfig(num_partitions=3))
    expected = outcome(operator(data))
    assert sum(1 for r in expected.values() if r[3]) > 20
    for blocks, seed in ((9, 1), (2, 2)):  # many small blocks, a few big ones (each Ray stage costs seconds)
        result = apply_on_ray(operator, data, blocks, seed)
        assert result.num_rows == data.num_rows and outcome(result) == expected


def test_inprocess_pipeline_run_with_the_step(tmp_path: Path) -> None:
    data = reply_reuse_corpus(150, seed=6, stock=20)
    source = tmp_path / "in.parquet"
    pq.write_table(as_corpus(data, "x"), source)
    spec = {
        "name": "replies",
        "sources": [{"op": "read.parquet", "paths": [str(source)]}],
        "operators": [{"op": "dedup.exact"}, {"op": "dedup.replies"}],
        "execution": {"rows_per_block": 16},
        "output": {"rows_per_shard": 40},
    }
    manifest = run_pipeline(
        pipeline_from_dict(spec, "test", tmp_path), tmp_path / "out", executor="inprocess", log=lambda m: None, report=False
    )
    ledger = {step.operator: step for step in manifest.ledger.operators}
    assert manifest.ledger.input == 150 and manifest.ledger.balanced and ledger["dedup.replies"].rejected > 5
    assert not list((tmp_path / "out").rglob("*.arrow"))
    kept = ReplyDedup()(data)
    corpus = pq.read_table(tmp_path / "out" / "corpus", columns=["dialogue_id", "reply_reused_count", "reply_reused_frac"])
    live = kept.filter(pc.is_null(kept.column("_reject_reason")))
    assert sorted(corpus.column("dialogue_id").to_pylist()) == sorted(live.column("dialogue_id").to_pylist())
    assert pc.sum(corpus.column("reply_reused_count")).as_py() == pc.sum(live.column("reply_reused_count")).as_py() > 0
    rejects = pq.read_table(tmp_path / "out" / "rejects").filter(pc.equal(pc.field("operator"), "dedup.replies"))
    assert set(rejects.column("reason").to_pylist()) == {"reused_replies"} and rejects.column("duplicate_of").null_count == 0
