"""Built-in checks on generated dialogues and turns; each problem is a (reject reason, detail) pair.

They run inside the generation loop, so a failing answer is first fed back to the model and only becomes
a reject when every retry failed: AI-isms and character breaks, the wrong language, the character
speaking the user's lines, alternation and turn count.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

Problem = tuple[str, str]

# Phrases that break character: the model talking as an assistant instead of as the person.
_AI_ISMS = re.compile(
    "|".join(
        (
            r"\bas an? (?:ai|a\.i\.|artificial intelligence|language model|large language model|virtual assistant|chatbot)\b",
            r"\bi(?:'m| am) (?:just )?an? (?:ai|a\.i\.|language model|large language model|virtual assistant|chatbot)\b",
            r"\bi (?:do not|don't) have (?:personal )?(?:feelings|emotions|a body|personal experiences)\b",
            r"\bi (?:cannot|can't) (?:role-?play|pretend to be)\b",
            r"\b(?:openai|chatgpt)\b",
            r"作为一?个?\s*(?:AI|ai|人工智能|语言模型|虚拟助手|聊天机器人)",
            r"我(?:只)?是一?个?\s*(?:AI|ai|人工智能|语言模型|虚拟助手|聊天机器人)",
            r"我没有(?:个人的?)?(?:情感|感情|感受|身体|亲身经历)",
        )
    ),
    re.IGNORECASE,
)

_USER_LABELS_EN = ("user", "you", "me")
_USER_LABELS_ZH = ("用户", "你", "我")


def character_break(text: str) -> Problem | None:
    """An assistant phrase ("as an AI", "作为一个AI" …) in a character's line."""
    match = _AI_ISMS.search(text)
    if match:
        return "character_break", f"the character speaks as an assistant: {match.group(0)!r}"
    return None


def _is_cjk(ch: str) -> bool:
    return "CJK" in unicodedata.name(ch, "") or "\u3040" <= ch <= "\u30ff"


# the commonest English function words: a Latin-script text where they are frequent is English, without
# paying for langdetect (milliseconds per call) on every generated dialogue
_ENGLISH_WORDS = frozenset("the a an and or but to of in on at for with is are was were be been i you he she it we they my your "
                           "me him her us them this that not do did have has had what how so if just".split())


def detect_language(text: str) -> str:
    """'zh' for Han-script text, 'en' for plainly English text, else langdetect's code (seeded); 'und' when unknown."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return "und"
    cjk = sum(1 for ch in letters if _is_cjk(ch))
    if cjk / len(letters) >= 0.3:
        kana = sum(1 for ch in letters if "\u3040" <= ch <= "\u30ff")
        return "ja" if kana > cjk * 0.2 else "zh"
    words = re.findall(r"[a-z']+", text.lower())
    if len(words) >= 8 and sum(word in _ENGLISH_WORDS for word in words) / len(words) >= 0.25 and all(ord(ch) < 0x250 for ch in letters):
        return "en"
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0
    try:
        return detect(text).split("-")[0]
    except LangDetectException:
        return "und"


def wrong_language(texts: Sequence[str], expected: str) -> Problem | None:
    """The texts together are not in `expected` (only checked for zh and en, where detection is reliable)."""
    joined = "\n".join(texts)
    # too little text for a reliable guess: "Ha! Sure." must not become a reject
    if expected not in ("zh", "en") or sum(ch.isalpha() for ch in joined) < 20:
        return None
    found = detect_language(joined)
    if found != expected:
        return "wrong_language", f"expected {expected}, the text reads as {found}"
    return None


def speaks_user_lines(text: str, user_speaker: str, language: str) -> Problem | None:
    """A character turn containing a line labelled as the other side ("User: …", "用户：…", "<role>: …")."""
    labels = {user_speaker.strip().casefold(), *(_USER_LABELS_ZH if language == "zh" else _USER_LABELS_EN)}
    for line in text.splitlines():
        label, separator, rest = re.split(r"([:：])", line, maxsplit=1) if re.search(r"[:：]", line) else (line, "", "")
        if separator and rest.strip() and label.strip().strip("*[]()（）").casefold() in labels:
            return "character_speaks_user_lines", f"a character turn contains a line by the other side: {line.strip()[:120]!r}"
    return None


def dialogue_problems(
    turns: Sequence[tuple[str, str]], *, expected_turns: int, first_role: str, language: str, user_speaker: str
) -> list[Problem]:
    """Every problem of a generated dialogue given as (role, text) pairs; empty when it passes."""
    problems: list[Problem] = []
    if len(turns) != expected_turns:
        problems.append(("wrong_turn_count", f"{len(turns)} turns, expected {expected_turns}"))
    for index, (role, _) in enumerate(turns):
        expected_role = first_role if index % 2 == 0 else ("character" if first_role == "user" else "user")
        if role != expected_role:
            problems.append(("turns_not_alternating", f"turn {index + 1} is by the {role}, expected the {expected_role}"))
            break
    for index, (role, text) in enumerate(turns):
        if not text.strip():
            problems.append(("empty_turn", f"turn {index + 1} is empty"))
            break
        if role == "character":
            for problem in (character_break(text), speaks_user_lines(text, user_speaker, language)):
                if problem is not None:
                    problems.append((problem[0], f"turn {index + 1}: {problem[1]}"))
    language_problem = wrong_language([text for _, text in turns], language)
    if language_problem is not None:
        problems.append(language_problem)
    return problems


def turn_problems(text: str, *, language: str, user_speaker: str) -> list[Problem]:
    """Problems of one rewritten character turn."""
    checks = (
        ("empty_turn", "the rewrite is empty") if not text.strip() else None,
        character_break(text),
        speaks_user_lines(text, user_speaker, language),
        wrong_language([text], language),
    )
    return [problem for problem in checks if problem is not None]
