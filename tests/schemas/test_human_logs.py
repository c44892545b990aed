"""The HRP and HPI input models: strict, versioned, errors naming field paths."""

from __future__ import annotations

import pytest

from schemas.human_logs import HpiSession, HrpSession
from schemas.tables import validate_record

SESSION = {
    "id": "s1",
    "character": {"name": "Lu Xiaoxia"},
    "scenario": "chit_chat",
    "language": "en",
    "turns": [{"role": "user", "text": "hi"}, {"role": "character", "text": "hello"}],
}


def test_minimal_hrp_session_is_valid() -> None:
    session = HrpSession.model_validate(SESSION)
    assert session.version == "1.0"
    assert session.turns[1].role == "character"


def test_misspelt_field_is_an_error_naming_its_path() -> None:
    bad = {**SESSION, "turns": [{"role": "user", "text": "hi", "autor_id": "u1"}]}
    with pytest.raises(ValueError, match=r"line 3: turns\[0\]\.autor_id: Extra inputs are not permitted"):
        validate_record(HrpSession, bad, "line 3")


def test_character_needs_a_name_or_a_card() -> None:
    with pytest.raises(ValueError, match=r"character: Value error, a character needs `name` or `card`"):
        validate_record(HrpSession, {**SESSION, "character": {"work": "x"}}, "line 1")
    assert HrpSession.model_validate({**SESSION, "character": {"card": "cards/lu.png"}}).character.card == "cards/lu.png"


def test_unknown_version_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"version"):
        validate_record(HrpSession, {**SESSION, "version": "2.0"}, "line 1")


def test_hpi_rating_and_rewrite_only_on_character_turns() -> None:
    bad = {**SESSION, "turns": [{"role": "user", "text": "hi", "rating": 2}]}
    with pytest.raises(ValueError, match=r"turns\[0\]: Value error, rating and rewrite belong on character turns"):
        validate_record(HpiSession, bad, "line 1")


def test_hpi_rating_outside_the_scale_names_the_turn() -> None:
    bad = {**SESSION, "rating_scale": [0, 10], "turns": [{"role": "user", "text": "hi"}, {"role": "character", "text": "x", "rating": 11}]}
    with pytest.raises(ValueError, match=r"turns\[1\]\.rating 11.0 is outside rating_scale \[0.0, 10.0\]"):
        validate_record(HpiSession, bad, "line 1")


def test_hpi_empty_rewrite_is_an_error() -> None:
    bad = {**SESSION, "turns": [{"role": "user", "text": "hi"}, {"role": "character", "text": "x", "rewrite": "  "}]}
    with pytest.raises(ValueError, match="rewrite is empty"):
        validate_record(HpiSession, bad, "line 1")


def test_json_schemas_export_with_descriptions() -> None:
    from schemas.human_logs import HUMAN_LOG_MODELS

    hpi = HUMAN_LOG_MODELS["hpi_session"].model_json_schema()
    turn = hpi["$defs"]["HpiTurn"]["properties"]
    assert "rewrite" in turn and "better version" in turn["rewrite"]["description"]
    assert hpi["additionalProperties"] is False
    assert set(HUMAN_LOG_MODELS) == {"hrp_session", "hpi_session"}
