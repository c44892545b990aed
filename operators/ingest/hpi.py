"""`read.hpi`: human–prototype interaction logs (schemas/human_logs.py: HpiSession), one session per JSONL line.

A person chats with a prototype model, rates its replies and rewrites the bad ones. In the corpus a
character turn says the human rewrite when there is one (`turn_text: rewrite`, the default) or the
model's output. Per character turn, `meta["hpi.turns"]` keeps what the turn text is not: the model output
or the rewrite, the rating, and `bad_case: true` for a turn rated at or below `bad_rating` without a
rewrite. `meta["hpi.bad_case_turns"]` lists those turn indices, `quality.overall` is the mean rating on
1–5 (`scorer: human:hpi`). `preference.hpi_rewrite` turns the rewrites into preference pairs later in
the pipeline, after redaction and consent, so pairs never carry what the corpus may not.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar, Literal

from pydantic import Field

from operators.base import RunContext
from operators.ingest.base import (
    IngestConfig,
    IngestSource,
    Message,
    RecordError,
    Session,
    dumps,
    meta_json,
    register_format,
    turn_extras,
    write_jsonl,
)
from operators.ingest.hrp import CardCache, check_version, log_character, log_record, log_session, validate, without_nulls
from operators.registry import register
from schemas.arrow import from_arrow_map, to_arrow_map
from schemas.human_logs import HpiSession

META_BAD_CASES = "hpi.bad_case_turns"


class HpiConfig(IngestConfig):
    """HPI JSONL files."""

    turn_text: Literal["rewrite", "model_output"] = Field("rewrite", description="What a rewritten character turn says in the corpus.")
    bad_rating: float = Field(0.25, ge=0, le=1, description="A rating at or below this fraction of the scale, with no rewrite, marks a bad case.")
    low_rated: Literal["label", "reject"] = Field("label", description="Dialogues with bad cases: keep them labelled in meta, or reject them (reason low_rated_turn).")


@register
class HpiReader(IngestSource):
    name: ClassVar[str] = "read.hpi"
    format: ClassVar[str] = "hpi"
    Config = HpiConfig
    summary = "Human-prototype JSONL: model turns with ratings and rewrites; bad cases labelled; rewrites kept for pairs."

    def __init__(self, config: IngestConfig, context: RunContext | None = None) -> None:
        super().__init__(config, context)
        self.cards = CardCache()

    def parse(self, data: Any, path: str, line: int) -> Session:
        config: HpiConfig = self.config  # type: ignore[assignment]
        check_version(data, "HPI")
        record: HpiSession = validate(HpiSession, data)
        character, tags = log_character(record.character, path, record.user_role or "User", self.cards)
        low, high = record.rating_scale
        messages = []
        for index, turn in enumerate(record.turns):
            extra: dict[str, Any] = {"timestamp": data["turns"][index]["timestamp"]} if turn.timestamp else {}
            text = turn.text
            if turn.role == "character":
                if turn.rewrite is not None and config.turn_text == "rewrite":
                    text, extra["model_output"], extra["text_is"] = turn.rewrite, turn.text, "rewrite"
                elif turn.rewrite is not None:
                    extra["rewrite"], extra["text_is"] = turn.rewrite, "model_output"
                if turn.rating is not None:
                    extra["rating"] = turn.rating
                    if turn.rewrite is None and (turn.rating - low) / (high - low) <= config.bad_rating:
                        if config.low_rated == "reject":
                            raise RecordError("low_rated_turn", f"turns[{index}] is rated {turn.rating} on {list(record.rating_scale)} with no rewrite (low_rated: reject)")
                        extra["bad_case"] = True
            messages.append(Message(turn.role, text, turn.speaker, turn.author_id, extra or None))
        session_extra = {"model": record.model, "rating_scale": list(record.rating_scale), "started_at": data.get("started_at")}
        return log_session(record, character, tags, messages, "human_prototype", {k: v for k, v in session_extra.items() if v is not None})

    def session_row(self, session: Session, where: str) -> dict[str, Any]:
        row = super().session_row(session, where)
        meta = from_arrow_map(row["meta"]) or {}
        extras = [e or {} for e in json.loads(meta.get("hpi.turns", "[]"))]
        bad = [i for i, e in enumerate(extras) if e.get("bad_case")]
        if bad:
            meta[META_BAD_CASES] = dumps(bad)
        ratings = [e["rating"] for e in extras if "rating" in e]
        if ratings:
            low, high = session.extra["rating_scale"] if session.extra else (1.0, 5.0)
            mean = sum(ratings) / len(ratings)
            row["quality"] = {"overall": round(1 + 4 * (mean - low) / (high - low), 4), "scorer": "human:hpi"}
        row["meta"] = to_arrow_map(dict(sorted(meta.items())))
        return row


def export_hpi_record(dialogue: dict[str, Any]) -> dict[str, Any]:
    record = log_record(dialogue, "hpi")
    record["meta"].pop(META_BAD_CASES, None)
    session = meta_json(dialogue, "hpi.record", {})
    record["model"] = session.get("model")
    record["rating_scale"] = session.get("rating_scale")
    turns = []
    for turn, extra in zip(dialogue["turns"], turn_extras(dialogue, "hpi"), strict=True):
        out = {"role": turn["role"], "speaker": turn["speaker"], "text": turn["text"], "author_id": turn.get("author_id"), "timestamp": extra.get("timestamp")}
        if extra.get("text_is") == "rewrite":
            out["text"], out["rewrite"] = extra["model_output"], turn["text"]
        elif extra.get("text_is") == "model_output":
            out["rewrite"] = extra["rewrite"]
        out["rating"] = extra.get("rating")
        turns.append(out)
    record["turns"] = turns
    return without_nulls(record)


def export_hpi(dialogues: Iterable[dict[str, Any]], out: str) -> int:
    """Dialogues as an HPI JSONL file (rewrites and ratings restored from meta)."""
    return write_jsonl((export_hpi_record(d) for d in dialogues), out)


register_format("hpi", HpiReader, export_hpi, "jsonl")
