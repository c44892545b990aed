"""A dialogue exported to another format reads back with the same character, roles and texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from operators.ingest.base import FORMATS
from tests.operators.ingest.harness import read, split, write_jsonl
from tests.operators.ingest.test_hrp import SESSIONS


@pytest.mark.parametrize("target", ["hpi", "sillytavern", "pippa", "openai", "characterglm", "sharegpt"])
def test_hrp_dialogue_survives_export_to(target: str, tmp_path: Path) -> None:
    (original,) = split(read("hrp", write_jsonl(tmp_path / "log.jsonl", SESSIONS[:1])))[0]
    spec = FORMATS[target]
    out = tmp_path / ("out" if spec.output == "folder" else "out.jsonl")
    spec.export([original], str(out))
    files = sorted(out.iterdir()) if out.is_dir() else [out]
    options = {"character_name": "Lu Xiaoxia"} if target == "sharegpt" else {}
    (again,) = split(read(target, files[0], **options))[0]
    assert again["character"]["name"] == original["character"]["name"]
    assert [(t["role"], t["text"]) for t in again["turns"]] == [(t["role"], t["text"]) for t in original["turns"]]
    if target in ("hpi", "pippa", "openai", "characterglm", "sharegpt"):
        assert again["character"]["profile_text"] == original["character"]["profile_text"]


def test_card_export_of_a_chat_dialogue_keeps_the_profile(tmp_path: Path) -> None:
    (original,) = split(read("hrp", write_jsonl(tmp_path / "log.jsonl", SESSIONS[:1])))[0]
    FORMATS["card"].export([original], str(tmp_path / "cards"))
    (card,) = split(read("card", next((tmp_path / "cards").iterdir())))[0]
    assert card["character"]["name"] == "Lu Xiaoxia" and card["character"]["profile_text"] == original["character"]["profile_text"]
    assert card["turns"][0]["text"] == original["turns"][1]["text"]
