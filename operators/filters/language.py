"""`filters.language`: language id per turn and per dialogue; mixed-language dialogues flagged.

Scripts decide first (vectorised over Arrow): a turn whose letters are mostly Han is Chinese (Japanese
when kana are a real share of them, Korean for Hangul), with no model call. English has a fast path too:
text whose words are at least `en_function_share` English function words ("the", "you", "that", ...;
none of them a common word of another Latin-script language) is English without a model call; on
real English (PDNC quotes, five at a time) the share is 0.15 or more for 99% of samples (median 0.27),
on sentences in 15 other Latin-script languages (fr, de, es, nl, it, pt, sv, da, no, id, pl, tr, cs,
ro, and vi) 0.
Other turns of enough letters go to langdetect, whose sampling is seeded so the same text always gets
the same answer (langdetect costs milliseconds a call: the fast path is what makes English corpora cheap). The
dialogue's language is the one covering most letters; it is mixed when another language covers at
least `mixed_share` of them. A dialogue whose `language` is 'und' gets the detected one.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from operators.arrow_lists import combined, parents, turn_field
from operators.base import Filter, OperatorConfig
from operators.registry import register

DETECTED = pa.field("lang_detected", pa.string())
CONFIDENCE = pa.field("lang_confidence", pa.float32())
MIXED = pa.field("lang_mixed", pa.bool_())
# langdetect names some languages by region; the corpus uses ISO 639-1.
_CODES = {"zh-cn": "zh", "zh-tw": "zh"}
_SCRIPTS = {"han": r"\p{Han}", "kana": r"[\p{Hiragana}\p{Katakana}]", "hangul": r"\p{Hangul}"}
# English function words that are no everyday word of another Latin-script language: no "a", "i", "in", "is",
# "was", "an", "on", "to", "he", "my", "her", "at", "for", "by", "or", "will", "just" (Italian, Dutch,
# German, French, Polish, Spanish, Danish/Norwegian and Swedish words), so a text in one of those never
# reaches the threshold by accident.
EN_FUNCTION_WORDS = frozenset(
    """the and you that with have this what not but they she his your would there been were about know
    from which their don't i'm it's could should because when where who how why them him had has are it we
    be our out if can""".split()
)


class LanguageConfig(OperatorConfig):
    expected: list[str] | None = Field(None, description="Languages allowed in the corpus (ISO 639-1); null allows any.")
    check_declared: bool = Field(True, description="Reject a dialogue whose declared `language` (not 'und') differs from the detected one.")
    min_letters: int = Field(
        12, ge=1, description="Fewer letters than this (per dialogue, or per turn with per_turn_model): too little for langdetect, unknown."
    )
    per_turn_model: bool = Field(
        False, description="One langdetect call per non-CJK turn (finds en/fr mixes; ~10x slower) instead of one per dialogue."
    )
    max_model_chars: int = Field(
        2000, ge=50, description="Characters given to langdetect per call: its cost grows with the text, its answer barely."
    )
    min_confidence: float = Field(
        0.5, ge=0, le=1, description="Below this share of letters in the dominant language the dialogue is 'und' (not rejected)."
    )
    mixed_share: float = Field(
        0.2, gt=0, le=0.5, description="A second language covering this share of the letters makes the dialogue mixed."
    )
    reject_mixed: bool = Field(False, description="Reject mixed dialogues (else they are only flagged in `lang_mixed`).")
    en_function_share: float | None = Field(
        0.12,
        gt=0,
        le=1,
        description="Share of words that are English function words at which text is English without langdetect; null: always the model.",
    )
    en_min_words: int = Field(8, ge=1, description="The English fast path needs at least this many words (else langdetect decides).")
    cjk_share: float = Field(
        0.5, gt=0, le=1, description="Share of a turn's letters in Han/kana/Hangul at which the script decides without langdetect."
    )
    seed: int = Field(0, description="langdetect's sampling seed (determinism).")


@lru_cache(maxsize=4)
def _factory(seed: int) -> Any:
    """A langdetect factory with its profiles loaded (about a second) and its sampling seeded; one per process."""
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(seed)
    return factory


def _english_words(texts: pa.Array) -> tuple[list[int], list[int]]:
    """Per text: its number of words and how many of them are English function words (vectorised)."""
    words = pc.split_pattern_regex(pc.utf8_lower(texts), r"[^\p{L}']+")
    flat = pc.utf8_trim(words.flatten(), "'")
    owner = pc.list_parent_indices(words).to_numpy(zero_copy_only=False)
    real = pc.greater(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False)
    known = pc.is_in(flat, value_set=pa.array(sorted(EN_FUNCTION_WORDS))).to_numpy(zero_copy_only=False)
    count = np.bincount(owner, weights=real, minlength=len(texts)).astype(np.int64)
    hits = np.bincount(owner, weights=known & real, minlength=len(texts)).astype(np.int64)
    return count.tolist(), hits.tolist()


@register
class LanguageFilter(Filter):
    name: ClassVar[str] = "filters.language"
    Config = LanguageConfig
    reads = frozenset({"turns", "language"})
    writes = frozenset({"language", DETECTED.name, CONFIDENCE.name, MIXED.name})
    new_fields = (DETECTED, CONFIDENCE, MIXED)
    summary = "Detects the language per turn and dialogue (script fast path, seeded langdetect); flags mixed, rejects unexpected."

    def setup(self) -> None:
        self._factory = _factory(self.config.seed)  # type: ignore[attr-defined]

    def turn_languages(self, texts: pa.Array, owners: list[int]) -> tuple[list[str | None], list[int]]:
        """Per turn: its language (None when unknown) and its number of letters.

        CJK turns are decided by script. The other turns of a dialogue go to langdetect together, one call
        per dialogue (langdetect costs milliseconds a call), or one call per turn with `per_turn_model`.
        """
        c: LanguageConfig = self.config  # type: ignore[assignment]
        letters = [n or 0 for n in pc.count_substring_regex(texts, r"\p{L}").to_pylist()]
        counts = {script: pc.count_substring_regex(texts, pattern).to_pylist() for script, pattern in _SCRIPTS.items()}
        values = texts.to_pylist()
        languages: list[str | None] = [None] * len(values)
        pending: dict[int, list[int]] = {}
        for i, total in enumerate(letters):
            han, kana, hangul = counts["han"][i], counts["kana"][i], counts["hangul"][i]
            if total and (han + kana + hangul) >= c.cjk_share * total:
                languages[i] = "ko" if hangul > han + kana else "ja" if kana >= 0.2 * (han + kana) else "zh"
            elif total:
                pending.setdefault(i if c.per_turn_model else owners[i], []).append(i)
        words, hits = _english_words(texts) if c.en_function_share is not None else ([], [])
        for group in pending.values():
            if sum(letters[i] for i in group) < c.min_letters:
                continue
            if c.en_function_share is not None:
                total = sum(words[i] for i in group)
                if total >= c.en_min_words and sum(hits[i] for i in group) >= c.en_function_share * total:
                    for i in group:
                        languages[i] = "en"
                    continue
            language = self._detect("\n".join(values[i] for i in group)[: c.max_model_chars])
            for i in group:
                languages[i] = language
        return languages, letters

    def _detect(self, text: str) -> str | None:
        from langdetect.lang_detect_exception import LangDetectException

        if not hasattr(self, "_factory"):
            self.setup()
        detector = self._factory.create()
        detector.append(text)
        try:
            language = detector.detect()
        except LangDetectException:
            return None
        return _CODES.get(language, language)

    def scored_verdicts(self, batch: pa.Table) -> tuple[list[str | None], list[str | None], dict[pa.Field, list]]:
        c: LanguageConfig = self.config  # type: ignore[assignment]
        turns = combined(batch.column("turns"))
        owners = parents(turns).to_pylist()
        languages, letters = self.turn_languages(pc.fill_null(turn_field(turns, "text"), ""), owners)
        shares: list[Counter[str]] = [Counter() for _ in range(batch.num_rows)]
        totals = [0] * batch.num_rows
        for owner, language, count in zip(owners, languages, letters, strict=True):
            totals[owner] += count
            if language is not None:
                shares[owner][language] += count
        declared = combined(batch.column("language")).to_pylist()
        detected, confidence, mixed, reasons, details = [], [], [], [], []
        for i in range(batch.num_rows):
            ranked = shares[i].most_common()
            share = ranked[0][1] / totals[i] if ranked and totals[i] else 0.0
            language = ranked[0][0] if ranked and share >= c.min_confidence else "und"
            is_mixed = len(ranked) > 1 and ranked[1][1] >= c.mixed_share * totals[i]
            detected.append(language)
            confidence.append(round(share, 4))
            mixed.append(is_mixed)
            reason, detail = None, None
            if language != "und" and c.expected is not None and language not in c.expected:
                reason, detail = "unexpected_language", f"detected {language} ({share:.0%} of letters); expected {', '.join(c.expected)}"
            elif c.check_declared and language != "und" and declared[i] not in (None, "und", language):
                reason, detail = "language_mismatch", f"declared {declared[i]}, detected {language} ({share:.0%} of letters)"
            elif is_mixed and c.reject_mixed:
                reason, detail = "mixed_language", ", ".join(f"{lang} {n / totals[i]:.0%}" for lang, n in ranked[:3])
            reasons.append(reason)
            details.append(detail)
        return reasons, details, {DETECTED: detected, CONFIDENCE: confidence, MIXED: mixed}

    def __call__(self, batch: pa.Table) -> pa.Table:
        """The filter's verdicts and scores, and a `language` of 'und' (or none) filled with the detected one."""
        batch = super().__call__(batch)
        declared, detected = batch.column("language").to_pylist(), batch.column(DETECTED.name).to_pylist()
        filled = [lang if old in (None, "und") else old for old, lang in zip(declared, detected, strict=True)]
        return batch.set_column(batch.schema.get_field_index("language"), batch.schema.field("language"), pa.array(filled, pa.string()))
