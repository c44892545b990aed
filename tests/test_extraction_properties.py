"""Property tests: any text, however broken its quotation marks, extracts without error and with sane spans."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from operators.extraction.cast import Cast, CastMember
from operators.extraction.novel import extract_novel
from operators.extraction.sessions import SessionConfig, dialogue_rows, quote_rows

CAST = Cast([CastMember("Anna Reed", ["Anna Reed", "Anna"], "F"), CastMember("孙少平", ["孙少平", "少平"], "M")])
PIECES = st.sampled_from(['"', "“", "”", "‘", "’", "「", "」", "'", "\n", "\n\n", " ", "said Anna", "少平说：", "he said", "CHAPTER I\n", "第二章\n",
                          "Hello", "你好", ",", ".", "！", "* * *\n"])


@settings(max_examples=150, deadline=None)
@given(st.lists(PIECES, max_size=60).map("".join), st.sampled_from(["auto", "en", "zh"]))
def test_any_text_extracts_with_spans_inside_the_text(text, language):
    result = extract_novel(text, CAST, language)
    previous_end = -1
    for utterance in result.utterances:
        assert utterance.spans and all(0 <= s < e <= len(text) for s, e in utterance.spans)
        assert utterance.start > previous_end  # utterances are disjoint and in order
        previous_end = utterance.end
        assert utterance.method in {"explicit", "anaphoric", "implicit", "none"}
        assert utterance.speaker is None or utterance.speaker in {"Anna Reed", "孙少平"}
    rows = dialogue_rows(result, "x.txt", SessionConfig(min_lines=1))
    assert all(row["turns"] for row in rows)
    assert len(quote_rows(result, "x.txt")) == len(result.utterances)


SCRIPT_LINES = st.sampled_from(["周朴园：你好。", "繁漪(冷笑)：不。", "（幕启）", "第一场", "INT. ROOM - DAY", "", "ANNA", "(quietly)", "Hello there.",
                                "HAMLET.", "Ham. To be.", "ACT I", "Enter Hamlet.", "DRAMATIS PERSONAE", "这里没人。"])


@settings(max_examples=150, deadline=None)
@given(st.lists(SCRIPT_LINES, max_size=40).map("\n".join), st.sampled_from(["auto", "zh", "fountain", "play"]))
def test_any_script_parses_with_spans_inside_the_text(text, fmt):
    from operators.extraction.scripts import extract_script

    result = extract_script(text, fmt)
    for utterance in result.extraction.utterances:
        assert utterance.speaker and all(0 <= s < e <= len(text) for s, e in utterance.spans)
        assert utterance.text == ("" if result.format == "zh" else " ").join(" ".join(text[s:e].split()) for s, e in utterance.spans)
    assert all(1 <= line <= text.count("\n") + 1 for line, _ in result.problems)
