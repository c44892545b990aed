"""Exports for training: SFT conversations and DPO pairs from real Parquet corpora."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from jobs.export_train import SFT_SCHEMA, ExportError, SystemPrompt, export_dpo, export_sft, turns_to_messages
from schemas.arrow import to_arrow_row
from schemas.records import Turn
from schemas.tables import DIALOGUE_SCHEMA
from tests.jobs.corpus_fixtures import CHARACTERS, dialogue, preference_pair, standard_corpus, write_corpus, write_table


def test_sft_export_writes_one_file_per_split_with_system_user_assistant_messages(tmp_path):
    corpus = standard_corpus(tmp_path / "run")
    report = export_sft(corpus, tmp_path / "sft")

    assert report.rows == {"train": 12, "validation": 8}
    assert sorted(p.name for p in (tmp_path / "sft").iterdir()) == ["export.json", "train.parquet", "validation.parquet"]
    train = pq.read_table(tmp_path / "sft" / "train.parquet")
    assert train.schema.equals(SFT_SCHEMA)
    assert set(train.column("split").to_pylist()) == {"train"}
    assert set(train.column("character_id").to_pylist()) == {"c_lin", "c_ada", "c_sam"}
    row = next(r for r in train.to_pylist() if r["dialogue_id"] == "d_c_ada_1")
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "user", "assistant"]
    assert row["messages"][2] == {"role": "assistant", "content": "Hello, I am Ada Lovelace. Lovely to see you.", "name": "Ada Lovelace"}
    assert row["messages"][1]["name"] == "a fan"
    assert row["system_template"] == "v1.en"
    assert json.loads((tmp_path / "sft" / "export.json").read_text())["total_rows"] == 20


def test_system_prompt_renders_profile_user_role_and_scenario_in_the_dialogue_language(tmp_path):
    export_sft(standard_corpus(tmp_path / "run"), tmp_path / "sft")
    rows = pq.read_table(tmp_path / "sft" / "train.parquet").to_pylist()
    ada = next(r for r in rows if r["dialogue_id"] == "d_c_ada_1")  # index 1 -> interview
    system = ada["messages"][0]["content"]
    assert system.startswith("You are Ada Lovelace.")
    for expected in (
        "Occupation: mathematician",
        "born: 1815",
        "Style: precise and warm",
        '"The engine weaves algebra."',
        "a fan, who is interviewing you.",
    ):
        assert expected in system
    lin = next(r for r in rows if r["dialogue_id"] == "d_c_lin_0")  # index 0 -> chit_chat
    assert lin["system_template"] == "v1.zh"
    assert lin["messages"][0]["content"].startswith("你是林黛玉（出自《红楼梦》）。")
    for expected in ("林黛玉，才情出众，多愁善感。", "爱好：读诗、葬花", "口头禅：罢了", "你正在与朋友对话，随意闲聊。"):
        assert expected in lin["messages"][0]["content"]
    assert "None" not in system and "None" not in lin["messages"][0]["content"]


def test_system_prompt_versions_are_files_and_unknown_languages_fall_back_to_english(tmp_path):
    (tmp_path / "v9.en.jinja").write_text("Be {{ character.name }} ({{ scenario }}).", encoding="utf-8")
    prompt = SystemPrompt("v9", tmp_path)
    character = CHARACTERS["c_sam"][0]
    assert prompt.render(character, None, "other", "fr") == ("Be Sam (other).", "v9.en")
    assert SystemPrompt().template_id("zh-Hant") == "v1.zh"
    with pytest.raises(ExportError, match="no system prompt template v2.en.jinja"):
        SystemPrompt("v2")


def test_multi_party_scenes_keep_names_and_consecutive_turns_are_merged():
    turns = [
        Turn(role="user", speaker="Wang", text="Who is there?"),
        Turn(role="user", speaker="Li", text="Only us."),
        Turn(role="character", speaker="Kai", text="Me."),
        Turn(role="character", speaker="Kai", text="Just me."),
        Turn(role="user", speaker="Wang", text="Oh."),
    ]
    assert turns_to_messages(turns) == [
        {"role": "user", "content": "Wang: Who is there?\nLi: Only us.", "name": None},
        {"role": "assistant", "content": "Me.\nJust me.", "name": "Kai"},
        {"role": "user", "content": "Wang: Oh.", "name": "Wang"},
    ]
    two_party = turns_to_messages([Turn(role="user", speaker="Wang", text="Hi"), Turn(role="character", speaker="Kai", text="Yo")])
    assert two_party == [{"role": "user", "content": "Hi", "name": "Wang"}, {"role": "assistant", "content": "Yo", "name": "Kai"}]


def test_dialogues_without_a_character_reply_are_skipped_with_a_reason_and_trailing_user_turns_dropped(tmp_path):
    silent = dialogue("c_sam", 1, turns=[Turn(role="user", speaker="a fan", text="Anyone?")])
    trailing = dialogue(
        "c_sam",
        2,
        turns=[
            Turn(role="user", speaker="a fan", text="Hi"),
            Turn(role="character", speaker="Sam", text="Hey"),
            Turn(role="user", speaker="a fan", text="Bye"),
        ],
    )
    corpus = write_corpus(tmp_path / "run", [dialogue("c_sam", 0), silent, trailing])
    report = export_sft(corpus, tmp_path / "sft")

    assert report.rows == {"train": 2}
    assert report.skipped == {"no_character_turn": 1}
    skipped = pq.read_table(tmp_path / "sft" / "skipped.parquet").to_pylist()
    assert skipped == [
        {
            "record_id": "d_c_sam_1",
            "reason": "no_character_turn",
            "detail": "the dialogue has no character turn to learn",
            "input_file": "corpus/part-00000.parquet",
            "input_row": 1,
        }
    ]
    kept = pq.read_table(tmp_path / "sft" / "train.parquet").to_pylist()[1]["messages"]
    assert [m["role"] for m in kept] == ["system", "user", "assistant"]


def test_unassigned_splits_follow_the_policy(tmp_path):
    corpus = write_corpus(tmp_path / "run", [dialogue("c_sam", 0, split=None), dialogue("c_kai", 0)])
    default = export_sft(corpus, tmp_path / "a")
    assert (default.rows, default.unassigned_rows) == ({"train": 1, "validation": 1}, 1)
    skipped = export_sft(corpus, tmp_path / "b", unassigned="skip")
    assert (skipped.rows, skipped.skipped) == ({"validation": 1}, {"unassigned_split": 1})
    with pytest.raises(ExportError, match=r"corpus/part-00000.parquet row 0: no split assigned \(character 'Sam'\)"):
        export_sft(corpus, tmp_path / "c", unassigned="error")
    assert not (tmp_path / "c").exists()


def test_a_character_in_two_splits_is_an_error_naming_both_rows(tmp_path):
    corpus = write_corpus(tmp_path / "run", [dialogue("c_sam", 0), dialogue("c_sam", 1, split="test")])
    with pytest.raises(
        ExportError, match=r"row 1: character 'Sam' \(c_sam\) is in split 'test' but corpus/part-00000.parquet row 0 put it in 'train'"
    ):
        export_sft(corpus, tmp_path / "sft")


def test_an_invalid_row_names_file_row_and_field(tmp_path):
    good = to_arrow_row(dialogue("c_sam", 0))
    bad = to_arrow_row(dialogue("c_sam", 1))
    bad["turns"][1]["role"] = "narrator"
    (tmp_path / "run" / "corpus").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([good, bad], schema=DIALOGUE_SCHEMA), tmp_path / "run" / "corpus" / "x.parquet")
    with pytest.raises(ValueError, match=r"corpus/x.parquet row 1: turns\[1\].role: Input should be 'user' or 'character'"):
        export_sft(tmp_path / "run", tmp_path / "sft")


def test_missing_input_and_existing_output_are_clear_errors(tmp_path):
    with pytest.raises(ExportError, match="no corpus/\\*.parquet found"):
        export_sft(tmp_path / "nowhere", tmp_path / "sft")
    corpus = standard_corpus(tmp_path / "run")
    export_sft(corpus, tmp_path / "sft")
    with pytest.raises(ExportError, match="already exists; pass --overwrite"):
        export_sft(corpus, tmp_path / "sft")
    assert export_sft(corpus, tmp_path / "sft", overwrite=True).total_rows == 20
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".sft.")]


def test_dpo_export_writes_conversational_prompt_chosen_rejected(tmp_path):
    corpus = standard_corpus(tmp_path / "run")
    write_table(
        corpus / "pairs" / "part-00001.parquet", [preference_pair("c_sam", 9, chosen="Same.", rejected=" Same. ")], "preference_pair"
    )
    report = export_dpo(corpus, tmp_path / "dpo")

    assert report.rows == {"train": 12, "validation": 8}
    assert report.skipped == {"identical_replies": 1}
    row = next(r for r in pq.read_table(tmp_path / "dpo" / "train.parquet").to_pylist() if r["pair_id"] == "p_c_ada_2")
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["prompt"][0]["content"].startswith("You are Ada Lovelace.")
    assert row["chosen"] == [{"role": "assistant", "content": "Hello, I am Ada Lovelace. Lovely to see you.", "name": "Ada Lovelace"}]
    assert row["rejected"][0]["content"] == "As an AI language model, I cannot answer."
    assert (row["pair_source"], row["margin"]) == ("judge_ranked", 1.5)


def test_exports_load_with_hugging_face_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    corpus = standard_corpus(tmp_path / "run")
    export_sft(corpus, tmp_path / "sft")
    export_dpo(corpus, tmp_path / "dpo")

    sft = datasets.load_dataset("parquet", data_dir=str(tmp_path / "sft"), cache_dir=str(tmp_path / "cache"))
    assert set(sft) == {"train", "validation"} and sft["train"].num_rows == 12
    assert sft["train"][0]["messages"][0]["role"] == "system"
    dpo = datasets.load_dataset("parquet", data_files={"train": str(tmp_path / "dpo" / "train.parquet")}, cache_dir=str(tmp_path / "cache"))
    assert {"prompt", "chosen", "rejected"} <= set(dpo["train"].column_names)
