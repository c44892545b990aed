"""`synthesize.refine`: a rewritten character turn replaces the original and yields a self_refine pair."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq

from operators.base import RunContext
from operators.columns import REJECT_REASON
from operators.synthesis.dialogues import DialoguesConfig, SynthesizeDialogues
from operators.synthesis.profiles import ProfilesConfig, SynthesizeProfiles
from operators.synthesis.refine import RefineConfig, SynthesizeRefine
from schemas.tables import validate_table
from tests.llm_server import LLMServer, Reply
from tests.synthesis_author import author, llm_settings, plan_table

SEEDS = "- {category: daily_life, name: Mira, language: en}\n- {category: celebrity, name: 李白, language: zh}\n"


def dialogues(server, tmp_path):
    planned = plan_table(tmp_path, SEEDS, dialogues_per_character=2)
    profiled = SynthesizeProfiles(ProfilesConfig(llm=llm_settings(server, tmp_path))).run(planned)
    return SynthesizeDialogues(DialoguesConfig(llm=llm_settings(server, tmp_path), turns=4)).run(profiled)


def test_refined_turn_replaces_the_original_and_makes_a_pair(tmp_path):
    staging = tmp_path / "staging"
    with LLMServer(author()) as server:
        before = dialogues(server, tmp_path)
        out = SynthesizeRefine(RefineConfig(llm=llm_settings(server, tmp_path), turn="last"), RunContext("r", str(staging))).run(before)
    pairs = pq.read_table(staging / "pairs")
    validate_table(pairs, "preference_pair")
    assert pairs.num_rows == 4 and set(pairs.column("pair_source").to_pylist()) == {"self_refine"}
    for old, new in zip(before.to_pylist(), out.to_pylist(), strict=True):
        assert new[REJECT_REASON] is None and len(new["turns"]) == 4
        assert new["turns"][:3] == old["turns"][:3] and new["turns"][3]["text"] != old["turns"][3]["text"]
        assert new["dialogue_id"] != old["dialogue_id"] and dict(new["meta"])["refine"] == "rewrote turn 4"
    by_dialogue = {p["dialogue_id"]: p for p in pairs.to_pylist()}
    for old, new in zip(before.to_pylist(), out.to_pylist(), strict=True):
        pair = by_dialogue[new["dialogue_id"]]
        assert pair["chosen"]["text"] == new["turns"][3]["text"] and pair["rejected"]["text"] == old["turns"][3]["text"]
        assert [t["text"] for t in pair["context"]] == [t["text"] for t in old["turns"][:3]]


def test_unchanged_rewrite_keeps_the_dialogue_without_a_pair(tmp_path):
    def echo(body):
        reply = re.search(r"(?:Reply to judge:|待评判的回复：)\n[^:：]+[:：] ?(.*)\n", body["messages"][1]["content"]).group(1)
        return Reply(content=json.dumps({"critique": "fine", "rewrite": reply}, ensure_ascii=False))

    with LLMServer(author()) as server:
        before = dialogues(server, tmp_path)
        server.responder = author({"RefineDraft": echo})
        step = SynthesizeRefine(RefineConfig(llm=llm_settings(server, tmp_path), turn="first"))
        out = step.run(before)
    assert step.pairs == []
    assert [r["turns"] for r in out.to_pylist()] == [r["turns"] for r in before.to_pylist()]
    assert {dict(r["meta"])["refine"] for r in out.to_pylist()} == {"kept turn 2"}


def test_failed_refinement_keeps_or_rejects_as_configured(tmp_path):
    def bad_rewrite(body):
        # en dialogues get an assistant phrase, zh dialogues an English rewrite
        zh = "待评判的回复" in body["messages"][1]["content"]
        text = "The weather is lovely today and I would like to go for a long walk." if zh else "As an AI, I cannot pretend to bake bread for you."
        return Reply(content=json.dumps({"critique": "x", "rewrite": text}))

    broken = {"RefineDraft": bad_rewrite}
    with LLMServer(author()) as server:
        before = dialogues(server, tmp_path)
        server.responder = author(broken)
        kept = SynthesizeRefine(RefineConfig(llm=llm_settings(server, tmp_path, max_validation_retries=0))).run(before)
        rejected = SynthesizeRefine(RefineConfig(llm=llm_settings(server, tmp_path, max_validation_retries=0), on_failure="reject")).run(before)
    assert all(r[REJECT_REASON] is None and dict(r["meta"])["refine"].startswith("failed: ") for r in kept.to_pylist())
    assert [r["turns"] for r in kept.to_pylist()] == [r["turns"] for r in before.to_pylist()]
    # the zh rewrite fails the language check, the en one the character-break check
    assert sorted(set(rejected.column(REJECT_REASON).to_pylist())) == ["character_break", "wrong_language"]
