"""`synthesize.profiles`: the LLM writes each planned character's profile (attributes, styles, prose).

Rows of one seed variant share a character, so they share one request (and one cache entry). A valid
profile fills `character` and `character_id` and is written once to the `profiles` side table; seeds
that came with a profile are used as given. A profile that never validates rejects the rows of that
character with the reason and the raw response.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from operators.identity import character_id
from operators.registry import register
from operators.synthesis.checks import Problem, character_break, wrong_language
from operators.synthesis.client import derive_seed
from operators.synthesis.llm_step import LLMStep, LLMStepConfig, append_ref, meta_of
from operators.synthesis.plan import SEED_BRIEF, SEED_CATEGORY, SEED_NAME, SEED_REF, SEED_VARIANT, SEED_WORK
from operators.synthesis.structured import generate_structured
from schemas.tables import TABLES

PROFILE_SCHEMA = TABLES["character_profile"].schema


class ProfileDraft(BaseModel):
    """What the model answers; extra keys are ignored, numbers where text is expected are accepted as text."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    name: str = Field(min_length=1)
    work: str | None = None
    gender: str | None = None
    age: str | None = None
    occupation: str | None = None
    relationships: list[str] = Field(default_factory=list)
    experiences: list[str] = Field(default_factory=list)
    hobbies: list[str] = Field(default_factory=list)
    extra: dict[str, str] = Field(default_factory=dict)
    speaking_style: str | None = None
    catchphrases: list[str] = Field(default_factory=list)
    example_lines: list[str] = Field(default_factory=list)
    profile_text: str = Field(min_length=20)


class ProfilesConfig(LLMStepConfig):
    template: str = Field("profile.v1", description="Prompt template name (files <template>.<language>.jinja).")


@register
class SynthesizeProfiles(LLMStep):
    name: ClassVar[str] = "synthesize.profiles"
    Config = ProfilesConfig
    reads = frozenset({"character", "meta", "language", "source_ref"})
    writes = frozenset({"character", "character_id", "source_ref"})
    summary = "LLM-written character profiles from seeds; one request per character, validated, written to profiles/."

    def check(self, seed_name: str | None, language: str) -> Any:
        def problems(draft: ProfileDraft) -> list[Problem]:
            found: list[Problem | None] = [
                ("wrong_name", f"the profile is for {draft.name!r}, the seed names {seed_name!r}") if seed_name and draft.name.strip() != seed_name else None,
                wrong_language([draft.profile_text], language),
                *(character_break(line) for line in draft.example_lines),
            ]
            return [p for p in found if p is not None]

        return problems

    async def profile(self, rows: list[dict[str, Any]]) -> None:
        """One character: ask, validate, then fill (or reject) all its planned rows."""
        c: ProfilesConfig = self.config  # type: ignore[assignment]
        first = rows[0]
        meta = meta_of(first)
        language = first["language"] or "en"
        seed = {"category": meta.get(SEED_CATEGORY), "name": meta.get(SEED_NAME), "work": meta.get(SEED_WORK), "brief": meta.get(SEED_BRIEF)}
        variant = int(meta.get(SEED_VARIANT, "0"))
        category = seed["category"] or "other"
        prompt = self.prompts.render(
            c.template, language, seed=seed, variant=variant,
            category_description=self.vocabulary[language if language in self.vocabulary else "en"]["categories"][category],
        )
        outcome = await generate_structured(
            self.client, prompt.messages, ProfileDraft,  # type: ignore[arg-type]
            seed=derive_seed(self.llm.seed, "profile", meta.get(SEED_REF, ""), str(variant), language),
            template_version=prompt.version, feedback=self.feedback(language),
            check=self.check(seed["name"], language), max_retries=self.llm.max_validation_retries,
        )
        if outcome.value is None:
            for row in rows:
                self.reject(row, outcome.reason or "llm_failed", f"profile: {outcome.detail}", outcome.raw)
            return
        draft = outcome.value
        work = seed["work"] or draft.work
        character = {
            "name": draft.name.strip(),
            "category": category,
            "work": work,
            "attributes": {"gender": draft.gender, "age": draft.age, "occupation": draft.occupation, "relationships": draft.relationships,
                           "experiences": draft.experiences, "hobbies": draft.hobbies, "extra": list(draft.extra.items())},
            "styles": {"speaking_style": draft.speaking_style, "catchphrases": draft.catchphrases, "example_lines": draft.example_lines},
            "profile_text": draft.profile_text,
        }
        ref = f"profile={self.llm.model}@{prompt.version}#{outcome.keys[-1][:16]}"
        cid = character_id(character["name"], work)
        for row in rows:
            row["character"] = character
            row["character_id"] = cid
            append_ref(row, ref)
        self.write_profile(character, cid, "synthesis", f"{meta.get(SEED_REF)}#{variant} | {ref}")

    def write_profile(self, character: dict[str, Any], cid: str, source: str, source_ref: str | None) -> None:
        """One profile per file: content-named, so every batch and retry that sees the character writes the same file."""
        if self.context.staging_dir is None:
            return
        row = {**character, "character_id": cid, "source": source, "source_ref": source_ref, "pipeline_run_id": self.context.run_id}
        self.context.side_output("profiles", pa.Table.from_pylist([row], schema=PROFILE_SCHEMA))

    async def process(self, rows: list[dict[str, Any]]) -> None:
        groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for row in rows:
            character = row.get("character")
            if character is not None and character.get("profile_text"):
                # the seed came with a profile: use it as given
                self.write_profile(character, row["character_id"], "import", meta_of(row).get(SEED_REF))
                continue
            meta = meta_of(row)
            key = (meta.get(SEED_REF, row.get("source_ref") or ""), meta.get(SEED_VARIANT, "0"), row.get("language") or "")
            groups.setdefault(key, []).append(row)
        await self.gather([self.profile(group) for group in groups.values()])
