"""`synthesize.refine`: self-refinement of one character turn per dialogue, with a preference pair.

The LLM critiques a character turn against the profile (consistency, human-likeness, engagement) and
rewrites it. A rewrite that differs replaces the turn, and the pair (chosen = rewrite, rejected =
original, `pair_source = self_refine`) goes to the `pairs` side table. A failed refinement keeps the
original dialogue by default (it was already good enough to reach this step) and records why in
`meta["refine"]`; `on_failure: reject` rejects it instead.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from functools import cached_property
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from operators.identity import content_digest, dialogue_id
from operators.registry import register
from operators.synthesis.checks import Problem, turn_problems
from operators.synthesis.client import derive_seed
from operators.synthesis.dialogues import profile_prose
from operators.synthesis.llm_step import LLMStep, LLMStepConfig, Request, append_ref, meta_of, set_meta
from operators.synthesis.plan import PLAN_REF
from operators.synthesis.structured import Outcome
from schemas.tables import TABLES

PAIR_SCHEMA = TABLES["preference_pair"].schema


class RefineDraft(BaseModel):
    """What the model answers: the critique, scores of the original, and the rewrite."""

    model_config = ConfigDict(extra="ignore")

    critique: str = ""
    consistency: float | None = Field(None, ge=1, le=5)
    human_likeness: float | None = Field(None, ge=1, le=5)
    engagement: float | None = Field(None, ge=1, le=5)
    rewrite: str = Field(min_length=1)


class RefineConfig(LLMStepConfig):
    template: str = Field("refine.v1", description="Prompt template name (files <template>.<language>.jinja).")
    turn: Literal["first", "last", "random"] = Field("random", description="Which character turn to refine; random is seeded per dialogue.")
    on_failure: Literal["keep", "reject"] = Field("keep", description="keep: the dialogue goes on unrefined (meta records why); reject: it is rejected.")


def _same(a: str, b: str) -> bool:
    return " ".join(unicodedata.normalize("NFKC", a).split()) == " ".join(unicodedata.normalize("NFKC", b).split())


def pair_id(dialogue: str, index: int, chosen: str, rejected: str) -> str:
    digest = hashlib.blake2b(json.dumps([dialogue, index, chosen, rejected], ensure_ascii=False).encode("utf-8"), digest_size=16)
    return "p_" + digest.hexdigest()


@register
class SynthesizeRefine(LLMStep):
    name: ClassVar[str] = "synthesize.refine"
    Config = RefineConfig
    reads = frozenset({"character", "character_id", "turns", "language", "user_role", "scenario", "source", "split", "dialogue_id", "source_ref", "meta"})
    writes = frozenset({"turns", "dialogue_id", "source_ref", "meta"})
    summary = "Critique and rewrite one character turn against the profile; the rewrite replaces it and yields a self_refine preference pair."

    def choose(self, row: dict[str, Any], candidates: list[int]) -> int:
        c: RefineConfig = self.config  # type: ignore[assignment]
        if c.turn == "first":
            return candidates[0]
        if c.turn == "last":
            return candidates[-1]
        return candidates[derive_seed(self.llm.seed, "refine-turn", row.get("dialogue_id") or "") % len(candidates)]

    def prepare(self, row: dict[str, Any]) -> Request | None:
        c: RefineConfig = self.config  # type: ignore[assignment]
        turns = row.get("turns") or []
        candidates = [i for i, t in enumerate(turns) if t["role"] == "character"]
        character = row.get("character")
        if not candidates or character is None:
            set_meta(row, refine="skipped: no character turn" if character else "skipped: no character")
            return None
        index = self.choose(row, candidates)
        language = row.get("language") or "en"
        user_speaker = next((t["speaker"] for t in turns if t["role"] == "user"), row.get("user_role") or "user")
        labels = self.vocabulary[language if language in self.vocabulary else "en"]["labels"]
        prompt = self.prompts.render(
            c.template, language, character=character, profile=profile_prose(character, labels), user_role=row.get("user_role") or user_speaker,
            context=turns[:index], reply=turns[index]["text"],
        )

        def check(draft: RefineDraft) -> list[Problem]:
            return turn_problems(draft.rewrite, language=language, user_speaker=user_speaker)

        return Request(
            messages=prompt.messages, seed=derive_seed(self.llm.seed, "refine", row.get("dialogue_id") or ""), version=prompt.version,
            model=RefineDraft, language=language, check=check, context={"index": index},
        )

    def finish(self, row: dict[str, Any], request: Request, outcome: Outcome) -> dict[str, Any] | None:
        """Replace the turn and return the preference pair, or keep/reject the dialogue when refinement failed."""
        c: RefineConfig = self.config  # type: ignore[assignment]
        index = request.context["index"]
        if outcome.value is None:
            if c.on_failure == "reject":
                self.reject(row, outcome.reason or "llm_failed", f"refine turn {index + 1}: {outcome.detail}", outcome.raw)
            else:
                set_meta(row, refine=f"failed: {outcome.reason}: {outcome.detail}"[:500])
            return None
        draft: RefineDraft = outcome.value  # type: ignore[assignment]
        original = row["turns"][index]["text"]
        if _same(draft.rewrite, original):
            set_meta(row, refine=f"kept turn {index + 1}")
            return None
        rewrite = draft.rewrite.strip()
        turns = [dict(t) for t in row["turns"]]
        turns[index]["text"] = rewrite
        row["turns"] = turns
        character = row["character"]
        record_id = meta_of(row).get(PLAN_REF) or row.get("dialogue_id") or ""
        row["dialogue_id"] = dialogue_id(row.get("source") or "synthesis", record_id, content_digest(character["name"], ((t["role"], t["text"]) for t in turns)))
        append_ref(row, f"refine={self.llm.model}@{request.version}#{outcome.keys[-1][:16]}")
        set_meta(row, refine=f"rewrote turn {index + 1}", **{"refine.critique": draft.critique[:2000]})
        speaker = turns[index]["speaker"]
        return {
            "pair_id": pair_id(row["dialogue_id"], index, rewrite, original),
            "dialogue_id": row["dialogue_id"],
            "character_id": row["character_id"],
            "character": character,
            "user_role": row.get("user_role"),
            "scenario": row["scenario"],
            "language": request.language,
            "context": turns[:index],
            "chosen": {"speaker": speaker, "text": rewrite},
            "rejected": {"speaker": speaker, "text": original},
            "pair_source": "self_refine",
            "margin": None,
            "split": row.get("split"),
            "source_ref": row.get("source_ref"),
            "pipeline_run_id": self.context.run_id,
        }

    def emit(self, side_rows: list[dict[str, Any]]) -> None:
        if side_rows and self.context.staging_dir is not None:
            self.context.side_output("pairs", pa.Table.from_pylist(side_rows, schema=PAIR_SCHEMA))
        elif side_rows:
            # no run folder (in-process use): keep them for the caller
            self.pairs.extend(side_rows)

    @cached_property
    def pairs(self) -> list[dict[str, Any]]:
        """Pairs made by this instance when there is no staging folder to write them to."""
        return []
