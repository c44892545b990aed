"""Sessions and dialogue rows from attributed quotes."""

from __future__ import annotations

from operators.extraction.cast import Cast, CastMember
from operators.extraction.novel import extract_novel
from operators.extraction.sessions import SessionConfig, dialogue_rows, group_sessions, quotes_table
from schemas.records import Dialogue

CAST = Cast([CastMember("Anna Reed", ["Anna Reed", "Anna"], "F", "A schoolteacher."), CastMember("Tom Hale", ["Tom Hale", "Tom"], "M")])
BOOK = """CHAPTER I

Anna Reed was a tall woman who taught at the village school.

"Where were you?" asked Anna.

"At the mill," said Tom.

"All day?"

"All day, Anna."

CHAPTER II

"Good morning," said Tom.

"Is it?" Anna replied.
"""


def test_sessions_break_at_chapters():
    result = extract_novel(BOOK, CAST, "en")
    sessions = group_sessions(result, SessionConfig())
    assert [len(s) for s in sessions] == [4, 2]


def test_sessions_break_at_long_narration():
    text = '"One," said Anna.\n\n"Two," said Tom.\n\n' + "Narration goes on. " * 100 + '\n\n"Three," said Anna.\n\n"Four," said Tom.'
    sessions = group_sessions(extract_novel(text, CAST, "en"), SessionConfig(max_narration=500))
    assert [len(s) for s in sessions] == [2, 2]


def test_dialogue_rows_per_target_character():
    result = extract_novel(BOOK, CAST, "en")
    rows = dialogue_rows(result, "book.txt", SessionConfig(min_lines=1, work="Book"))
    assert len(rows) == 4  # two sessions x two speaking characters
    anna = rows[0]
    assert anna["character"]["name"] == "Anna Reed" and anna["character"]["category"] == "fictional"
    assert anna["user_role"] == "Tom Hale" and anna["source"] == "extraction"
    assert [t["role"] for t in anna["turns"]] == ["character", "user", "character", "user"]
    assert [t["speaker"] for t in anna["turns"]] == ["Anna Reed", "Tom Hale", "Anna Reed", "Tom Hale"]
    for turn in anna["turns"]:
        assert " ".join(BOOK[s["start"]:s["end"]] for s in turn["spans"]) == turn["text"]
    assert anna["character"]["profile_text"].startswith("A schoolteacher. Anna Reed was a tall woman")
    assert anna["source_ref"].startswith("book.txt:")
    tom = rows[1]
    assert [t["role"] for t in tom["turns"]] == ["user", "character", "user", "character"]
    for row in rows:
        record = {**row, "meta": {e["key"]: e["value"] for e in row["meta"]}}
        record["character"] = {**row["character"], "attributes": {**row["character"]["attributes"], "extra": {}}}
        Dialogue.model_validate(record)


def test_configured_characters_by_alias():
    result = extract_novel(BOOK, CAST, "en")
    rows = dialogue_rows(result, "book.txt", SessionConfig(characters=("Tom",)))
    assert {r["character"]["name"] for r in rows} == {"Tom Hale"}


def test_quotes_table_offsets_exclude_marks():
    result = extract_novel(BOOK, CAST, "en")
    table = quotes_table(result, "book.txt")
    assert table.num_rows == 6
    first = table.slice(0, 1).to_pylist()[0]
    assert BOOK[first["start"] - 1] == '"' and BOOK[first["start"]:first["end"]] == "Where were you?"
    assert first["speaker"] == "Anna Reed" and first["method"] == "explicit"


def test_monologue_is_not_a_dialogue_and_unknown_is_not_a_user_role():
    text = '"One thing," said Anna.\n\nShe paused.\n\n"And another," said Anna.\n\n"Who is there?"'
    cast = Cast([CastMember("Anna Reed", ["Anna Reed", "Anna"], "F")])
    result = extract_novel(text, cast, "en")
    result.utterances[-1].speaker = None  # an unattributed last line
    rows = dialogue_rows(result, "m.txt", SessionConfig(min_lines=1))
    assert len(rows) == 1 and rows[0]["user_role"] == "unknown"
    assert [t["speaker"] for t in rows[0]["turns"]] == ["Anna Reed", "unknown"]
    result.utterances.pop()
    assert dialogue_rows(result, "m.txt", SessionConfig(min_lines=1)) == []


def test_unattributed_quotes_opening_a_session_are_not_turns():
    text = '"Trois Couronnes," she read.\n\n"Will you come?" said Anna.\n\n"Gladly," said Ben.'
    cast = Cast([CastMember("Anna Reed", ["Anna Reed", "Anna"], "F"), CastMember("Ben Lowe", ["Ben Lowe", "Ben"], "M")])
    result = extract_novel(text, cast, "en")
    result.utterances[0].speaker = None  # an unattributed opening quote (a title, a name)
    rows = dialogue_rows(result, "m.txt", SessionConfig(min_lines=1))
    assert rows, "the two speakers still make a session"
    for row in rows:
        assert [t["speaker"] for t in row["turns"]] == ["Anna Reed", "Ben Lowe"]
