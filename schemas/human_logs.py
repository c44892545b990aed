"""The native human-log input formats: HRP (human role-play) and HPI (human-prototype interaction) JSONL.

One session per line. Both share the character and turn shapes; HPI adds, per character turn, the
prototype model's output, an optional human rating and an optional human rewrite. Unknown keys are
errors (a misspelt `rewrite` must not vanish), and every error names its field path.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from schemas.records import Attributes, Category, Role, Scenario, Strict, Styles

HUMAN_LOG_VERSIONS: tuple[str, ...] = ("1.0",)


class LogCharacter(Strict):
    """The character of a session: an inline profile, a reference to a Character Card, or both (inline wins)."""

    id: str | None = Field(None, description="Your id for the character; when absent one is derived from name and work.")
    card: str | None = Field(None, description="Path of a Character Card (JSON or PNG), relative to the log file.")
    name: str | None = Field(None, min_length=1, description="Display name; required unless `card` gives it.")
    category: Category | None = Field(None, description="celebrity | daily_life | fictional | other; classified from the profile when absent.")
    work: str | None = Field(None, description="Work or franchise the character comes from.")
    tags: list[str] = Field(default_factory=list, description="Free tags (e.g. card tags); used to infer the category.")
    attributes: Attributes | None = None
    styles: Styles | None = None
    profile_text: str | None = Field(None, description="The profile in prose.")

    @model_validator(mode="after")
    def _named(self) -> LogCharacter:
        if self.name is None and self.card is None:
            raise ValueError("a character needs `name` or `card`")
        return self


class HrpTurn(Strict):
    """One utterance of a human role-play session."""

    role: Role = Field(description="user | character (the person playing the character).")
    speaker: str | None = Field(None, description="Display name; defaults to the character's name or the user_role.")
    text: str = Field(description="What is said.")
    author_id: str | None = Field(None, description="The writer's account id; replaced by a salted pseudonym before publishing.")
    timestamp: dt.datetime | None = Field(None, description="When it was sent (ISO 8601).")


class HrpSession(Strict):
    """One line of an HRP JSONL file: a session between two people, one of whom plays the character."""

    version: Literal["1.0"] = Field("1.0", description="Format version.")
    id: str = Field(min_length=1, description="Session id, unique within the log; opt-out lists refer to it.")
    character: LogCharacter
    user_role: str | None = Field(None, description="Who the character talks to, e.g. 'a fan'.")
    scenario: Scenario = Field(description="chit_chat | interview | companionship | other.")
    language: str = Field(min_length=2, description="ISO 639-1 code, or 'und'.")
    started_at: dt.datetime | None = Field(None, description="When the session started.")
    turns: list[HrpTurn] = Field(min_length=1)
    meta: dict[str, str] = Field(default_factory=dict, description="Free key/value provenance.")


class HpiTurn(Strict):
    """One turn of a human-prototype session; character turns are the model's output, maybe rated and rewritten."""

    role: Role = Field(description="user (the human) | character (the prototype model).")
    speaker: str | None = Field(None, description="Display name; defaults to the character's name or the user_role.")
    text: str = Field(description="The user's message, or the model's output.")
    author_id: str | None = Field(None, description="The user's (or, on character turns, the rater's) account id.")
    timestamp: dt.datetime | None = None
    rating: float | None = Field(None, description="Human rating of a character turn, on the session's rating_scale.")
    rewrite: str | None = Field(None, description="A human's better version of a character turn.")

    @model_validator(mode="after")
    def _character_only(self) -> HpiTurn:
        if self.role == "user" and (self.rating is not None or self.rewrite is not None):
            raise ValueError("rating and rewrite belong on character turns (the model's output), not on user turns")
        if self.rewrite is not None and not self.rewrite.strip():
            raise ValueError("rewrite is empty: leave it out when there is none")
        return self


class HpiSession(Strict):
    """One line of an HPI JSONL file: a person chatting with a prototype model, rating and rewriting its replies."""

    version: Literal["1.0"] = Field("1.0", description="Format version.")
    id: str = Field(min_length=1, description="Session id, unique within the log; opt-out lists refer to it.")
    model: str | None = Field(None, description="The prototype model that wrote the character turns.")
    character: LogCharacter
    user_role: str | None = None
    scenario: Scenario
    language: str = Field(min_length=2)
    rating_scale: tuple[float, float] = Field((1.0, 5.0), description="Lowest and highest possible rating.")
    started_at: dt.datetime | None = None
    turns: list[HpiTurn] = Field(min_length=1)
    meta: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ratings_on_scale(self) -> HpiSession:
        low, high = self.rating_scale
        if low >= high:
            raise ValueError(f"rating_scale {self.rating_scale} must be (lowest, highest)")
        for index, turn in enumerate(self.turns):
            if turn.rating is not None and not low <= turn.rating <= high:
                raise ValueError(f"turns[{index}].rating {turn.rating} is outside rating_scale {list(self.rating_scale)}")
        return self


# For `chardial schema export`: the lead adds these to schemas.tables.TABLES as JSON (non-Parquet) tables.
HUMAN_LOG_MODELS: dict[str, type[Strict]] = {"hrp_session": HrpSession, "hpi_session": HpiSession}
