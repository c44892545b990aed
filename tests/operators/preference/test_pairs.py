"""preference.pairs: collection from side tables and judge ranking, dedup, validation, TRL format, real runs."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from operators.preference.pairs import PairsConfig, validate_pairs
from operators.preference.trl_format import read_pairs, trl_record, write_trl_jsonl
from pipelines.execute import run_pipeline
from pipelines.spec import pipeline_from_dict
from schemas.arrow import to_arrow_row
from schemas.records import Character
from tests.operators.ingest.harness import write_jsonl
from tests.operators.ingest.test_hpi import SESSION

CHARACTER = to_arrow_row(Character(name="Mara", category="fictional", profile_text="Mara keeps the lighthouse."))
CONTEXT = [{"role": "user", "speaker": "User", "text": "Who are you?", "spans": None, "author_id": None}]


def pair(pair_id: str, chosen: str, rejected: str, source: str = "hpi_rewrite", margin: float | None = None, **extra) -> dict:
    return {
        "pair_id": pair_id,
        "dialogue_id": "d1",
        "character_id": "c1",
        "character": CHARACTER,
        "user_role": None,
        "scenario": "chit_chat",
        "language": "en",
        "context": CONTEXT,
        "chosen": {"speaker": "Mara", "text": chosen},
        "rejected": {"speaker": "Mara", "text": rejected},
        "pair_source": source,
        "margin": margin,
        "split": None,
        "source_ref": None,
        "pipeline_run_id": None,
        **extra,
    }


def test_validation_rules_each_give_their_reason() -> None:
    pairs = [
        pair("p1", "The keeper of this light.", "As an AI, I cannot say."),
        pair("p2", "  ", "Hello."),
        pair("p3", "Hello  there", "hello there"),
        pair("p4", "Hi.", "Hello.") | {"rejected": {"speaker": "Theo", "text": "Hello."}},
        pair("p5", "Better.", "Worse.", source="judge_ranked", margin=-0.5),
        pair("p6", "Better!", "Worse!", source="judge_ranked", margin=0.5),
        pair("p7", "Fine.", "Bad.", scenario="karaoke"),
    ]
    valid, rejects = validate_pairs(pairs, PairsConfig(min_margin=1.0), {"c1": "train"}, None, "run-1")
    assert [p["pair_id"] for p in valid] == ["p1"]
    assert valid[0]["split"] == "train" and valid[0]["pipeline_run_id"] == "run-1"
    reasons = {json.loads(r["record"])["pair_id"]: r["reason"] for r in rejects}
    assert reasons == {"p2": "empty_reply", "p3": "same_reply", "p4": "speaker_mismatch", "p5": "not_preferred", "p6": "small_margin", "p7": "invalid_pair"}
    assert all(r["operator"] == "preference.pairs" and r["detail"].startswith(f"pair {json.loads(r['record'])['pair_id']}") for r in rejects)


def test_duplicates_keep_the_higher_priority_source_and_contradictions_drop_both() -> None:
    pairs = [
        pair("p_refine", "The keeper of this light.", "As an AI, I cannot say.", source="self_refine"),
        pair("p_human", "the keeper of this light.", "As an AI,  I cannot say.", source="hpi_rewrite"),
        pair("p_human", "the keeper of this light.", "As an AI,  I cannot say.", source="hpi_rewrite"),  # a retried write
        pair("q1", "Tea?", "Coffee?"),
        pair("q2", "Coffee?", "Tea?", source="self_refine"),
        pair("q3", "Tea?", "Coffee?", source="judge_ranked", margin=2.0),
    ]
    valid, rejects = validate_pairs(pairs, PairsConfig(), {}, None, "r")
    assert [p["pair_id"] for p in valid] == ["p_human"]
    by_id = {json.loads(r["record"])["pair_id"]: r for r in rejects}
    assert by_id["p_refine"]["reason"] == "duplicate" and by_id["p_refine"]["duplicate_of"] == "p_human"
    assert {by_id[i]["reason"] for i in ("q1", "q2", "q3")} == {"contradictory"}
    assert len(rejects) == 4


def test_live_dialogue_requirement() -> None:
    valid, rejects = validate_pairs([pair("p1", "A.", "B.")], PairsConfig(require_live_dialogue=True), {}, {"d2"}, "r")
    assert not valid and rejects[0]["reason"] == "dialogue_rejected"


def test_trl_conversational_format(tmp_path: Path) -> None:
    record = trl_record(pair("p1", "The keeper.", "An AI.", user_role="a sailor") | {"context": CONTEXT + [{"role": "character", "speaker": "Mara", "text": "Hm?"}, {"role": "user", "speaker": "User", "text": "Who?"}]})
    assert record["prompt"][0] == {"role": "system", "content": "Mara keeps the lighthouse.\n\nYou are talking to: a sailor"}
    assert [m["role"] for m in record["prompt"][1:]] == ["user", "assistant", "user"]
    assert record["chosen"] == [{"role": "assistant", "content": "The keeper."}] and record["rejected"] == [{"role": "assistant", "content": "An AI."}]


def _hpi_sessions() -> list[dict]:
    def sample(session_id: str, reply: str, rating: float) -> dict:
        return {"id": session_id, "model": "proto", "character": {"name": "项羽", "category": "celebrity"}, "scenario": "interview", "language": "zh",
                "rating_scale": [1, 5], "turns": [{"role": "user", "text": "你是谁？"}, {"role": "character", "text": reply, "rating": rating}]}

    return [
        SESSION,
        {**SESSION, "id": "h1-again"},  # the same rewrite logged twice: one pair survives
        sample("n1", "吾乃西楚霸王项羽！", 5),
        sample("n2", "我是一个语言模型。", 2),
        sample("n3", "项籍，字羽。", 4.5),
    ]


@pytest.mark.parametrize("executor", ["inprocess", "ray"])
def test_pipeline_collects_ranks_validates_and_exports(tmp_path: Path, executor: str, request: pytest.FixtureRequest) -> None:
    if executor == "ray":
        request.getfixturevalue("ray_cluster")
    logs = write_jsonl(tmp_path / "hpi.jsonl", _hpi_sessions())
    spec = {
        "name": "pairs",
        "sources": [{"op": "read.hpi", "paths": [str(logs)]}],
        "operators": [{"op": "preference.hpi_rewrite"}, {"op": "split.by_character"}, {"op": "preference.pairs", "min_margin": 1.0}],
    }
    manifest = run_pipeline(pipeline_from_dict(spec, "pairs.yaml", tmp_path), tmp_path / "out", executor=executor, log=lambda _: None, report=False)
    assert manifest.ledger.balanced and manifest.ledger.output == 5
    pairs = pq.read_table(tmp_path / "out" / "pairs").to_pylist()
    assert sorted((p["pair_source"], p["chosen"]["text"], p["rejected"]["text"]) for p in pairs) == [
        ("hpi_rewrite", "后悔？大丈夫何悔之有！", "作为一个AI助手，我没有感情。"),
        ("judge_ranked", "吾乃西楚霸王项羽！", "我是一个语言模型。"),
    ]
    ranked = next(p for p in pairs if p["pair_source"] == "judge_ranked")
    assert ranked["margin"] == 3.0 and [t["text"] for t in ranked["context"]] == ["你是谁？"] and ranked["split"] is not None
    assert "by human:hpi" in ranked["source_ref"]
    rejects = pq.read_table(tmp_path / "out" / "pair_rejects").to_pylist()
    assert sorted(r["reason"] for r in rejects) == ["duplicate", "small_margin"]
    assert {s for s in manifest.shards} >= {"pairs", "pair_rejects"}

    out = tmp_path / "dpo.jsonl"
    assert write_trl_jsonl(read_pairs(tmp_path / "out", split=None), out) == 2
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert set(first) == {"prompt", "chosen", "rejected"} and first["prompt"][0]["role"] == "system"
