"""Quote detection: “…” "…" ‘…’ 「…」 『…』, multi-paragraph quotes, interrupted quotes, unclosed-quote recovery.

Offsets are code points into the decoded text. A span covers the quoted words only, **without** the
quotation marks (the convention of the PDNC corpus); `Utterance.start`/`end` run from the first span's
start to the last span's end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from operators.extraction.lexicon import EN_SPEECH_VERBS
from operators.extraction.text import Paragraph

# Quote styles: name -> (openers, closers). Straight double quotes are undirected.
STYLES: dict[str, tuple[str, str]] = {
    "curly": ("“", "”"),
    "corner": ("「『", "」』"),
    "straight": ('"', '"'),
    "single": ("‘", "’"),
}
_WORD_AFTER = re.compile(r"\w")
_SENTENCE_END_IN_GAP = re.compile(r"[.!?;]\s+\S")
_INTRODUCES = re.compile(r"(?:\b[A-Z][a-z]+|\b[Hh]e|\b[Ss]he|\bI)\s+(?:\w+ly\s+)?(?:" + "|".join(EN_SPEECH_VERBS) + r")\s*[,:]?\s*$")
_OWN_REPORT = re.compile(r"[\s,!?.;:\-—]*(?:[\w.]+\s+){0,3}?(?:" + "|".join(EN_SPEECH_VERBS) + r")\b")


@dataclass
class Utterance:
    """One utterance: one or more quoted spans said in one breath, and the attribution filled in later."""

    spans: list[tuple[int, int]]
    paragraph: int
    chapter: int
    text: str = ""
    speaker: str | None = None
    method: str = "none"
    confidence: float = 0.0
    addressees: list[str] = field(default_factory=list)
    continues_previous: bool = False

    @property
    def start(self) -> int:
        return self.spans[0][0]

    @property
    def end(self) -> int:
        return self.spans[-1][1]


@dataclass
class QuoteWarning:
    """A recoverable problem, e.g. an unclosed quote closed at a paragraph boundary."""

    offset: int
    message: str


def detect_style(text: str) -> str:
    """The document's primary quote style, by counting opening marks."""
    counts = {
        "curly": text.count("“"),
        "corner": text.count("「") + text.count("『"),
        "straight": text.count('"') // 2,
        "single": text.count("‘"),
    }
    # ‘ is also used for nested quotes inside “…”: British style only when it clearly dominates.
    if counts["single"] and counts["single"] < 2 * max(counts["curly"], counts["straight"]):
        counts["single"] = 0
    style = max(counts, key=lambda k: counts[k])
    return style if counts[style] else "curly"


def find_quotes(text: str, paras: list[Paragraph], style: str | None = None) -> tuple[list[Utterance], list[QuoteWarning]]:
    """All utterances in document order, with warnings for unbalanced quotes."""
    style = style or detect_style(text)
    openers, closers = STYLES[style]
    raw: list[tuple[int, int, int, bool]] = []  # start, end, paragraph index, continues into next paragraph
    warnings: list[QuoteWarning] = []
    carry_open = False  # a quote left open at the end of the previous paragraph, re-opened by a leading mark
    for number, para in enumerate(paras):
        if para.heading:
            if carry_open:
                warnings.append(QuoteWarning(para.start, "unclosed quote closed at a chapter heading"))
            carry_open = False
            continue
        spans, open_at_end, unmatched = _scan(text, para, openers, closers, style)
        carry_open = False
        for start, end in spans:
            raw.append((start, end, number, False))
        if open_at_end is not None:
            following = paras[number + 1] if number + 1 < len(paras) else None
            continues = following is not None and not following.heading and text[following.start] in openers
            raw.append((open_at_end, para.end, number, continues))
            carry_open = continues
            if not continues:
                warnings.append(QuoteWarning(open_at_end, "unclosed quote closed at the paragraph end"))
        for offset in unmatched:
            warnings.append(QuoteWarning(offset, "closing quotation mark without an opening one"))
    return _group(text, raw, paras), warnings


def _scan(text: str, para: Paragraph, openers: str, closers: str, style: str) -> tuple[list[tuple[int, int]], int | None, list[int]]:
    """Quoted spans inside one paragraph; the start of a quote still open at its end; unmatched closers."""
    spans: list[tuple[int, int]] = []
    unmatched: list[int] = []
    depth = 0
    start = -1
    for position in range(para.start, para.end):
        char = text[position]
        if style == "straight":
            if char != '"':
                continue
            if depth == 0:
                depth, start = 1, position + 1
            else:
                if position > start:
                    spans.append((start, position))
                depth = 0
            continue
        if char in openers:
            if depth == 0:
                start = position + 1
            depth += 1
        elif char in closers:
            # ’ doubles as the apostrophe: inside a word (don’t) it does not close a quote.
            if style == "single" and position + 1 < para.end and _WORD_AFTER.match(text[position + 1]):
                continue
            if depth == 0:
                if style != "single":
                    unmatched.append(position)
                continue
            depth -= 1
            if depth == 0 and position > start:
                spans.append((start, position))
    return spans, (start if depth > 0 and start < para.end else None), unmatched


def _group(text: str, raw: list[tuple[int, int, int, bool]], paras: list[Paragraph]) -> list[Utterance]:
    """Spans of one paragraph form one utterance (an interrupted quote). A quote running over several
    paragraphs gives one utterance per paragraph, the later ones marked `continues_previous`."""
    utterances: list[Utterance] = []
    previous_continues = False
    for start, end, index, continues in raw:
        if not text[start:end].strip() or _is_mention(text, start, end, paras[index]):
            continue
        current = utterances[-1] if utterances else None
        if current is not None and current.paragraph == index and _same_breath(text, current.end, start, end, paras[index].end):
            current.spans.append((start, end))
        else:
            utterances.append(Utterance([(start, end)], index, paras[index].chapter, continues_previous=previous_continues))
        previous_continues = continues
    for utterance in utterances:
        utterance.text = " ".join(_clean(text[s:e]) for s, e in utterance.spans)
    return utterances


def _is_mention(text: str, start: int, end: int, para: Paragraph) -> bool:
    """A title or scare quote inside a sentence (a song called "The Bogey Man"), not speech: short, no final
    punctuation, and the sentence runs on both sides of it."""
    body = text[start:end].strip()
    if len(body.split()) > 4 or body[-1:] in ".,!?;:-—…。，！？；：" or start - 1 <= para.start:
        return False
    before = text[para.start:start - 1].rstrip()
    after = text[end + 1:para.end].lstrip()
    return bool(before) and before[-1].isalnum() and bool(after) and (after[0].islower() or after[0] in ".,;")


def _same_breath(text: str, previous_end: int, start: int, end: int, paragraph_end: int) -> bool:
    """Two quotes of one paragraph are one utterance unless long narration separates them, or the narration
    ends a sentence and the second quote has a reporting clause of its own ("…," said A. "…," said B.)."""
    gap = text[previous_end:start]
    if len(gap.split()) > 30:
        return False
    if _SENTENCE_END_IN_GAP.search(gap) and _INTRODUCES.search(gap.rstrip("\"“‘「『 \n")):
        return False  # "…," he said. Then Dolly said, "…": the second quote has its own speaker
    return not (_SENTENCE_END_IN_GAP.search(gap) and _OWN_REPORT.match(text, end + 1, min(paragraph_end, end + 60)))


def _clean(fragment: str) -> str:
    return " ".join(fragment.split())
