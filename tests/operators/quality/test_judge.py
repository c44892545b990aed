"""quality.judge against the loopback OpenAI-compatible server: canned scores, malformed outputs, refusals."""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa
import pytest

from operators.columns import REJECT_DETAIL, REJECT_REASON, conform
from operators.quality.judge import JudgeConfig, QualityJudge
from schemas import DIALOGUE_SCHEMA
from schemas.arrow import from_arrow_map, to_arrow_row
from schemas.records import Dialogue
from tests.llm_server import LLMServer, Reply
from tests.synthesis_author import llm_settings

GOOD_EN = "Ha! The lighthouse keeps me honest. What brings you out in this storm?"
BAD_EN = "As an AI language model, I cannot have feelings."


def dialogue(index: int, language: str, reply: str, quality: dict | None = None) -> dict[str, Any]:
    user = "你是谁？" if language == "zh" else "Who are you?"
    record = Dialogue(
        dialogue_id=f"d{index}", character_id="c1", scenario="chit_chat", language=language, source="synthesis",
        character={"name": "Mara", "category": "fictional", "profile_text": "Mara keeps the lighthouse.", "styles": {"catchphrases": ["Well, well!"]}},
        turns=[{"role": "user", "speaker": "Sailor", "text": user}, {"role": "character", "speaker": "Mara", "text": reply}],
        quality=quality, meta={"origin": "test"},
    )
    return to_arrow_row(record)


def table(*rows: dict[str, Any]) -> pa.Table:
    return conform(pa.Table.from_pylist(list(rows), schema=DIALOGUE_SCHEMA))


def scores(value: int, **extra: Any) -> str:
    return json.dumps({"rationale": "canned", **{d: value for d in ("consistency", "human_likeness", "engagement", "quality", "safety", "correctness", "overall")}, **extra})


def canned(body: dict[str, Any]) -> Reply:
    """High scores for an in-character reply, low ones (and turn 2 named as bad) for an assistant reply."""
    prompt = body["messages"][1]["content"]  # the rubric and transcript (re-asks append after it)
    if "As an AI" in prompt or "作为一个AI" in prompt:
        return Reply(content=scores(1, bad_turns=[{"turn": 2, "problem": "assistant tone"}]))
    return Reply(content=scores(5))


def judge(server: LLMServer, tmp_path, **config: Any) -> QualityJudge:
    llm = llm_settings(server, tmp_path, **config.pop("llm", {}))
    return QualityJudge(JudgeConfig(llm={**llm, "temperature": 0}, **config))


def test_canned_scores_fill_quality_and_name_bad_turns(tmp_path) -> None:
    with LLMServer(canned) as server:
        out = judge(server, tmp_path).run(table(dialogue(0, "en", GOOD_EN), dialogue(1, "en", BAD_EN), dialogue(2, "zh", "作为一个AI助手，我没有感情。")))
        prompts = [r.body["messages"][1]["content"] for r in server.completions()]
        sent = server.completions()[0].body
    rows = out.to_pylist()
    assert [r["quality"]["overall"] for r in rows] == [5.0, 1.0, 1.0]
    assert all(r[REJECT_REASON] is None for r in rows)
    assert re.fullmatch(r"judge:loopback@judge\.v1\.en@[0-9a-f]{12}", rows[0]["quality"]["scorer"])
    assert rows[2]["quality"]["scorer"].startswith("judge:loopback@judge.v1.zh@")
    meta = from_arrow_map(rows[1]["meta"])
    assert meta["origin"] == "test" and meta["judge"] == "scored" and meta["judge.rationale"] == "canned"
    assert json.loads(meta["judge.bad_turns"]) == [{"turn": 1, "problem": "assistant tone"}]
    assert "judge.bad_turns" not in from_arrow_map(rows[0]["meta"])
    # the rubric is in the prompt, per dimension, in the dialogue's language; the answer is schema-constrained
    english = next(p for p in prompts if GOOD_EN in p)
    assert all(f"- {d}" in english for d in ("consistency", "human_likeness", "engagement", "quality", "safety", "correctness", "overall"))
    assert "[2] Mara (character): " + GOOD_EN in english and any("评分细则" in p for p in prompts)
    assert sent["response_format"]["json_schema"]["name"] == "JudgeVerdict" and sent["temperature"] == 0


def test_malformed_answer_is_re_asked_with_the_error(tmp_path) -> None:
    with LLMServer(canned) as server:
        server.inject(Reply(content="Scores: great!"), Reply(content=scores(7)))
        out = judge(server, tmp_path).run(table(dialogue(0, "en", GOOD_EN)))
        conversation = server.completions()[-1].body["messages"]
    assert out.column("quality").to_pylist()[0]["overall"] == 5.0
    assert len(server.completions()) == 3
    feedback = [m["content"] for m in conversation if m["role"] == "user"][1:]
    assert "llm_invalid_json" in feedback[0] and "llm_invalid_output" in feedback[1] and "less than or equal to 5" in feedback[1]


def test_bad_turn_that_is_not_a_character_turn_is_re_asked(tmp_path) -> None:
    with LLMServer(canned) as server:
        server.inject(Reply(content=scores(2, bad_turns=[{"turn": 1, "problem": "x"}])))
        out = judge(server, tmp_path).run(table(dialogue(0, "en", GOOD_EN)))
    assert len(server.completions()) == 2 and out.column("quality").to_pylist()[0]["overall"] == 5.0


@pytest.mark.parametrize(
    ("reply", "reason"),
    [(Reply(content="I'd rather not."), "llm_invalid_json"), (Reply(content=None, refusal="I can't evaluate this."), "llm_refusal")],
)
def test_unscorable_dialogues_are_kept_or_rejected(tmp_path, reply: Reply, reason: str) -> None:
    with LLMServer(lambda body: reply) as server:
        kept = judge(server, tmp_path, llm={"max_validation_retries": 1}).run(table(dialogue(0, "en", GOOD_EN)))
        rejected = judge(server, tmp_path, llm={"max_validation_retries": 1, "cache": None}, on_failure="reject").run(table(dialogue(0, "en", GOOD_EN)))
    row = kept.to_pylist()[0]
    assert row[REJECT_REASON] is None and row["quality"] is None
    assert from_arrow_map(row["meta"])["judge"].startswith(f"failed: {reason}: after 2 attempts")
    dead = rejected.to_pylist()[0]
    assert dead[REJECT_REASON] == reason and dead[REJECT_DETAIL].startswith("judge: after 2 attempts") and dead["_raw"]


def test_thresholds_reject_and_human_scores_are_not_sent(tmp_path) -> None:
    human = {"overall": 4.5, "scorer": "human:hpi"}
    with LLMServer(canned) as server:
        out = judge(server, tmp_path, thresholds={"human_likeness": 3}).run(table(dialogue(0, "en", GOOD_EN), dialogue(1, "en", BAD_EN), dialogue(2, "en", BAD_EN, human)))
        assert len(server.completions()) == 2
        again = judge(server, tmp_path, overwrite=True).run(table(dialogue(0, "en", GOOD_EN), dialogue(2, "en", BAD_EN, human)))
        assert len(server.completions()) == 3  # d0 is answered from the cache, d2 is judged now
    rows = out.to_pylist()
    assert [r[REJECT_REASON] for r in rows] == [None, "low_human_likeness", None]
    assert rows[1][REJECT_DETAIL].startswith("human_likeness 1.00 < 3") and rows[2]["quality"] == {**dict.fromkeys(rows[0]["quality"]), **human}
    assert again.to_pylist()[1]["quality"]["scorer"].startswith("judge:")


def test_config_validates_thresholds() -> None:
    with pytest.raises(ValueError, match="unknown quality dimensions"):
        JudgeConfig(llm={"model": "m"}, thresholds={"wit": 3})
