"""`filters.language`: script fast path, seeded langdetect, mixed flag, expected and declared languages."""

from __future__ import annotations

import pyarrow as pa

from benchmarks.corpus import row
from operators.columns import WORKING_SCHEMA
from operators.filters.language import LanguageConfig, LanguageFilter

ZH = ["你好，今天过得怎么样？", "还不错，我刚从图书馆回来，借了三本书。"]
EN = ["Hello there, how was your day today?", "Pretty good, I just came back from the library with three books."]
FR = ["Bonjour, comment allez-vous aujourd'hui?", "Très bien, merci beaucoup, je reviens de la bibliothèque."]
JA = ["こんにちは、今日はどうでしたか？", "図書館から帰ってきたところです。"]


def run(config: LanguageConfig, *dialogues: tuple[list[str], str]) -> dict[str, list]:
    table = pa.Table.from_pylist([row(i, texts, language) for i, (texts, language) in enumerate(dialogues)], schema=WORKING_SCHEMA)
    result = LanguageFilter(config)(table)
    names = ("language", "lang_detected", "lang_confidence", "lang_mixed", "_reject_reason", "_reject_detail")
    return {name: result.column(name).to_pylist() for name in names}


def test_detects_by_script_and_model_and_fills_undetermined() -> None:
    out = run(LanguageConfig(), (ZH, "und"), (EN, "und"), (FR, "fr"), (JA, "und"), (["ok", "?"], "und"))
    assert out["lang_detected"] == ["zh", "en", "fr", "ja", "und"]
    assert out["language"] == ["zh", "en", "fr", "ja", "und"]
    assert out["_reject_reason"] == [None] * 5


def test_mixed_dialogues_are_flagged_and_optionally_rejected() -> None:
    mixed = [EN[0], ZH[1]]
    out = run(LanguageConfig(), (mixed, "und"), (EN, "en"))
    assert out["lang_mixed"] == [True, False] and out["_reject_reason"] == [None, None]
    assert 0.5 <= out["lang_confidence"][0] < 1.0
    out = run(LanguageConfig(reject_mixed=True), (mixed, "und"))
    assert out["_reject_reason"] == ["mixed_language"] and "zh" in out["_reject_detail"][0]


def test_unexpected_and_mismatched_languages_are_rejected_with_detail() -> None:
    out = run(LanguageConfig(expected=["zh", "en"]), (FR, "fr"), (ZH, "en"), (ZH, "zh"))
    assert out["_reject_reason"] == ["unexpected_language", "language_mismatch", None]
    assert "detected fr" in out["_reject_detail"][0] and "declared en, detected zh" in out["_reject_detail"][1]
    assert run(LanguageConfig(check_declared=False), (ZH, "en"))["_reject_reason"] == [None]


def test_detection_is_deterministic_and_per_turn_model_splits_latin_languages() -> None:
    texts = ["Bonjour, comment allez-vous aujourd'hui mon ami?", "Hello there, how was your day today my friend?"] * 2
    first = run(LanguageConfig(), (texts, "und"))
    assert first == run(LanguageConfig(), (texts, "und"))
    per_turn = run(LanguageConfig(per_turn_model=True), (texts, "und"))
    assert per_turn["lang_mixed"] == [True]


OTHER_LATIN = {  # each with words that are English words too ("was", "an", "is", "on", "to", "i", "for", "he", "my")
    "fr": "Bonjour, comment allez-vous aujourd'hui? Je reviens de la bibliothèque avec trois livres. On dit que c'est à vous.",
    "de": "Hallo, wie geht es dir heute? Ich komme aus der Bibliothek, was ich schön finde. Ich will an dich denken, was machst du?",
    "es": "Hola, ¿cómo estás hoy? Acabo de volver de la biblioteca con tres libros y me alegra mucho verte. He dicho que no.",
    "nl": "Hallo, hoe is het vandaag met je? Ik kom net terug uit de bibliotheek met drie boeken, is dat niet mooi? Het is al laat.",
    "it": "Ciao, come stai oggi? Sono appena tornato dalla biblioteca con tre libri e sono contento di vederti. I ragazzi sono a casa.",
    "da": "Hej, hvordan har du det i dag? Jeg er lige kommet hjem fra biblioteket med tre bøger. Det er for sent at gå til byen.",
    "pl": "Cześć, jak się masz dzisiaj? Właśnie wróciłem z biblioteki z trzema książkami i to jest bardzo miłe. On to wie i my też.",
}


class Counting(LanguageFilter):
    """Counts langdetect calls (the real detector still answers)."""

    calls = 0

    def _detect(self, text: str) -> str | None:
        Counting.calls += 1
        return super()._detect(text)


def test_english_fast_path_skips_the_model_and_never_claims_other_latin_languages() -> None:
    dialogues = [(EN, "und")] + [([text, text], "und") for text in OTHER_LATIN.values()]
    table = pa.Table.from_pylist([row(i, texts, language) for i, (texts, language) in enumerate(dialogues)], schema=WORKING_SCHEMA)
    Counting.calls = 0
    fast = Counting(LanguageConfig())(table).column("lang_detected").to_pylist()
    assert fast == ["en", *OTHER_LATIN] and Counting.calls == len(OTHER_LATIN)  # English never reached langdetect
    Counting.calls = 0
    model = Counting(LanguageConfig(en_function_share=None))(table).column("lang_detected").to_pylist()
    assert model == fast and Counting.calls == len(dialogues)


def test_english_fast_path_needs_enough_words() -> None:
    Counting.calls = 0
    out = Counting(LanguageConfig(min_letters=3))(pa.Table.from_pylist([row(0, ["You and the cat?"], "und")], schema=WORKING_SCHEMA))
    assert Counting.calls == 1 and out.column("lang_detected").to_pylist()[0] is not None  # 4 words < en_min_words: the model decides
