"""Script parsing: Chinese scripts, Fountain screenplays, stage plays with abbreviated cues."""

from __future__ import annotations

from operators.extraction.cast import Cast, CastMember
from operators.extraction.scripts import detect_format, extract_script
from operators.extraction.sessions import SessionConfig, group_sessions

ZH = """第一场 客厅 日
（幕启。）
周朴园：（坐下）繁漪，你过来。
繁漪(冷笑)：你叫我做什么？
周朴园:喝药。（递碗）你喝了它。
这里没人说话。
第二场 花园 夜
繁漪：我不喝。
周朴园：喝下去！
"""
FOUNTAIN = """INT. KITCHEN - NIGHT

Anna pours tea.

ANNA
(quietly)
Did you hear that?

TOM (V.O.)
Hear what?

CUT TO:

EXT. GARDEN - NIGHT

ANNA
Nothing.
"""
PLAY = """DRAMATIS PERSONAE

HAMLET, Prince of Denmark.
POLONIUS, Lord Chamberlain.
KING CLAUDIUS, King of Denmark.

ACT I

SCENE II. A room of state in the castle.

Enter King Claudius and Hamlet.

King. Though yet of Hamlet our dear brother's death
The memory be green,

Ham. [Aside.] A little more than kin, and less than kind!

POLONIUS.
My lord, the queen would speak with you.

Exeunt.
"""


def spoken(result):
    return [(u.speaker, u.text) for u in result.extraction.utterances]


def test_format_detection():
    assert detect_format(ZH) == "zh"
    assert detect_format(FOUNTAIN) == "fountain"
    assert detect_format(PLAY) == "play"


def test_zh_script_cues_directions_and_missing_speaker():
    result = extract_script(ZH)
    assert spoken(result) == [("周朴园", "繁漪，你过来。"), ("繁漪", "你叫我做什么？"), ("周朴园", "喝药。你喝了它。"), ("繁漪", "我不喝。"), ("周朴园", "喝下去！")]
    third = result.extraction.utterances[2]
    assert [ZH[s:e] for s, e in third.spans] == ["喝药。", "你喝了它。"]  # the direction is cut out of the spans
    assert result.directions == 2
    assert result.problems == [(6, "line 6: speech-like line without a speaker cue (`角色：台词`): '这里没人说话。'")]
    assert [len(s) for s in group_sessions(result.extraction, SessionConfig(max_gap=1 << 30, max_narration=1 << 30))] == [3, 2]


def test_fountain_cues_parentheticals_and_scenes():
    result = extract_script(FOUNTAIN)
    assert spoken(result) == [("Anna", "Did you hear that?"), ("Tom", "Hear what?"), ("Anna", "Nothing.")]
    assert [u.chapter for u in result.extraction.utterances] == [1, 1, 2]
    assert result.directions == 1


def test_play_abbreviated_cues_resolved_with_dramatis_personae():
    result = extract_script(PLAY)
    assert spoken(result) == [
        ("King Claudius", "Though yet of Hamlet our dear brother's death The memory be green,"),
        ("Hamlet", "A little more than kin, and less than kind!"),
        ("Polonius", "My lord, the queen would speak with you."),
    ]


def test_play_cues_resolved_with_cast_file():
    cast = Cast([CastMember("Lord Polonius", ["Lord Polonius"], "M"), CastMember("Prince Hamlet", ["Prince Hamlet", "Hamlet"], "M")])
    text = "ACT I\n\nHam. To be, or not to be.\n\nPol. My lord?\n\nLord Pol. Indeed.\n"
    assert [s for s, _ in spoken(extract_script(text, "play", cast))] == ["Prince Hamlet", "Lord Polonius", "Lord Polonius"]
