"""`synthesize.dialogues`: the LLM writes each planned dialogue from the character's profile.

The person the character talks to is drawn, reproducibly per row, from the profile's relationships
(for chit-chat and companionship) and from generic roles of the scenario (fan, stranger, journalist …).
Answers pass the built-in checks (turn count, alternation, AI-isms and character breaks, the character
speaking the user's lines, language) or are re-asked with the problem fed back; a dialogue that never
passes becomes a reject with the reason and the raw response.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from operators.identity import content_digest, dialogue_id
from operators.registry import register
from operators.synthesis.checks import Problem, dialogue_problems
from operators.synthesis.client import derive_seed
from operators.synthesis.llm_step import LLMStep, LLMStepConfig, Request, append_ref, meta_of, set_meta
from operators.synthesis.plan import PLAN_REF
from operators.synthesis.structured import Outcome


class TurnDraft(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["user", "character"]
    text: str


class DialogueDraft(BaseModel):
    """What the model answers: the turns in order."""

    model_config = ConfigDict(extra="ignore")

    turns: list[TurnDraft] = Field(min_length=1)


class DialoguesConfig(LLMStepConfig):
    template: str = Field("dialogue.v1", description="Prompt template name (files <template>.<language>.jinja).")
    turns: int = Field(8, ge=2, le=100, description="Turns per dialogue (K), both sides counted.")
    first_role: Literal["user", "character"] = Field("user", description="Who speaks first.")
    relationship_roles: bool = Field(True, description="Let the character talk with people from its profile's relationships (chit_chat, companionship).")


def profile_prose(character: dict[str, Any], labels: dict[str, str]) -> str:
    """The profile a prompt shows: the prose, plus the structured fields the prose may lack (labels in the prompt's language)."""
    parts = [character.get("profile_text") or ""]
    attributes = character.get("attributes") or {}
    styles = character.get("styles") or {}
    for key, value in (
        ("occupation", attributes.get("occupation")),
        ("relationships", "; ".join(attributes.get("relationships") or [])),
        ("speaking_style", styles.get("speaking_style")),
        ("catchphrases", " / ".join(styles.get("catchphrases") or [])),
        ("example_lines", " / ".join(styles.get("example_lines") or [])),
    ):
        if value:
            parts.append(f"{labels[key]}: {value}")
    return "\n".join(p for p in parts if p)


def relationship_role(relationship: str, language: str) -> dict[str, str]:
    """'sister: Anna, a nurse in Leeds' -> talk with 'Anna, a nurse in Leeds (their sister)', speaker 'Anna'."""
    relation, separator, who = re.split(r"([:：])", relationship, maxsplit=1) if re.search(r"[:：]", relationship) else ("", "", relationship)
    who = who.strip() or relation.strip()
    speaker = re.split(r"[,，、(（]", who, maxsplit=1)[0].strip() or who
    if not relation.strip():
        return {"role": who, "speaker": speaker}
    role = f"{who}（{relation.strip()}）" if language == "zh" else f"{who} (their {relation.strip()})"
    return {"role": role, "speaker": speaker[:40]}


@register
class SynthesizeDialogues(LLMStep):
    name: ClassVar[str] = "synthesize.dialogues"
    Config = DialoguesConfig
    reads = frozenset({"character", "scenario", "language", "user_role", "source", "source_ref", "dialogue_id", "meta"})
    writes = frozenset({"turns", "user_role", "dialogue_id", "source_ref", "meta"})
    summary = "LLM-written dialogues (K turns) per planned row, from the profile, scenario and a drawn user role; checked and re-asked."

    def pick_role(self, row: dict[str, Any], plan_ref: str) -> dict[str, str]:
        """The other side of the dialogue: the row's own user_role, or a reproducible draw."""
        c: DialoguesConfig = self.config  # type: ignore[assignment]
        language = row["language"] if row["language"] in self.vocabulary else "en"
        if row.get("user_role"):
            return {"role": row["user_role"], "speaker": row["user_role"][:40]}
        scenario = row["scenario"] or "other"
        candidates = list(self.vocabulary[language]["roles"].get(scenario) or self.vocabulary[language]["roles"]["other"])
        if c.relationship_roles and scenario in ("chit_chat", "companionship"):
            relationships = ((row["character"] or {}).get("attributes") or {}).get("relationships") or []
            candidates += [relationship_role(r, language) for r in relationships if r.strip()]
        return candidates[derive_seed(self.llm.seed, "role", plan_ref) % len(candidates)]

    def check(self, language: str, user_speaker: str) -> Any:
        c: DialoguesConfig = self.config  # type: ignore[assignment]

        def problems(draft: DialogueDraft) -> list[Problem]:
            turns = [(t.role, t.text) for t in draft.turns]
            return dialogue_problems(turns, expected_turns=c.turns, first_role=c.first_role, language=language, user_speaker=user_speaker)

        return problems

    def prepare(self, row: dict[str, Any]) -> Request | None:
        c: DialoguesConfig = self.config  # type: ignore[assignment]
        character = row.get("character")
        if character is None:
            self.reject(row, "no_profile", "the row has no character profile: run synthesize.profiles first", None)
            return None
        language = row.get("language") or "en"
        plan_ref = meta_of(row).get(PLAN_REF) or row.get("dialogue_id") or row.get("source_ref") or ""
        role = self.pick_role(row, plan_ref)
        vocabulary = self.vocabulary[language if language in self.vocabulary else "en"]
        prompt = self.prompts.render(
            c.template, language, character=character, profile=profile_prose(character, vocabulary["labels"]), user_role=role["role"],
            scenario=row["scenario"], scenario_description=vocabulary["scenarios"].get(row["scenario"] or "other", ""),
            turns=c.turns, first_role=c.first_role,
        )
        return Request(
            messages=prompt.messages, seed=derive_seed(self.llm.seed, "dialogue", plan_ref), version=prompt.version, model=DialogueDraft,
            language=language, check=self.check(language, role["speaker"]), context={"role": role, "plan_ref": plan_ref},
        )

    def finish(self, row: dict[str, Any], request: Request, outcome: Outcome) -> dict[str, Any] | None:
        if outcome.value is None:
            self.reject(row, outcome.reason or "llm_failed", f"dialogue: {outcome.detail}", outcome.raw)
            return None
        character, role = row["character"], request.context["role"]
        draft: DialogueDraft = outcome.value  # type: ignore[assignment]
        turns = [
            {"role": t.role, "speaker": character["name"] if t.role == "character" else role["speaker"], "text": t.text.strip(),
             "spans": None, "author_id": None}
            for t in draft.turns
        ]
        row["turns"] = turns
        row["user_role"] = role["role"]
        content = content_digest(character["name"], ((t["role"], t["text"]) for t in turns))
        row["dialogue_id"] = dialogue_id(row.get("source") or "synthesis", request.context["plan_ref"], content)
        append_ref(row, f"dialogue={self.llm.model}@{request.version}#{outcome.keys[-1][:16]}")
        set_meta(row, **{"synthesis.model": self.llm.model, "synthesis.dialogue_attempts": str(outcome.attempts)})
        return None
