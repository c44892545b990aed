"""`synthesize.plan`: a character seeds YAML file -> one planned dialogue row per (character, dialogue).

The one-to-many expansion happens here, before any LLM call, so every later synthesis step is
row-preserving and the ledger counts planned dialogues: each ends in the corpus or in rejects. A seed
without a name yields `count` characters; each character gets N dialogues spread over the configured
scenarios. A bad seed becomes one reject naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pyarrow as pa
import yaml
from pydantic import Field, ValidationError

from operators.base import Source, SourceConfig
from operators.columns import INPUT_FILE, INPUT_LINE, RAW, REJECT_DETAIL, REJECT_OPERATOR, REJECT_REASON, WORKING_SCHEMA
from operators.identity import character_id, dialogue_id
from operators.registry import register
from operators.synthesis.client import derive_seed
from schemas.records import SCENARIOS, Scenario
from schemas.seeds import CharacterSeed
from schemas.tables import format_validation_error

# meta keys carrying the seed to the profile and dialogue steps
PLAN_REF = "synthesis.plan"
SEED_CATEGORY = "seed.category"
SEED_NAME = "seed.name"
SEED_WORK = "seed.work"
SEED_BRIEF = "seed.brief"
SEED_LIKE = "seed.like"
SEED_VARIANT = "seed.variant"
SEED_REF = "seed.ref"


class PlanConfig(SourceConfig):
    """Seeds YAML files (`.yaml`, `.yml`) and how many dialogues to plan from them."""

    language: str = Field("zh", min_length=2, description="Language of seeds that name none (zh | en).")
    dialogues_per_character: int = Field(4, ge=1, description="Dialogues planned per character (a seed's `dialogues` overrides it).")
    scenarios: list[Scenario] = Field(default_factory=lambda: ["chit_chat", "interview", "companionship"], min_length=1,
                                      description=f"Scenarios the dialogues of a character rotate through ({' | '.join(SCENARIOS)}).")


def _seed_lines(text: str) -> list[int]:
    """1-based line of each item of the seeds list (top-level list or `seeds:`)."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if isinstance(node, yaml.MappingNode):
        node = next((value for key, value in node.value if getattr(key, "value", None) == "seeds"), None)
    if not isinstance(node, yaml.SequenceNode):
        return []
    return [item.start_mark.line + 1 for item in node.value]


def _reject(operator: str, path: str, line: int, reason: str, detail: str, raw: str) -> dict[str, Any]:
    return {REJECT_REASON: reason, REJECT_OPERATOR: operator, REJECT_DETAIL: detail, INPUT_FILE: path, INPUT_LINE: line, RAW: raw[:100_000]}


@register
class SynthesisPlan(Source):
    name: ClassVar[str] = "synthesize.plan"
    Config = PlanConfig
    suffixes = (".yaml", ".yml")
    summary = "Character seeds YAML -> planned dialogue rows (characters x dialogues x scenarios) for the synthesis steps."

    def plan_rows(self, seed: CharacterSeed, path: str, line: int) -> list[dict[str, Any]]:
        """The planned dialogue rows of one valid seed."""
        c: PlanConfig = self.config  # type: ignore[assignment]
        language = seed.language or c.language
        characters = 1 if seed.name else seed.count
        per_character = seed.dialogues or c.dialogues_per_character
        seed_ref = f"{path}:{line}"
        rows = []
        for variant in range(characters):
            # rotate scenarios from a per-character offset, so small N still covers every scenario across characters
            offset = derive_seed(0, seed_ref, str(variant)) % len(c.scenarios)
            for index in range(per_character):
                plan_ref = f"{seed_ref}#{variant}.{index}"
                character = None
                if seed.name:
                    profile = seed.profile
                    character = {
                        "name": seed.name,
                        "category": seed.category,
                        "work": seed.work,
                        "attributes": {**profile.attributes.model_dump(), "extra": list(profile.attributes.extra.items())} if profile else None,
                        "styles": profile.styles.model_dump() if profile else None,
                        "profile_text": profile.profile_text if profile else None,
                    }
                meta = {PLAN_REF: plan_ref, SEED_REF: seed_ref, SEED_CATEGORY: seed.category, SEED_VARIANT: str(variant)}
                meta.update({key: value for key, value in ((SEED_NAME, seed.name), (SEED_WORK, seed.work), (SEED_BRIEF, seed.brief), (SEED_LIKE, seed.like)) if value})
                rows.append({
                    "dialogue_id": dialogue_id("synthesis", plan_ref, ""),
                    "character_id": character_id(seed.name, seed.work) if seed.name else None,
                    "character": character,
                    "scenario": c.scenarios[(offset + index) % len(c.scenarios)],
                    "language": language,
                    "turns": [],
                    "source": "synthesis",
                    "source_ref": plan_ref,
                    "meta": list(meta.items()),
                    INPUT_FILE: path,
                    INPUT_LINE: line,
                })
        return rows

    def read(self, path: str, rows_per_block: int) -> Iterator[pa.Table]:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        try:
            data = yaml.safe_load(text)
            lines = _seed_lines(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            line = mark.line + 1 if mark is not None else 0
            yield pa.Table.from_pylist([_reject(self.name, path, line, "invalid_yaml", f"{path}:{line}: invalid YAML: {error}", text)], schema=WORKING_SCHEMA)
            return
        items = data.get("seeds") if isinstance(data, dict) else data
        if not isinstance(items, list) or not items:
            detail = f"{path}: expected a list of seeds (or `seeds:` with a list), got {type(items).__name__}"
            yield pa.Table.from_pylist([_reject(self.name, path, 0, "no_seeds", detail, text)], schema=WORKING_SCHEMA)
            return
        rows: list[dict[str, Any]] = []
        for number, item in enumerate(items):
            line = lines[number] if number < len(lines) else 0
            raw = yaml.safe_dump(item, allow_unicode=True, sort_keys=False)
            try:
                seed = CharacterSeed.model_validate(item)
            except ValidationError as error:
                rows.append(_reject(self.name, path, line, "invalid_seed", format_validation_error(error, f"{path}:{line}"), raw))
                continue
            if seed.profile is not None and not seed.name:
                rows.append(_reject(self.name, path, line, "invalid_seed", f"{path}:{line}: a seed with a `profile` needs a `name`", raw))
                continue
            rows.extend(self.plan_rows(seed, path, line))
            while len(rows) >= rows_per_block:
                yield pa.Table.from_pylist(rows[:rows_per_block], schema=WORKING_SCHEMA)
                rows = rows[rows_per_block:]
        if rows:
            yield pa.Table.from_pylist(rows, schema=WORKING_SCHEMA)
