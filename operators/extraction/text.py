"""Paragraphs and chapters of a decoded document, as code-point ranges."""

from __future__ import annotations

import re
from dataclasses import dataclass

_BLANK_SPLIT = re.compile(r"\n[ \t\u3000]*\n\s*")
_CHAPTER = re.compile(
    r"^\s*(?:(?:chapter|book|part|volume|act|scene)\s+[\divxlcdm]+\b.*"
    r"|[IVXLC]+\.?\s*$|\d{1,3}\.?\s*$"
    r"|第[0-9零一二三四五六七八九十百千两]+[章回节卷幕集部篇].*"
    r"|[零一二三四五六七八九十百]+、?\s*$)",
    re.IGNORECASE,
)
# Sentence ends; a full stop after a title (Mr. Knightley) does not end the sentence.
SENTENCE_END = re.compile(
    r"(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bMme)(?<!\bMlle)(?<!\bRev)(?<!\bCapt)(?<!\bCol)[.!?;]\s*|[。！？；…]|\n\s*\n"
)
_SCENE_BREAK = re.compile(r"^\s*(?:[*#~=\-·•]\s*){3,}\s*$")


@dataclass(frozen=True)
class Paragraph:
    """A paragraph: [start, end) in the text, its chapter number and whether it is a heading or scene break."""

    index: int
    start: int
    end: int
    chapter: int
    heading: bool = False
    scene_break: bool = False


def paragraphs(text: str) -> list[Paragraph]:
    """Blank-line paragraphs when the text uses them (wrapped prose); else one paragraph per line (most Chinese novels)."""
    lines = text.split("\n")
    body = text.strip().split("\n")
    blank = sum(1 for line in body if not line.strip())
    ranges: list[tuple[int, int]] = []
    if blank and blank / len(body) >= 0.12:
        position = 0
        for match in _BLANK_SPLIT.finditer(text):
            ranges.append((position, match.start()))
            position = match.end()
        ranges.append((position, len(text)))
    else:
        position = 0
        for line in lines:
            ranges.append((position, position + len(line)))
            position += len(line) + 1
    result: list[Paragraph] = []
    chapter = 0
    for start, end in ranges:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        body = text[start:end]
        heading = len(body) < 80 and "\n" not in body and bool(_CHAPTER.match(body))
        if heading:
            chapter += 1
        result.append(Paragraph(len(result), start, end, chapter, heading, bool(_SCENE_BREAK.match(body))))
    return result
