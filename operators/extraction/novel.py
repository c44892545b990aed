"""Novel extraction end to end: decode, paragraphs, quotes, cast (given or discovered), speakers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from operators.extraction.attribution import Attributor
from operators.extraction.cast import Cast
from operators.extraction.quotes import QuoteWarning, Utterance, find_quotes
from operators.extraction.text import Paragraph, paragraphs

_HAN = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class NovelExtraction:
    """Everything extracted from one document."""

    text: str
    language: str
    paragraphs: list[Paragraph]
    utterances: list[Utterance]
    cast: Cast
    warnings: list[QuoteWarning] = field(default_factory=list)


def detect_language(text: str) -> str:
    """zh when Han characters make up a fifth of the letters of the first 20,000 characters, else en."""
    sample = text[:20000]
    han = len(_HAN.findall(sample))
    letters = sum(1 for c in sample if c.isalpha())
    return "zh" if letters and han / letters > 0.2 else "en"


def extract_novel(text: str, cast: Cast | None = None, language: str = "auto", style: str | None = None) -> NovelExtraction:
    """Quotes with speakers; without a cast, characters are discovered first (see `discovery`)."""
    if language == "auto":
        language = detect_language(text)
    paras = paragraphs(text)
    utterances, warnings = find_quotes(text, paras, style)
    if cast is None:
        from operators.extraction.discovery import discover_cast

        cast = discover_cast(text, utterances, language)
    Attributor(text, paras, cast, language).attribute(utterances)
    return NovelExtraction(text, language, paras, utterances, cast, warnings)
