"""`filters.safety`: lexicons by category (zh + en), personal-data patterns, and a hook for a model classifier.

The built-in lexicons are a small, conservative starting point, not a policy: a deployment replaces
or extends them in the pipeline YAML (`lexicons`, `extra_lexicons`) and plugs in a classifier
(`classifier: "package.module:function"`, called once per batch with the dialogue texts, returning one
`{category: score}` mapping per text). Categories in `flag_only` are written to `safety_flags` without
rejecting; the others reject with reason `unsafe_<category>`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from operators.base import Filter, OperatorConfig
from operators.filters.lexicon import Lexicon, turn_matches
from operators.registry import register

FLAGS = pa.field("safety_flags", pa.list_(pa.string()))
SCORE = pa.field("safety_model_score", pa.float32())

DEFAULT_LEXICONS: dict[str, list[str]] = {
    "self_harm": [
        "kill myself",
        "end my life",
        "how to commit suicide",
        "best way to kill myself",
        "suicide method",
        "cut myself",
        "我想自杀",
        "自杀方法",
        "怎么自杀",
        "结束我的生命",
        "割腕",
    ],
    "sexual_minors": ["child porn", "child pornography", "underage sex", "sex with a minor", "儿童色情", "幼女色情", "未成年人色情"],
    "violent_extremism": [
        "how to make a bomb",
        "build a pipe bomb",
        "join isis",
        "plan a terrorist attack",
        "制造炸弹",
        "自制炸弹",
        "策划恐怖袭击",
    ],
    "hate": ["are subhuman", "should be exterminated", "劣等民族", "应该被灭绝"],
}
# Raw regular expressions (RE2) on NFKC text: personal data keeps its punctuation, so it is not normalised away.
DEFAULT_PATTERNS: dict[str, list[str]] = {
    "personal_data": [
        r"[\w.+-]+@[\w-]+\.[\w.-]+",  # e-mail address
        r"(?:^|\D)1[3-9]\d{9}(?:\D|$)",  # mainland China mobile number
        r"(?:^|\D)\d{17}[\dXx](?:\D|$)",  # mainland China resident id number
        r"(?:^|\D)\d{3}-\d{2}-\d{4}(?:\D|$)",  # US social security number
    ],
}


class SafetyConfig(OperatorConfig):
    lexicons: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_LEXICONS.items()},
        description="Category -> phrases (replaces the built-in lexicons).",
    )
    extra_lexicons: dict[str, list[str]] = Field(default_factory=dict, description="Category -> phrases added to `lexicons`.")
    patterns: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_PATTERNS.items()},
        description="Category -> RE2 regular expressions on NFKC text.",
    )
    flag_only: list[str] = Field(default_factory=list, description="Categories that are flagged in `safety_flags` but do not reject.")
    roles: list[str] = Field(default_factory=lambda: ["user", "character"], description="Whose turns are checked.")
    classifier: str | None = Field(
        None, description="'package.module:function' scoring dialogue texts: list[str] -> list[dict[category, score]]."
    )
    classifier_threshold: float = Field(0.5, ge=0, le=1, description="A classifier score at or above this flags its category.")


def _load(path: str) -> Callable[[Sequence[str]], Sequence[dict[str, float]]]:
    module, _, name = path.partition(":")
    if not module or not name:
        raise ValueError(f"filters.safety: classifier {path!r} must look like 'package.module:function'")
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"filters.safety: cannot load classifier {path!r}: {error}") from None
    if not callable(function):
        raise ValueError(f"filters.safety: classifier {path!r} is not callable")
    return function


@register
class SafetyFilter(Filter):
    name: ClassVar[str] = "filters.safety"
    Config = SafetyConfig
    reads = frozenset({"turns"})
    writes = frozenset({FLAGS.name, SCORE.name})
    new_fields = (FLAGS, SCORE)
    summary = "Rejects unsafe dialogues: zh + en lexicons by category, personal-data patterns, optional model classifier."

    def setup(self) -> None:
        c: SafetyConfig = self.config  # type: ignore[assignment]
        merged = {category: list(items) for category, items in c.lexicons.items()}
        for category, items in c.extra_lexicons.items():
            merged.setdefault(category, []).extend(items)
        self._lexicon = Lexicon.of(merged)
        self._classifier = _load(c.classifier) if c.classifier else None

    def scored_verdicts(self, batch: pa.Table) -> tuple[list[str | None], list[str | None], dict[pa.Field, list]]:
        c: SafetyConfig = self.config  # type: ignore[assignment]
        if not hasattr(self, "_lexicon"):
            self.setup()
        texts, checked, owners, hits = turn_matches(batch, self._lexicon, c.roles)
        nfkc = pc.utf8_normalize(texts, "NFKC")
        for category, patterns in c.patterns.items():
            found = pc.match_substring_regex(nfkc, "|".join(f"(?:{p})" for p in patterns)).to_pylist()
            hits[category] = [a or b for a, b in zip(hits.get(category, [False] * len(found)), found, strict=True)]
        flags: list[list[str]] = [[] for _ in range(batch.num_rows)]
        where: list[dict[str, int]] = [{} for _ in range(batch.num_rows)]
        position = [0] * batch.num_rows
        for i, owner in enumerate(owners):
            position[owner] += 1
            if not checked[i]:
                continue
            for category, found in hits.items():
                if found[i] and category not in where[owner]:
                    where[owner][category] = position[owner]
                    flags[owner].append(category)
        scores: list[float | None] = [None] * batch.num_rows
        if self._classifier is not None:
            dialogues = ["\n".join(t) for t in _texts_by_dialogue(texts.to_pylist(), owners, checked, batch.num_rows)]
            results = list(self._classifier(dialogues))
            if len(results) != batch.num_rows:
                raise ValueError(f"filters.safety: classifier {c.classifier!r} returned {len(results)} results for {batch.num_rows} texts")
            for row, result in enumerate(results):
                scores[row] = max(result.values(), default=0.0)
                for category, score in sorted(result.items()):
                    if score >= c.classifier_threshold and category not in flags[row]:
                        flags[row].append(category)
                        where[row][category] = 0
        reasons: list[str | None] = []
        details: list[str | None] = []
        for row in range(batch.num_rows):
            rejecting = [category for category in flags[row] if category not in c.flag_only]
            if rejecting:
                category = rejecting[0]
                turn = where[row][category]
                reasons.append(f"unsafe_{category}")
                details.append(f"{category} in turn {turn}" if turn else f"{category}: classifier score >= {c.classifier_threshold}")
            else:
                reasons.append(None)
                details.append(None)
        return reasons, details, {FLAGS: flags, SCORE: scores}


def _texts_by_dialogue(texts: list[str], owners: list[int], checked: list[bool], rows: int) -> list[list[str]]:
    grouped: list[list[str]] = [[] for _ in range(rows)]
    for text, owner, keep in zip(texts, owners, checked, strict=True):
        if keep:
            grouped[owner].append(text)
    return grouped
