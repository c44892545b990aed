"""Dialogue sessions from attributed quotes, and canonical dialogue rows per target character.

A session is a run of consecutive quotes broken by a chapter heading, a scene break, a gap of more than
`max_gap` paragraphs, or more than `max_narration` characters of narration between two quotes. For each
target character speaking in a session, one dialogue: that character's lines are `role = character`,
everyone else's `role = user` (with `speaker` naming them, `unknown` when unattributed, and `user_role`
listing the named ones). A session where only the target speaks is skipped.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from operators.extraction.novel import NovelExtraction
from operators.extraction.quotes import Utterance
from operators.extraction.text import SENTENCE_END
from operators.identity import character_id, content_digest, dialogue_id
from schemas.extraction import QUOTES_SCHEMA

UNKNOWN_SPEAKER = "unknown"


@dataclass(frozen=True)
class SessionConfig:
    """How quotes become sessions and sessions become dialogue rows."""

    max_gap: int = 3
    max_narration: int = 1500
    min_turns: int = 2
    min_lines: int = 5
    characters: tuple[str, ...] = ()
    category: str = "fictional"
    scenario: str = "other"
    work: str | None = None


@dataclass
class Turn:
    """Consecutive quotes of one speaker, merged."""

    speaker: str | None
    text: str
    spans: list[tuple[int, int]]


def group_sessions(result: NovelExtraction, config: SessionConfig) -> list[list[Utterance]]:
    """Consecutive quotes split at chapter headings, scene breaks, paragraph gaps and long narration."""
    sessions: list[list[Utterance]] = []
    current: list[Utterance] = []
    for utterance in result.utterances:
        if current and _breaks(result, current[-1], utterance, config):
            sessions.append(current)
            current = []
        current.append(utterance)
    if current:
        sessions.append(current)
    return sessions


def _breaks(result: NovelExtraction, previous: Utterance, utterance: Utterance, config: SessionConfig) -> bool:
    if utterance.continues_previous:
        return False
    if utterance.chapter != previous.chapter or utterance.paragraph - previous.paragraph > config.max_gap:
        return True
    paras = result.paragraphs[previous.paragraph + 1:utterance.paragraph]
    if any(p.scene_break or p.heading for p in paras):
        return True
    narration = sum(p.end - p.start for p in paras)
    return narration > config.max_narration


def turns_of(session: list[Utterance], language: str) -> list[Turn]:
    """Merge consecutive quotes of the same speaker (and continued paragraphs) into one turn."""
    joiner = "" if language == "zh" else " "
    turns: list[Turn] = []
    for utterance in session:
        if turns and (utterance.continues_previous or (utterance.speaker is not None and utterance.speaker == turns[-1].speaker)):
            turns[-1].text = turns[-1].text + joiner + utterance.text
            turns[-1].spans.extend(utterance.spans)
        else:
            turns.append(Turn(utterance.speaker, utterance.text, list(utterance.spans)))
    return turns


def target_characters(result: NovelExtraction, config: SessionConfig) -> list[str]:
    """The configured characters (main names or aliases), else every character with at least `min_lines` quotes."""
    if config.characters:
        index = result.cast.alias_index()
        return list(dict.fromkeys(index.get(name, [name])[0] for name in config.characters))
    counts = Counter(u.speaker for u in result.utterances if u.speaker)
    return [name for name, count in counts.most_common() if count >= config.min_lines]


def profile_of(result: NovelExtraction, name: str) -> str | None:
    """The cast profile, then the first descriptive narration sentence that names the character."""
    member = result.cast.by_name().get(name)
    parts = [member.profile] if member and member.profile else []
    aliases = member.aliases if member else [name]
    quoted = [(s, e) for u in result.utterances for s, e in u.spans]
    starts = [s for s, _ in quoted]
    pattern = re.compile("|".join(re.escape(a) for a in sorted(aliases, key=len, reverse=True)))
    for match in pattern.finditer(result.text):
        index = bisect.bisect_right(starts, match.start()) - 1
        if index >= 0 and quoted[index][0] <= match.start() < quoted[index][1]:
            continue
        sentence = _sentence_around(result.text, match.start())
        if len(sentence) > 20 and not any(mark in sentence for mark in "\"“”「」"):
            parts.append(sentence)
            break
    return " ".join(parts)[:600] or None


def _sentence_around(text: str, position: int) -> str:
    window_start = max(0, position - 600)
    start = window_start
    for match in SENTENCE_END.finditer(text, window_start, position):
        start = match.end()
    match = SENTENCE_END.search(text, position)
    end = match.end() if match else len(text)
    return " ".join(text[start:end].split())[:300]


def dialogue_rows(result: NovelExtraction, document: str, config: SessionConfig, meta: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Working-schema rows: one dialogue per (session, target character speaking in it)."""
    targets = target_characters(result, config)
    genders = {m.name: m.gender for m in result.cast.members}
    work = config.work
    profiles: dict[str, str | None] = {}
    rows = []
    for number, session in enumerate(group_sessions(result, config)):
        turns = turns_of(session, result.language)
        # Unattributed quotes opening a session are mostly titles, names and scare quotes, not speech;
        # later in a session they stay, as lines of someone the character talks to.
        while turns and turns[0].speaker is None:
            turns.pop(0)
        speakers = {t.speaker for t in turns}
        if len(turns) < config.min_turns:
            continue
        for name in targets:
            if name not in speakers:
                continue
            if name not in profiles:
                profiles[name] = profile_of(result, name)
            if all(t.speaker == name for t in turns):
                continue  # a monologue: nobody for the user role
            named = [s for s in dict.fromkeys(t.speaker for t in turns) if s and s != name]
            others = named or [UNKNOWN_SPEAKER]
            row_turns = [
                {
                    "role": "character" if t.speaker == name else "user",
                    "speaker": t.speaker or UNKNOWN_SPEAKER,
                    "text": t.text,
                    "spans": [{"start": s, "end": e} for s, e in t.spans],
                    "author_id": None,
                }
                for t in turns
            ]
            start, end = session[0].start, session[-1].end
            content = content_digest(name, ((t["role"], t["text"]) for t in row_turns))
            gender = genders.get(name)
            rows.append(
                {
                    "dialogue_id": dialogue_id("extraction", f"{document}#{start}-{end}:{name}", content),
                    "character_id": character_id(name, work),
                    "character": {
                        "name": name,
                        "category": config.category,
                        "work": work,
                        "attributes": {
                            "gender": {"M": "male", "F": "female"}.get(gender or ""),
                            "age": None,
                            "occupation": None,
                            "relationships": [],
                            "experiences": [],
                            "hobbies": [],
                            "extra": [],
                        },
                        "styles": {"speaking_style": None, "catchphrases": [], "example_lines": []},
                        "profile_text": profiles[name],
                    },
                    "user_role": ", ".join(others) if others else None,
                    "scenario": config.scenario,
                    "language": result.language,
                    "turns": row_turns,
                    "source": "extraction",
                    "source_ref": f"{document}:{start}-{end}",
                    # Key/value entries: the Arrow form of a dict field (a map, or a list of key/value structs).
                    "meta": [{"key": k, "value": v} for k, v in {**(meta or {}), "session": str(number), "chapter": str(session[0].chapter)}.items()],
                }
            )
    return rows


def quote_rows(result: NovelExtraction, document: str) -> list[dict[str, Any]]:
    """One row per detected quote, in QUOTES_SCHEMA (offsets exclude the quotation marks)."""
    return [
        {
            "document": document,
            "start": u.start,
            "end": u.end,
            "spans": [{"start": s, "end": e} for s, e in u.spans],
            "text": u.text,
            "speaker": u.speaker,
            "method": u.method,
            "confidence": float(u.confidence),
            "addressees": list(u.addressees),
            "chapter": u.chapter,
            "paragraph": u.paragraph,
        }
        for u in result.utterances
    ]


def quotes_table(result: NovelExtraction, document: str):
    """The quotes side table as Arrow."""
    import pyarrow as pa

    return pa.Table.from_pylist(quote_rows(result, document), schema=QUOTES_SCHEMA)
