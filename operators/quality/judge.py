"""`quality.judge`: an LLM scores each dialogue 1-5 on CharacterGLM's six dimensions and overall.

The rubric is written per dimension in versioned templates (`templates/judge.v1.{en,zh}.jinja`; the
version hash of the exact template text is part of the scorer name and of the cache key). The answer is
structured JSON (a schema sent as response_format, parsed leniently, validated, re-asked with the error
on failure), through the synthesis LLM client: response cache, shared rate limits, retries with backoff.
The judge also names the character turns it finds clearly bad (`meta["judge.bad_turns"]`), which
locates bad turns without a request per turn.

A dialogue the judge cannot score (refusal, malformed answers after the retries) is kept unscored with
the reason in `meta["judge"]` (`on_failure: keep`) or rejected with it (`on_failure: reject`). Rows that
already carry scores (human ratings) are not sent unless `overwrite`. Per-dimension thresholds reject
rows with reason `low_<dimension>`, like `quality.classifier`. Without an endpoint the step cannot run:
`chardial recipe` leaves it out (and says so); `chardial run` stops with the client's message.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from operators.columns import REJECT_REASON
from operators.quality.model import DIMENSIONS
from operators.quality.thresholds import Thresholds, verdict
from operators.registry import register
from operators.synthesis.checks import Problem
from operators.synthesis.client import derive_seed
from operators.synthesis.dialogues import profile_prose
from operators.synthesis.llm_step import LLMStep, LLMStepConfig, Request
from operators.synthesis.prompts import PromptLibrary
from operators.synthesis.structured import Outcome
from schemas.arrow import from_arrow_map, to_arrow_map

TEMPLATES = Path(__file__).with_name("templates")
META_JUDGE = "judge"
META_RATIONALE = "judge.rationale"
META_BAD_TURNS = "judge.bad_turns"
META_REF = "judge.ref"
Score = float


class BadTurn(BaseModel):
    """A character turn the judge finds clearly bad."""

    model_config = ConfigDict(extra="ignore")

    turn: int = Field(ge=1, description="The turn's number in the transcript (1-based).")
    problem: str = Field("", description="What is wrong, in a few words.")


class JudgeVerdict(BaseModel):
    """What the judge answers."""

    model_config = ConfigDict(extra="ignore")

    rationale: str = ""
    consistency: Score = Field(ge=1, le=5)
    human_likeness: Score = Field(ge=1, le=5)
    engagement: Score = Field(ge=1, le=5)
    quality: Score = Field(ge=1, le=5)
    safety: Score = Field(ge=1, le=5)
    correctness: Score = Field(ge=1, le=5)
    overall: Score = Field(ge=1, le=5)
    bad_turns: list[BadTurn] = Field(default_factory=list)


class JudgeConfig(LLMStepConfig):
    template: str = Field("judge.v1", description="Rubric template name (files <template>.<language>.jinja); zh dialogues use zh, others en.")
    thresholds: Thresholds = Field(default_factory=dict, description="Minimum score per dimension; rows below are rejected (reason low_<dimension>).")
    overwrite: bool = Field(False, description="Also judge rows that already carry scores (human ratings); by default they are kept as they are.")
    on_failure: Literal["keep", "reject"] = Field("keep", description="keep: an unscorable dialogue goes on unscored (meta['judge'] says why); reject: it is rejected.")


def set_meta(row: dict[str, Any], values: dict[str, str]) -> None:
    """Add keys to a row's meta (the Arrow list of key/value structs)."""
    meta = from_arrow_map(row.get("meta")) or {}
    meta.update(values)
    row["meta"] = to_arrow_map(dict(sorted(meta.items())))


def transcript(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Turns with their 1-based numbers, as the template shows them."""
    return [{"number": i + 1, "speaker": t["speaker"], "role": t["role"], "text": t["text"]} for i, t in enumerate(turns)]


@register
class QualityJudge(LLMStep):
    name: ClassVar[str] = "quality.judge"
    Config = JudgeConfig
    reads = frozenset({"character", "turns", "language", "user_role", "scenario", "dialogue_id", "quality", "meta"})
    writes = frozenset({"quality", "meta"})
    summary = "An LLM judge scores dialogues 1-5 on consistency, human-likeness, engagement, quality, safety, correctness and overall (zh/en rubrics)."
    default_only: ClassVar[dict[str, list[str]]] = {}  # the judge scores every source, unlike the synthesis steps

    @cached_property
    def prompts(self) -> PromptLibrary:
        """A user template folder first, then the judge's templates, then synthesis's (the feedback messages)."""
        c: JudgeConfig = self.config  # type: ignore[assignment]
        library = PromptLibrary(c.template_dir)
        library.env.loader.searchpath.insert(1 if c.template_dir else 0, str(TEMPLATES))  # type: ignore[union-attr]
        return library

    def scorer(self, version: str) -> str:
        return f"judge:{self.llm.model}@{version}"

    def prepare(self, row: dict[str, Any]) -> Request | None:
        c: JudgeConfig = self.config  # type: ignore[assignment]
        existing = row.get("quality") or {}
        if existing.get("scorer") and not c.overwrite:
            return None
        turns = row.get("turns") or []
        character = row.get("character")
        if character is None or not any(t["role"] == "character" for t in turns):
            set_meta(row, {META_JUDGE: "skipped: no character turn"})
            return None
        language = "zh" if row.get("language") == "zh" else "en"
        vocabulary = self.vocabulary[language]
        user_speaker = next((t["speaker"] for t in turns if t["role"] == "user"), "user")
        prompt = self.prompts.render(
            c.template, language, character=character, profile=profile_prose(character, vocabulary["labels"]) or character["name"],
            category=vocabulary["categories"].get(character.get("category"), character.get("category")),
            scenario=vocabulary["scenarios"].get(row.get("scenario"), row.get("scenario")),
            user_role=row.get("user_role") or user_speaker, turns=transcript(turns),
        )
        character_turns = {i + 1 for i, t in enumerate(turns) if t["role"] == "character"}

        def check(answer: JudgeVerdict) -> list[Problem]:
            wrong = sorted({b.turn for b in answer.bad_turns} - character_turns)
            if wrong:
                return [("llm_invalid_output", f"bad_turns names {wrong}, which are not character turns (character turns: {sorted(character_turns)})")]
            return []

        return Request(
            messages=prompt.messages, seed=derive_seed(self.llm.seed, "judge", row.get("dialogue_id") or ""), version=prompt.version,
            model=JudgeVerdict, language=language, check=check,
        )

    def finish(self, row: dict[str, Any], request: Request, outcome: Outcome) -> dict[str, Any] | None:
        c: JudgeConfig = self.config  # type: ignore[assignment]
        if outcome.value is None:
            if c.on_failure == "reject":
                self.reject(row, outcome.reason or "llm_failed", f"judge: {outcome.detail}", outcome.raw)
            else:
                set_meta(row, {META_JUDGE: f"failed: {outcome.reason}: {outcome.detail}"[:500]})
            return None
        answer: JudgeVerdict = outcome.value  # type: ignore[assignment]
        row["quality"] = {**{d: float(getattr(answer, d)) for d in DIMENSIONS}, "scorer": self.scorer(request.version)}
        bad = [{"turn": b.turn - 1, "problem": b.problem[:200]} for b in answer.bad_turns]
        values = {META_JUDGE: "scored", META_RATIONALE: answer.rationale[:2000], META_REF: f"{request.version}#{outcome.keys[-1][:16]}"}
        if bad:
            values[META_BAD_TURNS] = json.dumps(bad, ensure_ascii=False)
        set_meta(row, values)
        return None

    async def process(self, rows: list[dict[str, Any]]) -> None:
        await super().process(rows)
        c: JudgeConfig = self.config  # type: ignore[assignment]
        for row in rows:
            if row.get(REJECT_REASON) is None:
                reason, detail = verdict(row.get("quality"), c.thresholds)
                if reason is not None:
                    self.reject(row, reason, detail, None)

