"""The native input format: dialogue JSONL, one object per line (docs/formats.md)."""

from __future__ import annotations

from pydantic import Field

from schemas.records import Attributes, Category, Role, Scenario, Source, Span, Strict, Styles


class NativeCharacter(Strict):
    """The character of a native record; only `name` and `category` are required."""

    id: str | None = Field(None, description="Your id for the character; when absent one is derived from name and work.")
    name: str = Field(min_length=1, description="Display name.")
    category: Category = Field(description="celebrity | daily_life | fictional | other.")
    work: str | None = Field(None, description="Work or franchise the character comes from.")
    attributes: Attributes | None = None
    styles: Styles | None = None
    profile_text: str | None = None


class NativeTurn(Strict):
    role: Role = Field(description="user | character.")
    speaker: str | None = Field(None, description="Display name; defaults to the character's name or the user_role.")
    text: str = Field(description="What is said.")
    spans: list[Span] | None = None
    author_id: str | None = None


class NativeDialogue(Strict):
    """One line of a native dialogue JSONL file."""

    id: str = Field(min_length=1, description="Your id for the dialogue, unique within its source.")
    character: NativeCharacter
    user_role: str | None = None
    scenario: Scenario
    language: str = Field(min_length=2, description="ISO 639-1 code, or 'und'.")
    source: Source = "import"
    source_ref: str | None = None
    turns: list[NativeTurn] = Field(min_length=1)
    meta: dict[str, str] = Field(default_factory=dict)
