"""`split.by_character`: train/validation/test by a hash of character_id.

Row-local and deterministic: a character's split depends only on its id and the salt, so no character
spans two splits, and the assignment is the same in every run and every block layout.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

import pyarrow as pa
from pydantic import Field, field_validator

from operators.base import Operator, OperatorConfig
from operators.registry import register
from schemas import SPLITS


class SplitConfig(OperatorConfig):
    ratios: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.9, "validation": 0.05, "test": 0.05},
        description="Share of characters per split; must sum to 1.",
    )
    salt: str = Field("characterdial", description="Change it to draw a different, equally stable assignment.")

    @field_validator("ratios")
    @classmethod
    def _valid(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = set(value) - set(SPLITS)
        if unknown:
            raise ValueError(f"unknown splits {sorted(unknown)}; known: {list(SPLITS)}")
        if any(r < 0 for r in value.values()) or abs(sum(value.values()) - 1.0) > 1e-6:
            raise ValueError(f"ratios must be non-negative and sum to 1, got {value}")
        return value


def split_of(character_id: str, ratios: dict[str, float], salt: str) -> str:
    """The split of one character: a uniform draw in [0, 1) from its id, against cumulative ratios."""
    digest = hashlib.blake2b(f"{salt}\x1f{character_id}".encode(), digest_size=8).digest()
    draw = int.from_bytes(digest, "big") / 2**64
    cumulative = 0.0
    chosen = next(iter(ratios))
    for name in SPLITS:
        if name in ratios and ratios[name] > 0:
            chosen = name
            cumulative += ratios[name]
            if draw < cumulative:
                return name
    return chosen


@register
class SplitByCharacter(Operator):
    name: ClassVar[str] = "split.by_character"
    Config = SplitConfig
    reads = frozenset({"character_id"})
    writes = frozenset({"split"})
    summary = "Assigns train/validation/test by a stable hash of character_id: character-disjoint splits."

    def __call__(self, batch: pa.Table) -> pa.Table:
        c: SplitConfig = self.config  # type: ignore[assignment]
        cache: dict[str, str] = {}
        splits = []
        for cid in batch.column("character_id").to_pylist():
            if cid not in cache:
                cache[cid] = split_of(cid, c.ratios, c.salt)
            splits.append(cache[cid])
        return batch.set_column(batch.schema.get_field_index("split"), "split", pa.array(splits, pa.string()))
