"""The character seeds file for synthesis: a YAML list of categories with optional names and briefs."""

from __future__ import annotations

from pydantic import Field

from schemas.records import Attributes, Category, Strict, Styles


class SeedProfile(Strict):
    """An existing profile given with a seed: profile synthesis is skipped for it."""

    attributes: Attributes = Field(default_factory=Attributes)
    styles: Styles = Field(default_factory=Styles)
    profile_text: str = Field(min_length=1, description="The profile in prose.")


class CharacterSeed(Strict):
    """One seed: the LLM writes `count` characters from it (or uses the given profile)."""

    category: Category = Field(description="celebrity | daily_life | fictional | other.")
    name: str | None = Field(None, min_length=1, description="The character's name; absent: the LLM invents one.")
    work: str | None = Field(None, description="Work or franchise (fictional characters).")
    brief: str | None = Field(None, description="What the LLM should build on, in any language.")
    like: str | None = Field(None, description="An existing character or profile text to diversify from: new, clearly different characters of the same kind.")
    language: str | None = Field(None, min_length=2, description="zh | en; default: the source's `language`.")
    count: int = Field(1, ge=1, le=1000, description="Distinct characters to make from this seed (only without a name).")
    dialogues: int | None = Field(None, ge=1, description="Dialogues per character; default: the source's `dialogues_per_character`.")
    profile: SeedProfile | None = Field(None, description="A ready profile (needs `name`): no profile synthesis for this seed.")


class SeedsFile(Strict):
    """The whole file: `seeds:` (a bare top-level list is accepted too)."""

    seeds: list[CharacterSeed] = Field(min_length=1)
