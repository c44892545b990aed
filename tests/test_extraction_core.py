"""Unit tests of the extraction core on short texts written for the tests (English and Chinese)."""

from __future__ import annotations

import pytest

from operators.extraction.attribution import Attributor
from operators.extraction.cast import Cast, CastError, CastMember, Mentions, expand_aliases, load_cast
from operators.extraction.decoding import DecodingError, decode_bytes
from operators.extraction.discovery import discover_cast
from operators.extraction.novel import detect_language, extract_novel
from operators.extraction.quotes import detect_style, find_quotes
from operators.extraction.text import paragraphs

EN_CAST = Cast(
    [
        CastMember("Anna Reed", ["Anna Reed", "Anna", "Miss Reed"], "F"),
        CastMember("Tom Hale", ["Tom Hale", "Tom", "Mr. Hale"], "M"),
        CastMember("Mary Lowe", ["Mary Lowe", "Mary"], "F"),
    ]
)
ZH_CAST = Cast([CastMember("孙少平", ["孙少平", "少平"], "M"), CastMember("田晓霞", ["田晓霞", "晓霞"], "F")])


def quotes_of(text: str):
    utterances, warnings = find_quotes(text, paragraphs(text))
    return [[text[s:e] for s, e in u.spans] for u in utterances], warnings, utterances


def speakers(text: str, cast: Cast = EN_CAST, language: str = "en") -> list[tuple[str | None, str]]:
    result = extract_novel(text, cast, language)
    return [(u.speaker, u.method) for u in result.utterances]


# --- decoding ---------------------------------------------------------------------------------------------------


def test_decoding_utf8_bom_and_crlf():
    decoded = decode_bytes("\ufeff“你好，”他说。\r\n".encode("utf-8"), "a.txt")
    assert decoded.encoding == "utf-8" and decoded.bom
    assert decoded.text == "“你好，”他说。\n"


def test_decoding_gbk_and_gb18030():
    text = "“我还漂亮吗？”她问。\n少平笑了。"
    decoded = decode_bytes(text.encode("gbk"), "novel.txt")
    assert decoded.text == text and decoded.encoding == "gbk"
    rare = "𠀀" + text  # outside GBK, inside GB18030
    decoded = decode_bytes(rare.encode("gb18030"), "novel.txt")
    assert decoded.text == rare and decoded.encoding == "gb18030"


@pytest.mark.parametrize(
    "data, message",
    [(b"", "empty file"), (b"  \n\n", "empty file"), (b"\x00\x01\x02binary\x00", "binary file"), (b"caf\xe9 au lait \xff\xfe\xfd", "not UTF-8")],
)
def test_decoding_errors_name_the_file(data, message):
    with pytest.raises(DecodingError) as error:
        decode_bytes(data, "books/bad.txt")
    assert "books/bad.txt" in str(error.value) and message in str(error.value)


# --- quotes -----------------------------------------------------------------------------------------------------


def test_quote_styles_detected():
    assert detect_style("“Hi,” she said. “Bye.”") == "curly"
    assert detect_style('"Hi," she said. "Bye."') == "straight"
    assert detect_style("‘Hi,’ she said. ‘Bye.’ ‘Again.’") == "single"
    assert detect_style("「你好」他说。「再见」") == "corner"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("“Come here,” said Anna.", [["Come here,"]]),
        ('"Come here," said Anna.', [["Come here,"]]),
        ("‘Come here,’ said Anna. ‘Don’t wait.’", [["Come here,", "Don’t wait."]]),
        ("「过来」，晓霞说。", [["过来"]]),
        ("『过来』，晓霞说。", [["过来"]]),
    ],
)
def test_quote_marks_and_spans_exclude_marks(text, expected):
    found, _, utterances = quotes_of(text)
    assert found == expected
    assert text[utterances[0].start - 1] in "“\"‘「『"


def test_interrupted_quote_is_one_utterance_with_two_spans():
    found, _, utterances = quotes_of('"I think," said Tom, "that it will rain."')
    assert found == [["I think,", "that it will rain."]]
    assert utterances[0].text == "I think, that it will rain."


def test_multi_paragraph_quote_continues():
    text = '"First part of a long speech.\n\n"Second part of it," said Tom.\n\n"Reply," said Anna.'
    found, warnings, utterances = quotes_of(text)
    assert found == [["First part of a long speech."], ["Second part of it,"], ["Reply,"]]
    assert [u.continues_previous for u in utterances] == [False, True, False]
    assert not warnings


def test_unclosed_quote_recovers_at_paragraph_end():
    text = '"This never closes, said Tom.\n\nNarration goes on here.\n\n"A real quote," said Anna.'
    found, warnings, _ = quotes_of(text)
    assert found == [["This never closes, said Tom."], ["A real quote,"]]
    assert any("unclosed" in w.message for w in warnings)


def test_unclosed_curly_quote_stops_at_chapter_heading():
    text = "“Open and never closed\n\nCHAPTER II\n\n“Hello,” said Anna."
    found, warnings, _ = quotes_of(text)
    assert found[-1] == ["Hello,"]
    assert warnings


def test_scare_quote_is_not_speech():
    found, _, _ = quotes_of('She sang a song called "The Bogey Man" at the concert. "Lovely," said Tom.')
    assert found == [["Lovely,"]]


def test_paragraphs_and_chapters():
    text = "CHAPTER I\n\nOne line\nwrapped.\n\nTwo.\n\nCHAPTER II\n\nThree."
    paras = paragraphs(text)
    assert [p.chapter for p in paras if not p.heading] == [1, 1, 2]
    zh = "第一章\n少平笑了。\n晓霞也笑了。\n第二章\n天黑了。"
    assert [text_ for text_ in (zh[p.start:p.end] for p in paragraphs(zh) if not p.heading)] == ["少平笑了。", "晓霞也笑了。", "天黑了。"]


# --- cast -------------------------------------------------------------------------------------------------------


def test_cast_csv_with_duplicate_alias_warns_with_line(tmp_path):
    path = tmp_path / "cast.csv"
    path.write_text("name,aliases,gender\nAnna Reed,Anna;Miss Reed,F\nAnn Hale,Anna;Mrs. Hale,female\n", encoding="utf-8")
    cast = load_cast(str(path))
    assert [m.name for m in cast.members] == ["Anna Reed", "Ann Hale"]
    assert cast.members[1].gender == "F"
    assert len(cast.warnings) == 1 and f"{path}:3" in cast.warnings[0] and "'Anna'" in cast.warnings[0]


def test_cast_yaml_and_errors(tmp_path):
    path = tmp_path / "cast.yaml"
    path.write_text("- name: 孙少平\n  aliases: [少平]\n  gender: 男\n- name: 田晓霞\n  aliases: 晓霞;霞\n  gender: F\n", encoding="utf-8")
    cast = load_cast(str(path))
    assert cast.members[0].aliases == ["孙少平", "少平"] and cast.members[0].gender == "M"
    assert cast.members[1].aliases == ["田晓霞", "晓霞", "霞"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- name: A\n- aliases: [B]\n", encoding="utf-8")
    with pytest.raises(CastError, match=r"bad.yaml:2: character without a name"):
        load_cast(str(bad))
    headerless = tmp_path / "bad.csv"
    headerless.write_text("Anna,Ann,F\n", encoding="utf-8")
    with pytest.raises(CastError, match="bad.csv:1"):
        load_cast(str(headerless))


def test_expanded_aliases_and_wrapped_names():
    cast = expand_aliases(Cast([CastMember("Hercule Poirot", ["Hercule Poirot"], "M"), CastMember("Mr. Weston", ["Mr. Weston"], "M"), CastMember("Mrs. Weston", ["Mrs. Weston"], "F")]))
    aliases = cast.alias_index()
    assert aliases["Poirot"] == ["Hercule Poirot"]
    assert "Weston" not in aliases  # ambiguous between Mr. and Mrs. Weston
    found = Mentions(cast).find("Then Mrs.\nWeston spoke to Poirot.")
    assert [name for _, _, name in found] == ["Mrs. Weston", "Hercule Poirot"]


# --- attribution ------------------------------------------------------------------------------------------------


def test_explicit_both_orders():
    text = '"Good morning," said Anna.\n\n"Good morning to you," Tom replied.'
    assert speakers(text) == [("Anna Reed", "explicit"), ("Tom Hale", "explicit")]


def test_explicit_with_title_abbreviation():
    assert speakers('"Sit down," said Mr. Hale, smiling.')[0] == ("Tom Hale", "explicit")


def test_reporting_clause_in_previous_paragraph():
    text = "Anna looked up from her book and said:\n\n\"Is it late?\""
    assert speakers(text) == [("Anna Reed", "explicit")]


def test_anaphoric_pronoun_takes_gender_into_account():
    text = 'Anna and Tom walked to the gate.\n\n"It is cold," he said.\n\n"Then go in," she answered.'
    assert speakers(text) == [("Tom Hale", "anaphoric"), ("Anna Reed", "anaphoric")]


def test_implicit_alternation():
    text = '"Where were you?" asked Anna.\n\n"At the mill," said Tom.\n\n"All day?"\n\n"All day."\n\n"I do not believe you."'
    result = speakers(text)
    assert [s for s, _ in result] == ["Anna Reed", "Tom Hale", "Anna Reed", "Tom Hale", "Anna Reed"]
    assert [m for _, m in result[2:]] == ["implicit"] * 3


def test_vocative_is_the_addressee_not_the_speaker():
    text = 'Anna and Mary sat by the fire.\n\n"Mary, you look tired."\n\n"I am," said Mary.'
    result = extract_novel(text, EN_CAST, "en")
    first = result.utterances[0]
    assert first.addressees == ["Mary Lowe"]
    assert first.speaker == "Anna Reed"


def test_vocative_names_the_next_speaker():
    text = 'Tom came in, and Anna and Mary stood up.\n\n"Well, Mary?" said Tom.\n\n"Nothing new."'
    assert [s for s, _ in speakers(text)] == ["Tom Hale", "Mary Lowe"]


def test_zh_explicit_anaphoric_and_alternation():
    text = "\n".join(
        [
            "少平对着镜子一照，自己也笑了。",
            "他转过身，盯着她，问：",
            "“我还漂亮吗？”",
            "晓霞不笑了，嘴里喃喃地说：",
            "“是的，还和原来一样漂亮……”",
            "“真的？”",
            "“真的。”",
        ]
    )
    result = speakers(text, ZH_CAST, "zh")
    assert [s for s, _ in result] == ["孙少平", "田晓霞", "孙少平", "田晓霞"]
    assert result[0][1] == "anaphoric" and result[1][1] == "explicit" and result[2][1] == "implicit"


def test_zh_speech_verb_after_quote():
    text = "少平和晓霞走进屋。\n“想我了吗？”晓霞问。\n“想。”少平说。"
    assert [s for s, _ in speakers(text, ZH_CAST, "zh")] == ["田晓霞", "孙少平"]


def test_every_utterance_has_method_and_confidence():
    result = extract_novel('"Hello," said Anna.\n\nRain fell.\n\n"Who is there?"', EN_CAST, "en")
    for utterance in result.utterances:
        assert utterance.method in {"explicit", "anaphoric", "implicit", "none"}
        assert 0.0 <= utterance.confidence <= 1.0
        assert (utterance.speaker is None) == (utterance.method == "none")


# --- discovery and language -------------------------------------------------------------------------------------


def test_discovery_en_merges_aliases_and_guesses_gender():
    text = "\n\n".join(
        ['"Hello," said Mr. Robert Drake. Drake smiled at Lucy.', '"Hi," said Lucy Vance. She laughed.', '"Well," said Drake.',
         '"Yes," said Lucy.', "Drake nodded. Mr. Drake went home. Lucy stayed. She sat down.", '"Bye," said Lucy.']
    )
    utterances, _ = find_quotes(text, paragraphs(text))
    cast = discover_cast(text, utterances, "en")
    by_alias = cast.alias_index()
    assert by_alias["Drake"] == by_alias["Mr. Robert Drake"]
    assert by_alias["Lucy"] == by_alias["Lucy Vance"]
    genders = {m.name: m.gender for m in cast.members}
    assert genders[by_alias["Drake"][0]] == "M" and genders[by_alias["Lucy"][0]] == "F"


def test_discovery_zh_finds_full_and_given_names():
    lines = ["孙少平说：“走吧。”", "少平说：“好。”", "田晓霞问：“去哪？”", "晓霞说：“回家。”"] * 3
    text = "\n".join(lines)
    cast = discover_cast(text, [], "zh")
    index = cast.alias_index()
    assert index["少平"] == ["孙少平"] and index["晓霞"] == ["田晓霞"]


def test_extract_without_cast_attributes_with_discovered_names():
    text = "\n\n".join(['"Hello," said Lucy Vance.', '"Hi," said Robert Drake.'] * 3)
    assert {u.speaker for u in extract_novel(text).utterances} == {"Lucy Vance", "Robert Drake"}


def test_language_detection():
    assert detect_language("“你好，”他说。" * 5) == "zh"
    assert detect_language('"Hello," he said.') == "en"


def test_attributor_handles_no_quotes():
    text = "Nothing is said here."
    attributor = Attributor(text, paragraphs(text), EN_CAST, "en")
    attributor.attribute([])


def test_two_speakers_in_one_paragraph_are_two_utterances():
    text = '"You had better move on," said Tom. "Who is moving on?" said Anna.'
    found, _, _ = quotes_of(text)
    assert found == [["You had better move on,"], ["Who is moving on?"]]
    assert [s for s, _ in speakers(text)] == ["Tom Hale", "Anna Reed"]


def test_possessive_name_before_a_speech_noun_is_the_speaker():
    text = 'Tom looked at Mary.\n\n"I will go," was Anna\'s reply.'
    assert speakers(text) == [("Anna Reed", "explicit")]


def test_mixed_encoding_keeps_the_text_and_names_the_lines():
    data = "The café was open.\n".encode() + b"A stray Latin-1 byte: caf\xe9x.\n" + b"More text here. " * 50
    decoded = decode_bytes(data, "mixed.txt")
    assert decoded.encoding == "utf-8" and "café" in decoded.text and "\ufffd" in decoded.text
    assert decoded.warnings == ("mixed.txt:2: invalid UTF-8 byte b'\\xe9' replaced by U+FFFD",)


def test_discovery_skips_places_that_never_speak():
    text = "\n\n".join(['They drove to Harbury. "Hello," said Lucy Vance.', 'Harbury was quiet. "Hi," said Robert Drake.'] * 3)
    utterances, _ = find_quotes(text, paragraphs(text))
    names = {alias for member in discover_cast(text, utterances, "en").members for alias in member.aliases}
    assert "Harbury" not in names and {"Lucy Vance", "Robert Drake"} <= names


def test_second_quote_introduced_by_its_own_speaker_is_a_new_utterance():
    text = 'Tom stood up. "Schlegels again!" he exclaimed. Then Anna said, "Oh no, it is the doctor."'
    found, _, _ = quotes_of(text)
    assert found == [["Schlegels again!"], ["Oh no, it is the doctor."]]
    assert [s for s, _ in speakers(text)] == ["Tom Hale", "Anna Reed"]


def test_alternation_yields_to_a_named_next_turn():
    text = '"Where were you?" asked Anna.\n\n"At the mill," said Tom.\n\n"I went there twice to see the new wheel."\n\n"Did you?" said Anna.'
    assert [s for s, _ in speakers(text)] == ["Anna Reed", "Tom Hale", "Tom Hale", "Anna Reed"]


def test_title_vocative_rules_out_the_wrong_gender():
    text = 'Tom and Anna came in, and Mary rose.\n\n"Hello," said Tom.\n\n"Good day, madam," said Mary.\n\n"Good day to you."'
    assert speakers(text)[2][0] != "Tom Hale"


def test_of_several_names_before_the_verb_the_nearest_speaks():
    text = 'When Mary had gone, Anna said, "She will be back."'
    assert speakers(text) == [("Anna Reed", "explicit")]


def test_first_person_narrator_found_from_vocatives():
    cast = Cast([CastMember("Jake Barnes", ["Jake Barnes", "Jake"], "M"), CastMember("Brett Ashley", ["Brett Ashley", "Brett"], "F")])
    text = '"Hello, Jake," Brett said.\n\n"Hello," I said.\n\nI looked at the river for a long while, and nobody said anything for an hour or more.\n\n"It is late."'
    result = extract_novel(text, cast, "en")
    assert [(u.speaker, u.method) for u in result.utterances[:2]] == [("Brett Ashley", "explicit"), ("Jake Barnes", "anaphoric")]
    assert result.utterances[2].speaker == "Jake Barnes"  # "I" in the narration is the narrator


def test_zh_the_one_asked_answers():
    cast = Cast([CastMember("田福军", ["田福军", "福军"], "M"), CastMember("乔伯年", ["乔伯年", "乔书记"], "M"), CastMember("孙少平", ["孙少平"], "M")])
    text = "\n".join(["孙少平来过了。", "“那么，黄原地区的班子呢？”", "田福军问乔书记。", "“由正文接替你的工作。”"])
    assert [s for s, _ in speakers(text, cast, "zh")] == ["田福军", "乔伯年"]


def test_zh_narration_line_after_a_quote_names_its_speaker():
    text = "\n".join(["少平并不认识部长。", "“这是我的同学。我们还是亲戚哩！”", "晓霞有点结巴地给部长编织了她和少平的关系。"])
    assert speakers(text, ZH_CAST, "zh") == [("田晓霞", "explicit")]


def test_discovery_keeps_a_speech_verb_subject_seen_once():
    from operators.extraction.novel import extract_novel

    text = ('The rain came sideways.\n\n"You are late," said Mara Quinn.\n\n"The road washed out," Tom said.\n\n'
            '"Then take your boots off."\n\n"Gladly."\n')
    result = extract_novel(text, None, "en")
    assert {"Mara Quinn", "Tom"} <= {m.name for m in result.cast.members}
    assert [u.speaker for u in result.utterances] == ["Mara Quinn", "Tom", "Mara Quinn", "Tom"]
