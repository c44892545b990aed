"""`synthesize.plan`: seeds YAML -> planned dialogue rows, bad seeds -> rejects naming file and line."""

from __future__ import annotations

from collections import Counter

from operators.columns import INPUT_LINE, REJECT_DETAIL, REJECT_REASON
from operators.synthesis.plan import PLAN_REF, SEED_VARIANT
from tests.synthesis_author import plan_table


def test_seeds_expand_to_characters_times_dialogues(tmp_path):
    table = plan_table(tmp_path, dialogues_per_character=3)
    rows = table.to_pylist()
    # 2 invented characters x 3 + 1 named character x 3
    assert len(rows) == 9
    assert all(r[REJECT_REASON] is None and r["source"] == "synthesis" and r["turns"] == [] for r in rows)
    variants = Counter((dict(r["meta"])["seed.ref"], dict(r["meta"])[SEED_VARIANT]) for r in rows)
    assert sorted(variants.values()) == [3, 3, 3]
    named = [r for r in rows if r["character"] is not None]
    assert len(named) == 3 and {r["character"]["name"] for r in named} == {"李白"} and {r["language"] for r in named} == {"zh"}
    assert len({dict(r["meta"])[PLAN_REF] for r in rows}) == 9 and len({r["dialogue_id"] for r in rows}) == 9
    # each character's 3 dialogues cover the 3 default scenarios
    by_character = {}
    for r in rows:
        by_character.setdefault((dict(r["meta"])["seed.ref"], dict(r["meta"])[SEED_VARIANT]), set()).add(r["scenario"])
    assert all(s == {"chit_chat", "interview", "companionship"} for s in by_character.values())


def test_plan_is_reproducible(tmp_path):
    assert plan_table(tmp_path).equals(plan_table(tmp_path))


def test_bad_seeds_become_rejects_with_line(tmp_path):
    text = "seeds:\n  - category: daily_life\n    brief: ok\n  - category: alien\n  - name: X\n    category: other\n    profile: {profile_text: hi}\n    bogus: 1\n"
    rows = plan_table(tmp_path, text, dialogues_per_character=1).to_pylist()
    rejects = [r for r in rows if r[REJECT_REASON]]
    assert [(r[REJECT_REASON], r[INPUT_LINE]) for r in rejects] == [("invalid_seed", 4), ("invalid_seed", 5)]
    assert "seeds.yaml:4: category" in rejects[0][REJECT_DETAIL] and "bogus" in rejects[1][REJECT_DETAIL]
    assert len(rows) == 3


def test_invalid_yaml_is_one_reject(tmp_path):
    rows = plan_table(tmp_path, "seeds:\n  - category: [unclosed\n").to_pylist()
    assert len(rows) == 1 and rows[0][REJECT_REASON] == "invalid_yaml" and rows[0][INPUT_LINE] >= 2
