"""`synthesize.profiles` against the loopback server: validated profiles, shared requests, rejects, side tables."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from operators.base import RunContext
from operators.columns import RAW, REJECT_DETAIL, REJECT_OPERATOR, REJECT_REASON
from operators.synthesis.profiles import ProfilesConfig, SynthesizeProfiles
from schemas.tables import validate_table
from tests.llm_server import LLMServer, Reply
from tests.synthesis_author import author, llm_settings, plan_table


def test_profiles_fill_characters_and_write_the_profiles_table(tmp_path):
    planned = plan_table(tmp_path, dialogues_per_character=2)
    staging = tmp_path / "staging"
    with LLMServer(author()) as server:
        step = SynthesizeProfiles(ProfilesConfig(llm=llm_settings(server, tmp_path)), RunContext("run-1", str(staging)))
        out = step.run(planned)
        # three characters (two invented, one named with a given-less seed): one request each, not one per row
        assert len(server.requests) == 3
    rows = out.to_pylist()
    assert out.num_rows == planned.num_rows and all(r[REJECT_REASON] is None for r in rows)
    names = {r["character"]["name"] for r in rows}
    assert names == {"Mira Holt 1", "Mira Holt 2", "李白"}
    assert all(r["character_id"] and "profile=loopback@profile.v1." in r["source_ref"] for r in rows)
    li_bai = next(r for r in rows if r["character"]["name"] == "李白")
    assert li_bai["character"]["attributes"]["age"] == "34" and li_bai["character"]["attributes"]["relationships"]
    profiles = pq.read_table(staging / "profiles")
    assert profiles.num_rows == 3 and set(profiles.column("source").to_pylist()) == {"synthesis"}
    validate_table(profiles, "character_profile")
    usage = pq.read_table(staging / "llm_usage").to_pylist()
    assert [(u["operator"], u["requests"], u["cache_hits"]) for u in usage] == [("synthesize.profiles", 3, 0)]
    assert usage[0]["prompt_tokens"] > 0 and usage[0]["completion_tokens"] > 0


def test_rerun_is_served_from_the_cache(tmp_path):
    planned = plan_table(tmp_path, dialogues_per_character=1)
    with LLMServer(author()) as server:
        config = ProfilesConfig(llm=llm_settings(server, tmp_path))
        first = SynthesizeProfiles(config).run(planned)
        second_step = SynthesizeProfiles(config)
        second = second_step.run(planned)
        assert len(server.requests) == 3
    assert first.equals(second)
    assert second_step.usage_rows[0]["cache_hits"] == 3 and second_step.usage_rows[0]["requests"] == 0


def test_invalid_profile_is_retried_with_the_error_then_rejected(tmp_path):
    planned = plan_table(tmp_path, "- category: fictional\n  name: Ada\n  language: en\n", dialogues_per_character=2)
    with LLMServer(author({"ProfileDraft": lambda body: Reply(content='{"name": "Ada", "profile_text": 5')})) as server:
        out = SynthesizeProfiles(ProfilesConfig(llm=llm_settings(server, tmp_path, max_validation_retries=2))).run(planned)
        bodies = [r.body for r in server.requests]
    assert len(bodies) == 3
    # the second ask carries the bad answer and the parse error
    assert bodies[1]["messages"][-2] == {"role": "assistant", "content": '{"name": "Ada", "profile_text": 5'}
    assert "llm_invalid_json" in bodies[1]["messages"][-1]["content"]
    rows = out.to_pylist()
    assert [r[REJECT_REASON] for r in rows] == ["llm_invalid_json", "llm_invalid_json"]
    assert rows[0][REJECT_OPERATOR] == "synthesize.profiles" and "after 3 attempts" in rows[0][REJECT_DETAIL]
    assert rows[0][RAW] == '{"name": "Ada", "profile_text": 5'


def test_wrong_name_and_refusal_are_reasons(tmp_path):
    planned = plan_table(tmp_path, "- {category: fictional, name: Ada, language: en}\n- {category: other, brief: x, language: en}\n", dialogues_per_character=1)

    def answer(body):
        if "named Ada" in body["messages"][1]["content"]:
            return Reply(content=json.dumps({"name": "Bob", "profile_text": "Bob is a sailor who loves the sea and storms."}))
        return Reply(refusal="I can't help with that.")

    with LLMServer(author({"ProfileDraft": answer})) as server:
        out = SynthesizeProfiles(ProfilesConfig(llm=llm_settings(server, tmp_path, max_validation_retries=0))).run(planned)
    assert sorted(r[REJECT_REASON] for r in out.to_pylist()) == ["llm_refusal", "wrong_name"]


def test_seed_with_a_profile_skips_the_llm(tmp_path):
    text = "- category: fictional\n  name: Ada\n  language: en\n  profile: {profile_text: Ada is a mathematician., attributes: {age: '36'}}\n"
    planned = plan_table(tmp_path, text, dialogues_per_character=2)
    staging = tmp_path / "staging"
    with LLMServer(author()) as server:
        out = SynthesizeProfiles(ProfilesConfig(llm=llm_settings(server, tmp_path)), RunContext("r", str(staging))).run(planned)
        assert server.requests == []
    assert out.equals(planned)
    assert pq.read_table(staging / "profiles").column("source").to_pylist() == ["import"]


def test_api_key_never_reaches_outputs_cache_or_rejects(tmp_path):
    secret = "sk-profile-secret-0987654321"
    planned = plan_table(tmp_path, "- {category: fictional, name: Ada, language: en}\n- {category: other, brief: x, language: en}\n", dialogues_per_character=1)
    staging = tmp_path / "staging"

    def answer(body):
        return None if "named Ada" in body["messages"][1]["content"] else Reply(content="not json")

    with LLMServer(author({"ProfileDraft": answer})) as server:
        config = ProfilesConfig(llm=llm_settings(server, tmp_path, api_key=secret, max_validation_retries=0))
        out = SynthesizeProfiles(config, RunContext("r", str(staging))).run(planned)
    assert sorted(r[REJECT_REASON] or "" for r in out.to_pylist()) == ["", "llm_invalid_json"]
    written = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert secret.encode() not in written
    assert secret not in json.dumps(out.to_pylist(), default=str) and secret not in config.model_dump_json()


def test_a_seed_can_diversify_from_an_existing_character(tmp_path):
    text = "- {category: fictional, like: 'Sherlock Holmes, a consulting detective in Victorian London', count: 2, language: en}\n"
    planned = plan_table(tmp_path, text, dialogues_per_character=1)
    with LLMServer(author()) as server:
        out = SynthesizeProfiles(ProfilesConfig(llm=llm_settings(server, tmp_path))).run(planned)
        prompts = [r.body["messages"][1]["content"] for r in server.requests]
    assert len(prompts) == 2 and all("clearly different person" in p and "Sherlock Holmes" in p for p in prompts)
    assert "invention number 1" in prompts[0] + prompts[1] and "invention number 2" in prompts[0] + prompts[1]
    assert all(r[REJECT_REASON] is None for r in out.to_pylist())
