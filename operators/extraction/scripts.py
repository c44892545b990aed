"""Scripts: Chinese `角色：台词（动作）`, Fountain / plain screenplays, Gutenberg-style stage plays.

Each spoken line becomes an utterance whose speaker comes from its cue (method explicit, confidence 1),
with spans over the spoken words only: stage directions in （）/() or [] are cut out of the text (they
stay in the document, and are counted in `directions`). Scenes (第X场, INT./EXT., ACT/SCENE) play the
role of chapters, so sessions are scenes. A line that reads like speech but has no speaker cue is
reported in `problems` with its line number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from operators.extraction.cast import Cast, CastMember
from operators.extraction.novel import NovelExtraction
from operators.extraction.quotes import QuoteWarning, Utterance
from operators.extraction.text import Paragraph

ScriptFormat = Literal["auto", "zh", "fountain", "play"]

_ZH_LINE = re.compile(r"^\s*([^\s：:（(【\[]{1,12}?)\s*(?:[（(]([^）)]*)[）)])?\s*[：:]\s*(.*\S)\s*$")
_ZH_SCENE = re.compile(r"^\s*(?:第[0-9零一二三四五六七八九十百]+[场幕集]|【.*】|场景[：:]|\d+[\-、.]\d*\s*[日夜内外].*)")
_DIRECTION = re.compile(r"[（(][^）)]*[）)]|\[[^\]]*\]")
_FOUNTAIN_SCENE = re.compile(r"^\s*(?:INT|EXT|EST|INT\./EXT|INT/EXT|I/E)[.\s]|^\.[A-Za-z]")
_CUE = re.compile(r"^\s*@?([A-Z][A-Z0-9 .'\-]{0,40}?)\s*(\((?:V\.O\.|O\.S\.|O\.C\.|CONT'D|CONT’D|cont'd)\))?\s*\^?\s*$")
_TRANSITION = re.compile(r"^\s*(?:[A-Z ]+TO:|FADE (?:IN|OUT)[.:]?|>.*)\s*$")
_PLAY_CUE = re.compile(r"^\s{0,8}([A-Z][A-Za-z]*(?:\s+[A-Z][A-Za-z]*){0,3})\.(?:\s+(\S.*))?$")
_PLAY_SCENE = re.compile(r"^\s*(?:ACT|SCENE|Act|Scene)\s+[IVXLC\d]+\b", re.IGNORECASE)
_PLAY_DIRECTION = re.compile(r"^\s*(?:\[.*\]?|_.*_|(?:Enter|Exit|Exeunt|Re-enter|Manent|Flourish|Alarum|Sennet)\b.*)$")
_PERSONAE = re.compile(r"^\s*(?:DRAMATIS PERSON[AÆ]E|PERSONS REPRESENTED|Dramatis Person[aæ]e|CHARACTERS|THE PERSONS OF THE PLAY)", re.IGNORECASE)


@dataclass
class ScriptExtraction:
    """The utterances of a script as a NovelExtraction (for sessions), with the problems found."""

    extraction: NovelExtraction
    format: str
    problems: list[tuple[int, str]] = field(default_factory=list)
    directions: int = 0


def detect_format(text: str) -> str:
    """zh when most cue lines are `name：`, fountain when there are INT./EXT. headings or upper-case cues, else play."""
    lines = text.split("\n")[:3000]
    zh = sum(1 for line in lines if "：" in line[:14] and _ZH_LINE.match(line))
    fountain = sum(1 for line in lines if _FOUNTAIN_SCENE.match(line))
    play = sum(1 for line in lines if _PLAY_CUE.match(line))
    if zh >= max(3, play // 2):
        return "zh"
    if fountain >= 1:
        return "fountain"
    return "play"


def extract_script(text: str, fmt: ScriptFormat = "auto", cast: Cast | None = None) -> ScriptExtraction:
    """Parse a script into speaker-attributed utterances."""
    fmt = detect_format(text) if fmt == "auto" else fmt
    parser = {"zh": _parse_zh, "fountain": _parse_fountain, "play": _parse_play}[fmt]
    return parser(text, cast)


class _Builder:
    """Collects line paragraphs, scenes and utterances with code-point spans."""

    def __init__(self, text: str, joiner: str = " ") -> None:
        self.text = text
        self.joiner = joiner
        self.paragraphs: list[Paragraph] = []
        self.utterances: list[Utterance] = []
        self.speakers: dict[str, int] = {}
        self.scene = 0
        self.problems: list[tuple[int, str]] = []
        self.directions = 0

    def heading(self, start: int, end: int) -> None:
        self.scene += 1
        self.paragraphs.append(Paragraph(len(self.paragraphs), start, end, self.scene, heading=True))

    def line(self, start: int, end: int) -> int:
        self.paragraphs.append(Paragraph(len(self.paragraphs), start, end, self.scene))
        return len(self.paragraphs) - 1

    def speech(self, speaker: str, pieces: list[tuple[int, int]], paragraph: int) -> None:
        """Spoken pieces with directions cut out; an empty speech (only a direction) is skipped."""
        spans = []
        for start, end in pieces:
            position = start
            for match in _DIRECTION.finditer(self.text, start, end):
                self.directions += 1
                spans.append((position, match.start()))
                position = match.end()
            spans.append((position, end))
        spans = [_trim(self.text, s, e) for s, e in spans]
        spans = [(s, e) for s, e in spans if e > s]
        if not spans:
            return
        speaker = " ".join(speaker.split())
        self.speakers[speaker] = self.speakers.get(speaker, 0) + 1
        text = self.joiner.join(" ".join(self.text[s:e].split()) for s, e in spans)
        self.utterances.append(Utterance(spans, paragraph, self.scene, text=text, speaker=speaker, method="explicit", confidence=1.0))

    def result(self, language: str, fmt: str, cast: Cast | None) -> ScriptExtraction:
        known = cast or Cast([CastMember(name, [name]) for name in self.speakers])
        extraction = NovelExtraction(self.text, language, self.paragraphs, self.utterances, known, [QuoteWarning(0, m) for _, m in self.problems])
        return ScriptExtraction(extraction, fmt, self.problems, self.directions)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and (text[start].isspace() or text[start] in "：:"):
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _lines(text: str):
    position = 0
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, position, position + len(line), line
        position += len(line) + 1


def _parse_zh(text: str, cast: Cast | None) -> ScriptExtraction:
    builder = _Builder(text, joiner="")
    resolve = _resolver(cast)
    for number, start, end, line in _lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        if _ZH_SCENE.match(line):
            builder.heading(start, end)
            continue
        match = _ZH_LINE.match(line)
        if match and not _DIRECTION.fullmatch(stripped):
            paragraph = builder.line(start, end)
            builder.speech(resolve(match.group(1)), [(start + match.start(3), start + match.end(3))], paragraph)
            continue
        builder.line(start, end)
        if not _DIRECTION.fullmatch(stripped) and any(mark in stripped for mark in "。！？…") and not stripped.startswith(("（", "(", "[", "【")):
            builder.problems.append((number, f"line {number}: speech-like line without a speaker cue (`角色：台词`): {stripped[:40]!r}"))
    return builder.result("zh", "zh", cast)


def _parse_fountain(text: str, cast: Cast | None) -> ScriptExtraction:
    builder = _Builder(text)
    resolve = _resolver(cast)
    lines = list(_lines(text))
    index = 0
    while index < len(lines):
        number, start, end, line = lines[index]
        previous_blank = index == 0 or not lines[index - 1][3].strip()
        following = lines[index + 1][3] if index + 1 < len(lines) else ""
        if _FOUNTAIN_SCENE.match(line):
            builder.heading(start, end)
        elif previous_blank and following.strip() and not _TRANSITION.match(line) and (cue := _CUE.match(line)) and any(c.isalpha() for c in cue.group(1)):
            paragraph = builder.line(start, end)
            pieces = []
            index += 1
            while index < len(lines) and lines[index][3].strip():
                _, piece_start, piece_end, piece = lines[index]
                if not re.fullmatch(r"\s*\(.*\)\s*", piece):
                    pieces.append((piece_start, piece_end))
                else:
                    builder.directions += 1
                index += 1
            builder.speech(resolve(cue.group(1).strip()), pieces, paragraph)
            continue
        elif line.strip():
            builder.line(start, end)
        index += 1
    return builder.result(_language(text), "fountain", cast)


def _parse_play(text: str, cast: Cast | None) -> ScriptExtraction:
    builder = _Builder(text)
    cast = cast or _dramatis_personae(text)
    resolve = _resolver(cast)
    speaker: str | None = None
    pieces: list[tuple[int, int]] = []
    paragraph = -1
    in_personae = False

    def flush() -> None:
        nonlocal speaker, pieces
        if speaker is not None and pieces:
            builder.speech(speaker, pieces, paragraph)
        speaker, pieces = None, []

    for _, start, end, line in _lines(text):
        stripped = line.strip()
        if _PERSONAE.match(line):
            in_personae = True
            continue
        if in_personae:
            if _PLAY_SCENE.match(line):
                in_personae = False
            else:
                continue
        if _PLAY_SCENE.match(line):
            flush()
            builder.heading(start, end)
            continue
        if not stripped:
            continue
        cue = _PLAY_CUE.match(line)
        if cue and (cast is None or resolve(cue.group(1), strict=True) is not None or cue.group(1).isupper()):
            flush()
            speaker = resolve(cue.group(1)) if cast else cue.group(1).title()
            paragraph = builder.line(start, end)
            if cue.group(2):
                pieces.append((start + cue.start(2), start + cue.end(2)))
            continue
        if _PLAY_DIRECTION.match(line):
            builder.directions += 1
            builder.line(start, end)
            continue
        if speaker is not None:
            pieces.append((start, end))
        else:
            builder.line(start, end)
    flush()
    return builder.result(_language(text), "play", cast)


def _dramatis_personae(text: str) -> Cast | None:
    """The cast list of a play: one `NAME, description` per line after a Dramatis Personae heading."""
    lines = text.split("\n")
    for index, line in enumerate(lines[:2000]):
        if _PERSONAE.match(line):
            members = []
            for entry in lines[index + 1:index + 120]:
                if _PLAY_SCENE.match(entry):
                    break
                name = re.split(r"[,.;:]", entry.strip(), maxsplit=1)[0].strip()
                if name and name[0].isupper() and len(name.split()) <= 4 and not name.lower().startswith(("scene", "act")):
                    members.append(CastMember(name.title() if name.isupper() else name, [name]))
            return Cast(members) if members else None
    return None


def _resolver(cast: Cast | None):
    """Cue -> cast main name: exact alias, then case-insensitive, then an abbreviation (`Ham` -> Hamlet,
    `Lord Pol` -> Lord Polonius) when it is the prefix of exactly one character's name."""
    index = cast.alias_index() if cast else {}
    lowered: dict[str, list[str]] = {}
    for alias, names in index.items():
        lowered.setdefault(alias.lower(), []).extend(names)

    def resolve(cue: str, strict: bool = False) -> str | None:
        cue = " ".join(cue.strip().rstrip(".").split())
        if cue in index:
            return index[cue][0]
        if cue.lower() in lowered:
            return lowered[cue.lower()][0]
        words = cue.lower().split()
        matches = {name for alias, names in lowered.items() for name in names if _abbreviates(words, alias.split())}
        if len(matches) == 1:
            return matches.pop()
        return None if strict else (cue.title() if cue.isupper() else cue)

    return resolve


def _abbreviates(words: list[str], alias: list[str]) -> bool:
    """Each cue word is a prefix of consecutive alias words: `king` ~ King Claudius, `lord pol` ~ Lord Polonius."""
    return any(
        all(a.startswith(w) for a, w in zip(alias[offset:offset + len(words)], words, strict=True))
        for offset in range(len(alias) - len(words) + 1)
    )


def _language(text: str) -> str:
    from operators.extraction.novel import detect_language

    return detect_language(text)
