"""`privacy.pii`: redact PII (zh + en) in every turn, the user role and the meta values, with typed placeholders.

E-mail addresses, phone numbers (mainland China and international), checksum-valid Chinese resident ID
numbers, Luhn-valid payment card numbers, URLs, IP addresses and social handles become `<EMAIL>`,
`<PHONE>`, `<ID_NUMBER>`, `<CARD_NUMBER>`, `<URL>`, `<IP>`, `<HANDLE>` (see operators/privacy/detectors.py).
Meta values are redacted too (JSON values string by string), because readers keep model outputs,
swipes and cards there. Each row counts what it lost in `meta["privacy.pii"]` (JSON, per type), and
`totals` sums them per operator instance for the run's manifest.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field

from operators.arrow_lists import combined, parents, replace_turn_fields, turn_field
from operators.base import Operator, OperatorConfig
from operators.privacy.detectors import PII_TYPES, redact
from operators.registry import register
from schemas.arrow import from_arrow_map, to_arrow_map

PiiType = Literal["email", "url", "cn_id", "card", "ip", "phone", "handle"]
META_COUNTS = "privacy.pii"
# Keys of meta JSON values that hold times, ratings or positions, never free text: not scanned.
NOT_TEXT = frozenset({"timestamp", "started_at", "send_date", "create_date", "submission_timestamp", "gen_started", "gen_finished",
                      "rating", "rating_scale", "swipe_id", "text_is", "bad_case", "position", "turn", "chars"})
# Keys an ingest source writes for ids and bookkeeping: never PII, and consent matches on them.
_SKIP_PREFIX = "ingest."


class PiiConfig(OperatorConfig):
    types: list[PiiType] = Field(default_factory=lambda: list(PII_TYPES), description="PII types to redact.")
    redact_meta: bool = Field(True, description="Also redact meta values (model outputs, swipes, cards kept by readers).")
    redact_profile: bool = Field(False, description="Also redact the character's profile_text (off: public figures' profiles name real sites).")


class _Counter:
    """Redacts strings and adds up what it replaced."""

    def __init__(self, kinds: tuple[str, ...]) -> None:
        self.kinds = kinds
        self.counts: dict[str, int] = {}

    def __call__(self, text: str | None) -> str | None:
        if not text:
            return text
        clean, counts = redact(text, self.kinds)
        for kind, count in counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + count
        return clean

    def json_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self(value)
        if isinstance(value, list):
            return [self.json_value(v) for v in value]
        if isinstance(value, dict):
            return {k: v if k in NOT_TEXT else self.json_value(v) for k, v in value.items()}
        return value


@register
class PiiRedaction(Operator):
    name: ClassVar[str] = "privacy.pii"
    Config = PiiConfig
    reads = frozenset({"turns", "user_role", "meta", "character"})
    writes = frozenset({"turns", "user_role", "meta", "character"})
    summary = "Redacts e-mails, phones, CN ID numbers, card numbers, URLs, IPs and handles (zh + en) with typed placeholders; counts per type."
    totals_meta_key = META_COUNTS

    def __init__(self, config: OperatorConfig | None = None, context: Any = None) -> None:
        super().__init__(config, context)
        self.totals: dict[str, int] = {}

    def __call__(self, batch: pa.Table) -> pa.Table:
        config: PiiConfig = self.config  # type: ignore[assignment]
        kinds = tuple(k for k in PII_TYPES if k in config.types)
        turns = combined(batch.column("turns"))
        texts = turn_field(turns, "text").to_pylist()
        owners = parents(turns).to_pylist()
        per_row: list[dict[str, int]] = [{} for _ in range(batch.num_rows)]
        redacted = []
        for owner, text in zip(owners, texts, strict=True):
            counter = _Counter(kinds)
            redacted.append(counter(text))
            _add(per_row[owner], counter.counts)
        batch = batch.set_column(batch.schema.get_field_index("turns"), "turns", replace_turn_fields(turns, text=pa.array(redacted, pa.string())))
        roles, metas = batch.column("user_role").to_pylist(), batch.column("meta").to_pylist()
        characters = batch.column("character").to_pylist() if config.redact_profile else None
        for index in range(batch.num_rows):
            counter = _Counter(kinds)
            roles[index] = counter(roles[index])
            if config.redact_meta and metas[index]:
                metas[index] = [{"key": e["key"], "value": e["value"] if e["key"].startswith(_SKIP_PREFIX) else _redact_meta_value(e["value"], counter)} for e in metas[index]]
            if characters is not None and characters[index]:
                characters[index]["profile_text"] = counter(characters[index]["profile_text"])
            _add(per_row[index], counter.counts)
            if per_row[index]:
                metas[index] = to_arrow_map(dict(sorted({**(from_arrow_map(metas[index]) or {}), META_COUNTS: json.dumps(per_row[index], sort_keys=True)}.items())))
                _add(self.totals, per_row[index])
        batch = batch.set_column(batch.schema.get_field_index("user_role"), "user_role", pa.array(roles, batch.schema.field("user_role").type))
        if characters is not None:
            batch = batch.set_column(batch.schema.get_field_index("character"), "character", pa.array(characters, batch.schema.field("character").type))
        return batch.set_column(batch.schema.get_field_index("meta"), "meta", pa.array(metas, batch.schema.field("meta").type))


def _redact_meta_value(value: str | None, counter: _Counter) -> str | None:
    """A meta value redacted; JSON values string by string so they stay valid JSON."""
    if not value:
        return value
    if value[0] in "[{":
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return counter(value)
        before = sum(counter.counts.values())
        cleaned = counter.json_value(parsed)
        if sum(counter.counts.values()) == before:
            return value
        return json.dumps(cleaned, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return counter(value)


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for kind, count in counts.items():
        total[kind] = total.get(kind, 0) + count


def redaction_totals(table: pa.Table) -> dict[str, int]:
    """PII redactions per type over a table of dialogues (from `meta["privacy.pii"]`), for a run's manifest."""
    totals: dict[str, int] = {}
    for meta in table.column("meta").to_pylist():
        counts = (from_arrow_map(meta) or {}).get(META_COUNTS)
        if counts:
            _add(totals, json.loads(counts))
    return dict(sorted(totals.items()))
