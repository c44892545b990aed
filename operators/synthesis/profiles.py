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
from operators.synthesis.llm_step import LLMStep, LLMStepConfig, Request, append_ref, meta_of
from operators.synthesis.plan import SEED_BRIEF, SEED_CATEGORY, SEED_LIKE, SEED_NAME, SEED_REF, SEED_VARIANT, SEED_WORK
from operators.synthesis.structured import Outcome
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
    reads = frozenset({"character", "character_id", "meta", "language", "source_ref"})
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

    def prepare(self, row: dict[str, Any]) -> Request | None:
        c: ProfilesConfig = self.config  # type: ignore[assignment]
        character = row.get("character")
        if character is not None and character.get("profile_text"):
            return None  # the seed came with a profile
        meta = meta_of(row)
        language = row.get("language") or "en"
        seed = {"category": meta.get(SEED_CATEGORY) or "other", "name": meta.get(SEED_NAME), "work": meta.get(SEED_WORK), "brief": meta.get(SEED_BRIEF),
                "like": meta.get(SEED_LIKE)}
        variant = int(meta.get(SEED_VARIANT, "0"))
        vocabulary = self.vocabulary[language if language in self.vocabulary else "en"]
        prompt = self.prompts.render(c.template, language, seed=seed, variant=variant, category_description=vocabulary["categories"][seed["category"]])
        seed_ref = meta.get(SEED_REF) or row.get("source_ref") or ""
        return Request(
            messages=prompt.messages, seed=derive_seed(self.llm.seed, "profile", seed_ref, str(variant), language), version=prompt.version,
            model=ProfileDraft, language=language, check=self.check(seed["name"], language),
            context={"seed": seed, "seed_ref": f"{seed_ref}#{variant}"},
        )

    def finish(self, row: dict[str, Any], request: Request, outcome: Outcome) -> dict[str, Any] | None:
        if outcome.value is None:
            self.reject(row, outcome.reason or "llm_failed", f"profile: {outcome.detail}", outcome.raw)
            return None
        draft: ProfileDraft = outcome.value  # type: ignore[assignment]
        seed = request.context["seed"]
        work = seed["work"] or draft.work
        row["character"] = {
            "name": draft.name.strip(),
            "category": seed["category"],
            "work": work,
            "attributes": {"gender": draft.gender, "age": draft.age, "occupation": draft.occupation, "relationships": draft.relationships,
                           "experiences": draft.experiences, "hobbies": draft.hobbies, "extra": list(draft.extra.items())},
            "styles": {"speaking_style": draft.speaking_style, "catchphrases": draft.catchphrases, "example_lines": draft.example_lines},
            "profile_text": draft.profile_text,
        }
        row["character_id"] = character_id(draft.name.strip(), work)
        ref = f"profile={self.llm.model}@{request.version}#{outcome.keys[-1][:16]}"
        append_ref(row, ref)
        return {"profile": (row["character"], row["character_id"], "synthesis", f"{request.context['seed_ref']} | {ref}")}

    def emit(self, side_rows: list[dict[str, Any]]) -> None:
        for made in side_rows:
            self.write_profile(*made["profile"])

    def write_profile(self, character: dict[str, Any], cid: str, source: str, source_ref: str | None) -> None:
        """One profile per file: content-named, so every batch and retry that sees the character writes the same file."""
        if self.context.staging_dir is None:
            return
        row = {**character, "character_id": cid, "source": source, "source_ref": source_ref, "pipeline_run_id": self.context.run_id}
        self.context.side_output("profiles", pa.Table.from_pylist([row], schema=PROFILE_SCHEMA))

    async def process(self, rows: list[dict[str, Any]]) -> None:
        """Rows of one character share one request: ask once per group, then fill every row of it."""
        groups: dict[str, tuple[Request, list[dict[str, Any]]]] = {}
        given: set[str] = set()
        for row in rows:
            request = self.prepare_or_reject(row)
            if request is None:
                if row.get("_reject_reason") is None and row["character_id"] not in given:
                    given.add(row["character_id"])
                    self.write_profile(row["character"], row["character_id"], "import", meta_of(row).get(SEED_REF))
                continue
            groups.setdefault(request.context["seed_ref"] + "|" + request.language, (request, []))[1].append(row)

        async def one(request: Request, members: list[dict[str, Any]]) -> None:
            outcome = await self.ask(request)
            made = [self.finish(row, request, outcome) for row in members]
            self.emit([m for m in made[:1] if m is not None])

        await self.gather([one(request, members) for request, members in groups.values()])
