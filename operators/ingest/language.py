"""Language of a text for formats that do not say: a CJK-script fast path, then seeded langdetect."""

from __future__ import annotations

import re

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LETTER = re.compile(r"[^\W\d_]")


def detect_language(text: str) -> str:
    """ISO 639-1 code of `text` ('zh', 'ja', 'ko', 'en', ...), or 'und' when there is nothing to tell by."""
    letters = len(_LETTER.findall(text))
    if letters == 0:
        return "und"
    if len(_KANA.findall(text)) > 0.1 * letters:
        return "ja"
    if len(_HANGUL.findall(text)) > 0.2 * letters:
        return "ko"
    if len(_HAN.findall(text)) > 0.2 * letters:
        return "zh"
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0  # langdetect is random unless seeded
    try:
        return detect(text).split("-")[0]
    except LangDetectException:
        return "und"
