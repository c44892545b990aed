"""Any JSON at all gives exactly one row per record: a dialogue or a reject, never an exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from operators.columns import REJECT_REASON
from tests.operators.ingest.harness import read

KEYS = ["name", "turns", "role", "text", "messages", "content", "conversations", "from", "value", "conversation", "message", "is_human",
        "bot_name", "session_meta", "bot_info", "character", "id", "scenario", "language", "spec", "data", "mes", "is_user", "first_mes", "rewrite", "rating"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=8), st.sampled_from(["user", "assistant", "character", "gpt", "human", "chit_chat", "en"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)), max_leaves=20)
records = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records, min_size=1, max_size=4), st.sampled_from(["hrp", "hpi", "sharegpt", "openai", "pippa", "characterglm", "card"]))
def test_every_record_gives_one_row(batch: list[dict], fmt: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in batch), encoding="utf-8")
        if fmt == "card":
            path = path.rename(path.with_suffix(".json"))
            path.write_text(json.dumps(batch), encoding="utf-8")
        table = read(fmt, path, character_name="Bob") if fmt in ("sharegpt", "openai") else read(fmt, path)
        assert table.num_rows == len(batch)
        for row in table.to_pylist():
            assert (row[REJECT_REASON] is None) == (row["dialogue_id"] is not None)


@settings(max_examples=10, deadline=None)
@given(st.lists(records, min_size=1, max_size=4))
def test_sillytavern_chat_is_one_row(lines: list[dict]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chat.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
        assert read("sillytavern", path).num_rows == 1
