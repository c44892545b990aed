"""Language detection for formats that carry none."""

from __future__ import annotations

from operators.ingest.language import detect_language


def test_scripts_and_langdetect() -> None:
    assert detect_language("你好，我是张起灵。") == "zh"
    assert detect_language("こんにちは、元気ですか") == "ja"
    assert detect_language("The detective lit his pipe and looked out over Baker Street.") == "en"
    assert detect_language("1234 !!") == "und"
