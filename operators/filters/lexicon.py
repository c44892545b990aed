"""Phrase lexicons by category, matched on normalised text with token boundaries, vectorised over Arrow.

Phrases and texts go through the same normalisation as dedup (NFKC, lower case, punctuation removed,
CJK characters set apart by spaces), so "As an AI," matches "as an ai" and "作为一个AI" matches
"作为一个ai"; a phrase matches whole tokens only ("as an ai" does not match "as an aide").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from operators.arrow_lists import combined, parents, turn_field
from operators.dedup.shingles import normalize


@dataclass(frozen=True)
class Lexicon:
    """Normalised phrases by category, with one compiled alternation per category."""

    phrases: dict[str, tuple[str, ...]]

    @classmethod
    def of(cls, phrases: dict[str, list[str]]) -> Lexicon:
        normalised = {}
        for category, items in phrases.items():
            forms = normalize(pa.array(items, pa.string())).to_pylist() if items else []
            normalised[category] = tuple(sorted({form for form in forms if form}))
        return cls({category: forms for category, forms in normalised.items() if forms})

    def _pattern(self, category: str) -> str:
        alternation = "|".join(re.escape(phrase) for phrase in self.phrases[category])
        return f"(?:^| )(?:{alternation})(?: |$)"

    def matches(self, texts: pa.Array) -> dict[str, pa.Array]:
        """Per category: a boolean per text, true when one of its phrases occurs."""
        normal = normalize(pc.fill_null(texts, ""))
        return {category: pc.match_substring_regex(normal, self._pattern(category)) for category in self.phrases}

    def first_phrase(self, text: str, category: str) -> str | None:
        """The first phrase of `category` in `text` (for a reject's detail)."""
        normal = normalize(pa.array([text])).to_pylist()[0] or ""
        found = re.search(self._pattern(category), normal)
        return found.group(0).strip() if found else None


def turn_matches(batch: pa.Table, lexicon: Lexicon, roles: list[str]) -> tuple[pa.Array, list[bool], list[int], dict[str, list[bool]]]:
    """Every turn's text, whether its role is checked, the dialogue it belongs to, and per category whether it matches."""
    turns = combined(batch.column("turns"))
    texts = pc.fill_null(turn_field(turns, "text"), "")
    checked = pc.is_in(turn_field(turns, "role"), pa.array(roles, pa.string())).to_pylist()
    owners = parents(turns).to_pylist()
    return texts, checked, owners, {category: flags.to_pylist() for category, flags in lexicon.matches(texts).items()}
