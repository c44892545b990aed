"""Small corpora written with the real Arrow schemas: dialogue and preference-pair tables."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.arrow import to_arrow_row
from schemas.records import Character, Dialogue, PreferencePair, PreferenceTurn, Turn
from schemas.tables import DIALOGUE_SCHEMA, TABLES

CHARACTERS = {
    "c_lin": (
        Character(
            name="林黛玉",
            category="fictional",
            work="红楼梦",
            profile_text="林黛玉，才情出众，多愁善感。",
            attributes={"gender": "女", "hobbies": ["读诗", "葬花"]},
            styles={"catchphrases": ["罢了"]},
        ),
        "zh",
        "train",
    ),
    "c_ada": (
        Character(
            name="Ada Lovelace",
            category="celebrity",
            attributes={"occupation": "mathematician", "extra": {"born": "1815"}},
            styles={"speaking_style": "precise and warm", "example_lines": ["The engine weaves algebra."]},
        ),
        "en",
        "train",
    ),
    "c_sam": (Character(name="Sam", category="daily_life", attributes={"occupation": "barista"}), "en", "train"),
    "c_kai": (Character(name="Kai", category="other"), "en", "validation"),
    "c_mei": (Character(name="小美", category="daily_life", attributes={"occupation": "护士"}), "zh", "validation"),
}

SCENARIOS = ("chit_chat", "interview", "companionship", "other")


def dialogue(character_id: str, index: int, split: str | None = "__default__", turns: list[Turn] | None = None, **fields) -> Dialogue:
    """A dialogue of a fixture character; its text follows a fixed pattern so a tiny model can learn it."""
    character, language, default_split = CHARACTERS[character_id]
    if turns is None:
        if language == "zh":
            turns = [
                Turn(role="user", speaker="朋友", text=f"你好，今天第{index}次见面。"),
                Turn(role="character", speaker=character.name, text=f"你好呀，我是{character.name}，很高兴见到你。"),
                Turn(role="user", speaker="朋友", text="最近在忙什么？"),
                Turn(role="character", speaker=character.name, text="在读书写字，日子很安静。"),
            ]
        else:
            turns = [
                Turn(role="user", speaker="a fan", text=f"Hello, this is visit number {index}."),
                Turn(role="character", speaker=character.name, text=f"Hello, I am {character.name}. Lovely to see you."),
                Turn(role="user", speaker="a fan", text="What are you doing lately?"),
                Turn(role="character", speaker=character.name, text="Reading and writing, a quiet life."),
            ]
    return Dialogue(
        dialogue_id=f"d_{character_id}_{index}",
        character_id=character_id,
        character=character,
        user_role=fields.pop("user_role", "a fan" if language == "en" else "朋友"),
        scenario=fields.pop("scenario", SCENARIOS[index % len(SCENARIOS)]),
        language=language,
        turns=turns,
        source="synthesis",
        split=default_split if split == "__default__" else split,
        **fields,
    )


def preference_pair(
    character_id: str, index: int, split: str | None = "__default__", chosen: str | None = None, rejected: str | None = None
) -> PreferencePair:
    """A pair whose chosen reply stays in character and whose rejected reply breaks character."""
    character, language, default_split = CHARACTERS[character_id]
    base = dialogue(character_id, index)
    return PreferencePair(
        pair_id=f"p_{character_id}_{index}",
        dialogue_id=base.dialogue_id,
        character_id=character_id,
        character=character,
        user_role=base.user_role,
        scenario=base.scenario,
        language=language,
        context=base.turns[:1],
        chosen=PreferenceTurn(speaker=character.name, text=chosen or base.turns[1].text),
        rejected=PreferenceTurn(speaker=character.name, text=rejected or "As an AI language model, I cannot answer."),
        pair_source="judge_ranked",
        margin=1.5,
        split=default_split if split == "__default__" else split,
    )


def write_table(path: Path, records: list, table: str) -> Path:
    """Write records as one Parquet file of the named table (schemas.tables)."""
    schema = DIALOGUE_SCHEMA if table == "dialogue" else TABLES[table].schema
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist([to_arrow_row(r) for r in records], schema=schema), path)
    return path


def write_corpus(root: Path, dialogues: list[Dialogue], pairs: list[PreferencePair] | None = None, files: int = 1) -> Path:
    """A corpus folder as a pipeline run writes it: `corpus/*.parquet` and `pairs/*.parquet`."""
    for part in range(files):
        write_table(root / "corpus" / f"part-{part:05d}.parquet", dialogues[part::files], "dialogue")
    if pairs:
        write_table(root / "pairs" / "part-00000.parquet", pairs, "preference_pair")
    return root


def standard_corpus(root: Path, per_character: int = 4) -> Path:
    """Five characters (zh and en, train and validation), `per_character` dialogues and pairs each."""
    dialogues = [dialogue(cid, i) for cid in CHARACTERS for i in range(per_character)]
    pairs = [preference_pair(cid, i) for cid in CHARACTERS for i in range(per_character)]
    return write_corpus(root, dialogues, pairs, files=2)
