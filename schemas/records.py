"""The record models: character profile, dialogue, preference pair and reject.

These pydantic models are the contract with every consumer. `schemas.tables` turns them into the
Arrow schemas of the Parquet files; `chardial schema export` turns them into JSON Schema.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Category = Literal["celebrity", "daily_life", "fictional", "other"]
Scenario = Literal["chit_chat", "interview", "companionship", "other"]
Source = Literal["synthesis", "extraction", "human_roleplay", "human_prototype", "import"]
Role = Literal["user", "character"]
Split = Literal["train", "validation", "test"]
PairSource = Literal["hpi_rewrite", "self_refine", "judge_ranked", "swipe_choice"]

CATEGORIES: tuple[str, ...] = Category.__args__  # type: ignore[attr-defined]
SCENARIOS: tuple[str, ...] = Scenario.__args__  # type: ignore[attr-defined]
SOURCES: tuple[str, ...] = Source.__args__  # type: ignore[attr-defined]
SPLITS: tuple[str, ...] = Split.__args__  # type: ignore[attr-defined]
QUALITY_DIMENSIONS: tuple[str, ...] = (
    "consistency",
    "human_likeness",
    "engagement",
    "quality",
    "safety",
    "correctness",
)


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt optional field must not vanish silently."""

    model_config = ConfigDict(extra="forbid")


class Attributes(Strict):
    """Who the character is (CharacterGLM's attribute dimensions)."""

    gender: str | None = Field(None, description="Gender as stated by the source, free text.")
    age: str | None = Field(None, description="Age or age range as text, e.g. '34' or 'late twenties'.")
    occupation: str | None = Field(None, description="Occupation or social role.")
    relationships: list[str] = Field(default_factory=list, description="Relationships, one per item, e.g. 'brother: Zhanbo Lu'.")
    experiences: list[str] = Field(default_factory=list, description="Key experiences and life events.")
    hobbies: list[str] = Field(default_factory=list, description="Hobbies and interests.")
    extra: dict[str, str] = Field(default_factory=dict, description="Other attributes as key/value text (birthplace, appearance, ...).")


class Styles(Strict):
    """How the character talks (CharacterGLM's behaviour dimensions)."""

    speaking_style: str | None = Field(None, description="Linguistic style in prose: tone, register, verbal habits.")
    catchphrases: list[str] = Field(default_factory=list, description="Catchphrases and signature expressions.")
    example_lines: list[str] = Field(default_factory=list, description="Example utterances in the character's voice.")


class Character(Strict):
    """A character as carried inside every dialogue row."""

    name: str = Field(description="Display name of the character.", min_length=1)
    category: Category = Field(description="celebrity | daily_life | fictional | other.")
    work: str | None = Field(None, description="The work or franchise the character comes from, if any (disambiguates names).")
    attributes: Attributes = Field(default_factory=Attributes, description="Attribute dimensions of the profile.")
    styles: Styles = Field(default_factory=Styles, description="Style dimensions of the profile.")
    profile_text: str | None = Field(None, description="The profile in prose: what a model is prompted with.")


class CharacterProfile(Character):
    """One row of the character profile table."""

    character_id: str = Field(description="Stable id of the character (see docs/schemas.md for how it is derived).")
    source: Source = Field(description="Where the profile came from.")
    source_ref: str | None = Field(None, description="Provenance: file and offsets, model and prompt hash, or log id.")
    pipeline_run_id: str | None = Field(None, description="The run that wrote this row.")


class Span(Strict):
    """A range of code points in the decoded source document."""

    start: int = Field(ge=0, description="First code point (inclusive).")
    end: int = Field(ge=0, description="Last code point (exclusive).")


class Turn(Strict):
    """One utterance of a dialogue."""

    role: Role = Field(description="user | character: character turns are what a model learns to say.")
    speaker: str = Field(description="Display name of who speaks (the character's name, or the user's role or name).")
    text: str = Field(description="What is said.")
    spans: list[Span] | None = Field(None, description="Where the text came from in a document (extraction): one span, or several for an interrupted quote.")
    author_id: str | None = Field(None, description="Pseudonymous author id for human logs (salted hash, never a raw user id).")


class Quality(Strict):
    """Scores on CharacterGLM's evaluation dimensions, 1-5; null where not scored."""

    consistency: float | None = Field(None, description="Stays in character and consistent with the profile.")
    human_likeness: float | None = Field(None, description="Sounds like a person, not an assistant.")
    engagement: float | None = Field(None, description="Makes the user want to keep talking.")
    quality: float | None = Field(None, description="Fluency and coherence of the replies.")
    safety: float | None = Field(None, description="Free of harmful content.")
    correctness: float | None = Field(None, description="Free of factual and logical errors.")
    overall: float | None = Field(None, description="Overall score.")
    scorer: str | None = Field(None, description="What produced the scores, e.g. 'judge:gpt-4o@rubric-v1' or 'classifier:v3'.")


class Dialogue(Strict):
    """One dialogue session between a user and a character: one row of the corpus."""

    dialogue_id: str = Field(description="Stable id derived from source, source record id and content; unique in a corpus.")
    character_id: str = Field(description="Stable id of the character; splits are assigned by it.")
    character: Character = Field(description="The character's profile.")
    user_role: str | None = Field(None, description="Who the character talks to, e.g. 'her brother Zhanbo Lu', 'a fan'.")
    scenario: Scenario = Field(description="chit_chat | interview | companionship | other.")
    language: str = Field(description="Language code (ISO 639-1, e.g. 'zh', 'en'); 'und' when unknown.", min_length=2)
    turns: list[Turn] = Field(description="The utterances in order.")
    source: Source = Field(description="synthesis | extraction | human_roleplay | human_prototype | import.")
    source_ref: str | None = Field(None, description="Provenance: 'file:line', file and offsets, model and prompt hash, or log id.")
    content_hash: str | None = Field(None, description="Hash of the normalized content (character, roles, texts); equal for exact duplicates.")
    quality: Quality | None = Field(None, description="Quality scores, filled in by scoring stages.")
    dup_cluster_id: str | None = Field(None, description="Near-duplicate cluster this dialogue survived from (the cluster's id), if any.")
    split: Split | None = Field(None, description="train | validation | test, assigned by character: no character spans two splits.")
    meta: dict[str, str] = Field(default_factory=dict, description="Free-form key/value provenance that has no field of its own.")
    pipeline_run_id: str | None = Field(None, description="The run that wrote this row.")


class PreferenceTurn(Strict):
    """A candidate reply in a preference pair."""

    speaker: str = Field(description="Who speaks (the character).")
    text: str = Field(description="The reply.")


class PreferencePair(Strict):
    """A preference pair: same context, a better and a worse character reply."""

    pair_id: str = Field(description="Stable id derived from context and both replies.")
    dialogue_id: str | None = Field(None, description="The dialogue the context comes from.")
    character_id: str = Field(description="Stable id of the character.")
    character: Character = Field(description="The character's profile.")
    user_role: str | None = Field(None, description="Who the character talks to.")
    scenario: Scenario = Field(description="chit_chat | interview | companionship | other.")
    language: str = Field(description="Language code.")
    context: list[Turn] = Field(description="The turns before the reply.")
    chosen: PreferenceTurn = Field(description="The preferred reply.")
    rejected: PreferenceTurn = Field(description="The dispreferred reply.")
    pair_source: PairSource = Field(description="hpi_rewrite | self_refine | judge_ranked | swipe_choice (the swipe a user kept vs those they passed over).")
    margin: float | None = Field(None, description="Score difference chosen - rejected, when known.")
    split: Split | None = Field(None, description="Split of the character.")
    source_ref: str | None = Field(None, description="Provenance.")
    pipeline_run_id: str | None = Field(None, description="The run that wrote this row.")


class Reject(Strict):
    """A record that did not reach the corpus, and why."""

    operator: str = Field(description="The operator that rejected it (its YAML name), e.g. 'read.jsonl', 'filters.length'.")
    reason: str = Field(description="Short machine-readable reason, e.g. 'invalid_json', 'too_few_turns', 'duplicate'.")
    detail: str | None = Field(None, description="Human-readable detail: the field and what was wrong.")
    input_file: str | None = Field(None, description="The input file the record came from.")
    input_line: int | None = Field(None, description="1-based line in the input file (0 for a whole-file problem).")
    dialogue_id: str | None = Field(None, description="The dialogue's id when it was parsed.")
    duplicate_of: str | None = Field(None, description="For duplicates: the dialogue_id that was kept.")
    record: str = Field(description="The record: canonical JSON when it was parsed, else the raw input line.")
    pipeline_run_id: str | None = Field(None, description="The run that wrote this row.")
