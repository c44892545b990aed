"""`synthesize.dialogues` against the loopback server: canonical dialogues, checks -> re-asks -> rejects."""

from __future__ import annotations

import json

import pytest

from operators.columns import REJECT_DETAIL, REJECT_REASON
from operators.synthesis.dialogues import DialoguesConfig, SynthesizeDialogues, relationship_role
from operators.synthesis.profiles import ProfilesConfig, SynthesizeProfiles
from schemas.tables import validate_table
from tests.llm_server import LLMServer, Reply
from tests.synthesis_author import author, llm_settings, plan_table


def profiled(server, tmp_path, text=None, **plan):
    planned = plan_table(tmp_path, text, **plan) if text else plan_table(tmp_path, **plan)
    return SynthesizeProfiles(ProfilesConfig(llm=llm_settings(server, tmp_path))).run(planned)


def corpus_rows(table):
    """Live rows without the internal columns, as the writer would publish them."""
    from operators.columns import DIALOGUE_COLUMNS, live_mask

    return table.filter(live_mask(table)).select(list(DIALOGUE_COLUMNS))


def test_dialogues_are_canonical_and_checked(tmp_path):
    with LLMServer(author()) as server:
        rows_in = profiled(server, tmp_path, dialogues_per_character=3)
        step = SynthesizeDialogues(DialoguesConfig(llm=llm_settings(server, tmp_path), turns=6))
        out = step.run(rows_in)
    rows = out.to_pylist()
    assert out.num_rows == 9 and all(r[REJECT_REASON] is None for r in rows)
    for row in rows:
        assert len(row["turns"]) == 6 and [t["role"] for t in row["turns"][:2]] == ["user", "character"]
        assert {t["speaker"] for t in row["turns"] if t["role"] == "character"} == {row["character"]["name"]}
        assert row["user_role"] and "dialogue=loopback@dialogue.v1." in row["source_ref"]
    assert len({r["dialogue_id"] for r in rows}) == 9
    validate_table(corpus_rows(out), "dialogue")


def test_check_failures_are_fed_back_then_rejected_with_reasons(tmp_path):
    turns = lambda texts: Reply(content=json.dumps({"turns": [{"role": r, "text": t} for r, t in texts]}))  # noqa: E731
    bad = {
        "ai": [("user", "How are you today, my friend?"), ("character", "As an AI language model, I do not have feelings, but thanks for asking.")],
        "count": [("user", "How are you today, my friend?"), ("character", "Great, the bread came out perfect this morning."), ("user", "Nice!")],
        "lines": [("user", "How are you today, my friend?"), ("character", "I'm fine, just tired from the early shift.\nUser: oh poor you, want coffee?")],
        "lang": [("user", "How are you today?"), ("character", "我今天很好，刚刚烤完一炉面包，整个店里都是香味。")],
    }
    order = iter(["ai", "count", "lines", "lang"])
    plan = {}

    def answer(body):
        ref = body["seed"]
        if ref not in plan:
            plan[ref] = next(order)
        return turns(bad[plan[ref]])

    text = "- {category: fictional, name: Ada, language: en}\n"
    with LLMServer(author({"DialogueDraft": answer})) as server:
        rows_in = profiled(server, tmp_path, text, dialogues_per_character=4)
        before = len(server.requests)
        out = SynthesizeDialogues(DialoguesConfig(llm=llm_settings(server, tmp_path, max_validation_retries=1), turns=2)).run(rows_in)
        dialogue_requests = [r.body for r in server.requests[before:]]
    assert len(dialogue_requests) == 8
    retried = [b for b in dialogue_requests if len(b["messages"]) == 4]
    assert len(retried) == 4 and all(b["messages"][-1]["role"] == "user" for b in retried)
    reasons = sorted(r[REJECT_REASON] for r in out.to_pylist())
    assert reasons == ["character_break", "character_speaks_user_lines", "wrong_language", "wrong_turn_count"]
    assert all(r[REJECT_DETAIL].startswith("dialogue: after 2 attempts") for r in out.to_pylist())


def test_a_good_second_answer_is_kept(tmp_path):
    answers = iter([Reply(content="not json at all"), None])
    with LLMServer(author()) as server:
        rows_in = profiled(server, tmp_path, "- {category: fictional, name: Ada, language: en}\n", dialogues_per_character=1)
        server.responder = author({"DialogueDraft": lambda body: next(answers)})
        out = SynthesizeDialogues(DialoguesConfig(llm=llm_settings(server, tmp_path), turns=4)).run(rows_in)
    row = out.to_pylist()[0]
    assert row[REJECT_REASON] is None and dict(row["meta"])["synthesis.dialogue_attempts"] == "2"


def test_rows_without_a_profile_are_rejected(tmp_path):
    rows_in = plan_table(tmp_path, "- {category: fictional, brief: x, language: en}\n", dialogues_per_character=1)
    with LLMServer(author()) as server:
        out = SynthesizeDialogues(DialoguesConfig(llm=llm_settings(server, tmp_path))).run(rows_in)
        assert server.requests == []
    assert out.column(REJECT_REASON).to_pylist() == ["no_profile"]


def test_relationship_roles_read_naturally():
    assert relationship_role("sister: Anna, a nurse in Leeds", "en") == {"role": "Anna, a nurse in Leeds (their sister)", "speaker": "Anna"}
    assert relationship_role("妹妹：小雨，杭州的护士", "zh") == {"role": "小雨，杭州的护士（妹妹）", "speaker": "小雨"}
    assert relationship_role("an old mentor", "en") == {"role": "an old mentor", "speaker": "an old mentor"}


def test_a_language_without_templates_is_a_reject_not_a_crash(tmp_path):
    rows_in = plan_table(tmp_path, "- {category: fictional, name: Ada, language: fr, profile: {profile_text: Ada est mathématicienne.}}\n",
                         dialogues_per_character=1)
    with LLMServer(author()) as server:
        out = SynthesizeDialogues(DialoguesConfig(llm=llm_settings(server, tmp_path))).run(rows_in)
        assert server.requests == []
    row = out.to_pylist()[0]
    assert row[REJECT_REASON] == "unsupported_language" and "dialogue.v1.fr.jinja" in row[REJECT_DETAIL]


def test_too_many_rejects_stop_the_step(tmp_path):
    from operators.synthesis.llm_step import TooManyRejects

    rows_in = plan_table(tmp_path, "- {category: fictional, name: Ada, language: en, profile: {profile_text: Ada is a mathematician.}}\n",
                         dialogues_per_character=60)
    with LLMServer(author({"DialogueDraft": lambda body: Reply(content="nope")})) as server:
        settings = llm_settings(server, tmp_path, max_validation_retries=0)
        kept = SynthesizeDialogues(DialoguesConfig(llm=settings)).run(rows_in)
        assert set(kept.column(REJECT_REASON).to_pylist()) == {"llm_invalid_json"}
        with pytest.raises(TooManyRejects, match="60 of 60 rows rejected .*llm_invalid_json 60"):
            SynthesizeDialogues(DialoguesConfig(llm=settings, max_reject_fraction=0.5)).run(rows_in)
