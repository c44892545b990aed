"""Generated zh + en role-play dialogues with planted near-duplicates, for dedup tests and benchmarks.

Every dialogue is built from a seeded random generator, so a corpus is a pure function of its
arguments. A planted near-duplicate is a copy of an original dialogue with a chosen fraction of its
words (en) or characters (zh) replaced, so its true shingle Jaccard spans the range around a threshold;
ground truth is always recomputed exactly from the shingles, never taken from the plan.
"""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from operators.columns import WORKING_SCHEMA
from operators.identity import character_id, content_digest, dialogue_id
from schemas import DIALOGUE_SCHEMA

_EN_WORDS = (
    "the a my your our old new little quiet bright dark cold warm sweet strange gentle brave tired happy "
    "morning evening night garden river city train letter song story dream secret promise journey window "
    "tea coffee rain snow wind light shadow friend brother sister teacher doctor captain stranger king "
    "walk talk sing read write remember forget find keep miss wait believe laugh cry travel return begin "
    "today tomorrow always never maybe really still again together alone here there why how what when"
).split()
# Common Chinese characters: texts drawn from them are CJK-dominant, so they shingle by character.
_ZH_CHARS = (
    "的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日"
    "于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明"
)
_SOURCES = ("synthesis", "extraction", "human_roleplay", "import")
_CATEGORIES = ("celebrity", "daily_life", "fictional", "other")
_SCENARIOS = ("chit_chat", "interview", "companionship", "other")


def _en_turn(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_EN_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + rng.choice((".", "!", "?"))


def _zh_turn(rng: random.Random, chars: int) -> str:
    return "".join(rng.choice(_ZH_CHARS) for _ in range(chars)) + rng.choice(("。", "！", "？"))


def dialogue_texts(rng: random.Random, language: str, turns: int, length: int) -> list[str]:
    """The turn texts of one dialogue: `length` words (en) or characters (zh) per turn."""
    make = _zh_turn if language == "zh" else _en_turn
    return [make(rng, length) for _ in range(turns)]


def mutate(rng: random.Random, texts: list[str], language: str, fraction: float) -> list[str]:
    """A copy with about `fraction` of the words (en) or characters (zh) replaced by random ones."""
    out = []
    for text in texts:
        if language == "zh":
            units = list(text[:-1])
            tail = text[-1]
            for i in range(len(units)):
                if rng.random() < fraction:
                    units[i] = rng.choice(_ZH_CHARS)
            out.append("".join(units) + tail)
        else:
            units = text[:-1].split(" ")
            tail = text[-1]
            for i in range(len(units)):
                if rng.random() < fraction:
                    units[i] = rng.choice(_EN_WORDS)
            out.append(" ".join(units) + tail)
    return out


def row(
    index: int,
    texts: list[str],
    language: str,
    source: str = "synthesis",
    overall: float | None = None,
    name: str = "Lin",
    category: str = "daily_life",
    scenario: str = "chit_chat",
) -> dict[str, Any]:
    """A working-schema row for one dialogue; user and character alternate, the user first."""
    turns = [
        {"role": "user" if i % 2 == 0 else "character", "speaker": "user" if i % 2 == 0 else name, "text": text}
        for i, text in enumerate(texts)
    ]
    content = content_digest(name, ((t["role"], t["text"]) for t in turns))
    return {
        "dialogue_id": dialogue_id(source, f"r{index}", content),
        "character_id": character_id(name),
        "character": {"name": name, "category": category},
        "scenario": scenario,
        "language": language,
        "turns": turns,
        "source": source,
        "quality": {"overall": overall} if overall is not None else None,
    }


def corpus(
    dialogues: int,
    seed: int = 0,
    duplicate_rate: float = 0.2,
    fractions: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2),
    turns: tuple[int, int] = (4, 10),
    length: tuple[int, int] = (8, 30),
) -> pa.Table:
    """`dialogues` rows, half zh and half en; about `duplicate_rate` of them are mutated copies of earlier ones."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    originals: list[tuple[list[str], str]] = []
    for index in range(dialogues):
        source = rng.choice(_SOURCES)
        overall = round(rng.random(), 3) if rng.random() < 0.7 else None
        if originals and rng.random() < duplicate_rate:
            texts, language = rng.choice(originals)
            texts = mutate(rng, texts, language, rng.choice(fractions))
        else:
            language = "zh" if rng.random() < 0.5 else "en"
            texts = dialogue_texts(rng, language, rng.randint(*turns), rng.randint(*length))
            originals.append((texts, language))
        rows.append(
            row(
                index,
                texts,
                language,
                source,
                overall,
                name=f"C{rng.randint(0, 50)}",
                category=rng.choice(_CATEGORIES),
                scenario=rng.choice(_SCENARIOS),
            )
        )
    return pa.Table.from_pylist(rows, schema=WORKING_SCHEMA)


_EMPTY_ATTRIBUTES = {"relationships": [], "experiences": [], "hobbies": [], "extra": []}
_EMPTY_STYLES = {"catchphrases": [], "example_lines": []}


def as_corpus(table: pa.Table, run_id: str) -> pa.Table:
    """Working rows as the dialogue table: the record model's defaults filled where readers leave nulls
    (a character's `attributes` and `styles`, `meta`), the run id set."""
    pieces = []
    column = table.column("character")
    for start in range(0, table.num_rows, 50_000):  # Python dicts for a slice at a time: bounded memory
        characters = column.slice(start, 50_000).to_pylist()
        for character in characters:
            for key, empty in (("attributes", _EMPTY_ATTRIBUTES), ("styles", _EMPTY_STYLES)):
                value = character.get(key) or {}
                character[key] = {**value, **{name: value.get(name) or default for name, default in empty.items()}}
        pieces.append(pa.array(characters, DIALOGUE_SCHEMA.field("character").type))
    corpus = table.select(DIALOGUE_SCHEMA.names)
    replacements = {
        "character": pa.chunked_array(pieces, DIALOGUE_SCHEMA.field("character").type),
        "meta": pc.if_else(pc.is_null(corpus.column("meta")), pa.scalar([], DIALOGUE_SCHEMA.field("meta").type), corpus.column("meta")),
        "pipeline_run_id": pa.array([run_id] * corpus.num_rows, pa.string()),
    }
    for name, values in replacements.items():
        corpus = corpus.set_column(corpus.schema.get_field_index(name), name, values)
    return corpus.cast(DIALOGUE_SCHEMA)


_FULL_WIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)})  # ASCII -> full-width forms


def _variant(rng: random.Random, text: str, language: str) -> str:
    """The same reply as another writer might type it: case, final punctuation, full-width letters (equal once normalised)."""
    choice = rng.randrange(4)
    if choice == 1:
        return text.upper() if language == "en" else text[:-1] + "！！"
    if choice == 2:
        return text[:-1] + ("..." if language == "en" else "…")
    if choice == 3 and language == "en":
        return text.translate(_FULL_WIDTH)
    return text


def reply_reuse_corpus(
    dialogues: int,
    seed: int = 0,
    templated: float = 0.3,
    stock: int = 200,
    reuse: float = 0.6,
    turns: tuple[int, int] = (4, 10),
    length: tuple[int, int] = (8, 30),
) -> pa.Table:
    """`dialogues` rows, half zh and half en, each new as a whole; in about `templated` of them each character
    turn is, with probability `reuse`, one of `stock` stock replies of its language, written with varying
    case, punctuation or width (the planted reused replies)."""
    rng = random.Random(seed)
    replies = {language: [dialogue_texts(rng, language, 1, rng.randint(*length))[0] for _ in range(stock)] for language in ("zh", "en")}
    rows: list[dict[str, Any]] = []
    for index in range(dialogues):
        language = "zh" if rng.random() < 0.5 else "en"
        texts = dialogue_texts(rng, language, rng.randint(*turns), rng.randint(*length))
        if rng.random() < templated:
            texts = [
                _variant(rng, rng.choice(replies[language]), language) if i % 2 == 1 and rng.random() < reuse else text
                for i, text in enumerate(texts)
            ]
        overall = round(rng.random(), 3) if rng.random() < 0.7 else None
        rows.append(row(index, texts, language, rng.choice(_SOURCES), overall, name=f"C{rng.randint(0, 50)}"))
    return pa.Table.from_pylist(rows, schema=WORKING_SCHEMA)
