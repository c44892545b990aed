"""`classify.category`: give every dialogue whose character is `other` a category from its tags or profile.

Ingest sources classify as they read; this operator does the same for rows from any other source
(native JSONL, extraction, synthesis) whose category is `other`, so composition dashboards see real
categories. It writes `meta["ingest.category_source"]` = `tags` or `rules` when it changes a row.
"""

from __future__ import annotations

import json
from typing import ClassVar

import pyarrow as pa
from pydantic import Field

from operators.arrow_lists import combined
from operators.base import Operator, OperatorConfig
from operators.ingest.base import META_CATEGORY_SOURCE, META_TAGS, profile_corpus
from operators.ingest.category import classify_profile, classify_tags
from operators.registry import register
from schemas.arrow import from_arrow_map, to_arrow_map


class CategoryConfig(OperatorConfig):
    use_tags: bool = Field(True, description="Use the tags an ingest source kept in meta['ingest.tags'] before the profile rules.")


@register
class ClassifyCategory(Operator):
    name: ClassVar[str] = "classify.category"
    Config = CategoryConfig
    reads = frozenset({"character", "meta"})
    writes = frozenset({"character", "meta"})
    summary = "Characters still 'other' get a category from their tags or a zh+en rule classifier over the profile."

    def __call__(self, batch: pa.Table) -> pa.Table:
        config: CategoryConfig = self.config  # type: ignore[assignment]
        characters = combined(batch.column("character"))
        metas = combined(batch.column("meta"))
        new_characters, new_metas = characters.to_pylist(), metas.to_pylist()
        changed = False
        for index, character in enumerate(new_characters):
            if character is None or character["category"] != "other":
                continue
            meta = from_arrow_map(new_metas[index]) or {}
            category, how = None, None
            if config.use_tags and META_TAGS in meta:
                category, how = classify_tags(json.loads(meta[META_TAGS])), "tags"
            if category is None:
                category, how = classify_profile(profile_corpus(character)), "rules"
            if category is None:
                continue
            character["category"] = category
            meta[META_CATEGORY_SOURCE] = how
            new_metas[index] = to_arrow_map(dict(sorted(meta.items())))
            changed = True
        if not changed:
            return batch
        batch = batch.set_column(batch.schema.get_field_index("character"), "character", pa.array(new_characters, characters.type))
        return batch.set_column(batch.schema.get_field_index("meta"), "meta", pa.array(new_metas, metas.type))
