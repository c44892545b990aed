"""`filters.character_break`: character turns that step out of the role: AI self-disclosure, assistant
boilerplate, out-of-character markers (zh + en lexicons; extend or replace them in the pipeline YAML)."""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
from pydantic import Field

from operators.base import Filter, OperatorConfig
from operators.filters.lexicon import Lexicon, turn_matches
from operators.registry import register

HITS = pa.field("character_break_hits", pa.int32())

DEFAULT_PHRASES: dict[str, list[str]] = {
    "ai_disclosure": [
        "as an AI",
        "as an AI language model",
        "as a language model",
        "as an artificial intelligence",
        "as a large language model",
        "I am an AI",
        "I'm an AI",
        "I'm just an AI",
        "I am just an AI",
        "I am only an AI",
        "I am a language model",
        "I'm a language model",
        "I don't have personal feelings",
        "I do not have personal feelings",
        "I don't have personal opinions",
        "I do not have personal opinions",
        "I don't have feelings",
        "I do not have feelings",
        "I don't have a physical body",
        "I do not have a physical body",
        "my training data",
        "my knowledge cutoff",
        "I was trained by",
        "developed by OpenAI",
        "OpenAI",
        "ChatGPT",
        "I cannot browse the internet",
        "I can't browse the internet",
        "作为一个人工智能",
        "作为人工智能",
        "作为一个AI",
        "作为AI",
        "作为一个语言模型",
        "作为语言模型",
        "作为一个大语言模型",
        "我是一个人工智能",
        "我是人工智能",
        "我是一个AI",
        "我是AI",
        "我只是一个AI",
        "我只是一个人工智能",
        "我是一个语言模型",
        "我是语言模型",
        "大语言模型",
        "大型语言模型",
        "我没有个人情感",
        "我没有情感",
        "我没有感情",
        "我没有身体",
        "我没有实体",
        "我的训练数据",
        "我无法浏览网页",
    ],
    "assistant_boilerplate": [
        "as an AI assistant",
        "as a virtual assistant",
        "how can I assist you today",
        "is there anything else I can help you with",
        "I'm here to help you with any questions",
        "I hope this helps",
        "作为AI助手",
        "作为一个AI助手",
        "作为人工智能助手",
        "作为一个虚拟助手",
        "人工智能助手",
        "有什么可以帮您的吗",
        "还有什么我可以帮你的吗",
        "希望对你有所帮助",
    ],
    "out_of_character": ["OOC", "out of character", "breaking character", "出戏", "跳出角色"],
}


class CharacterBreakConfig(OperatorConfig):
    phrases: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_PHRASES.items()},
        description="Category -> phrases (replaces the built-in lists).",
    )
    extra_phrases: dict[str, list[str]] = Field(default_factory=dict, description="Category -> phrases added to `phrases`.")
    roles: list[str] = Field(
        default_factory=lambda: ["character"], description="Whose turns are checked: the user may say 'as an AI' in a story."
    )
    max_hits: int = Field(0, ge=0, description="Reject when more turns than this break character (0: any break rejects).")


@register
class CharacterBreakFilter(Filter):
    name: ClassVar[str] = "filters.character_break"
    Config = CharacterBreakConfig
    reads = frozenset({"turns"})
    writes = frozenset({HITS.name})
    new_fields = (HITS,)
    summary = "Rejects dialogues whose character turns break the role (AI disclosure, assistant boilerplate, OOC), zh + en."

    def setup(self) -> None:
        c: CharacterBreakConfig = self.config  # type: ignore[assignment]
        merged = {category: list(items) for category, items in c.phrases.items()}
        for category, items in c.extra_phrases.items():
            merged.setdefault(category, []).extend(items)
        self._lexicon = Lexicon.of(merged)

    def scored_verdicts(self, batch: pa.Table) -> tuple[list[str | None], list[str | None], dict[pa.Field, list]]:
        c: CharacterBreakConfig = self.config  # type: ignore[assignment]
        if not hasattr(self, "_lexicon"):
            self.setup()
        texts, checked, owners, found = turn_matches(batch, self._lexicon, c.roles)
        hits = [0] * batch.num_rows
        first: list[tuple[int, str, int] | None] = [None] * batch.num_rows
        position = [0] * batch.num_rows
        for i, owner in enumerate(owners):
            position[owner] += 1
            categories = [category for category, flags in found.items() if flags[i]] if checked[i] else []
            if categories:
                hits[owner] += 1
                if first[owner] is None:
                    first[owner] = (i, categories[0], position[owner])
        values = texts.to_pylist()
        reasons: list[str | None] = []
        details: list[str | None] = []
        for owner in range(batch.num_rows):
            hit = first[owner]
            if hits[owner] > c.max_hits and hit is not None:
                turn, category, number = hit
                phrase = self._lexicon.first_phrase(values[turn], category)
                reasons.append("character_break")
                details.append(f"{category}: turn {number} says {phrase!r} ({hits[owner]} breaking turns > {c.max_hits})")
            else:
                reasons.append(None)
                details.append(None)
        return reasons, details, {HITS: hits}
