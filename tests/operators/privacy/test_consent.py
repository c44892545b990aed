"""privacy.consent: opt-outs by user and session, emptied rejects, stable salted pseudonyms."""

from __future__ import annotations

from pathlib import Path

import pytest

from operators.ingest.base import dialogue_dicts
from operators.privacy.consent import Consent, ConsentConfig, pseudonym
from tests.operators.ingest.harness import read, write_jsonl


def _session(sid: str, user: str) -> dict:
    return {"id": sid, "character": {"name": "Lu", "category": "fictional"}, "user_role": "a fan", "scenario": "chit_chat", "language": "en",
            "turns": [{"role": "user", "text": f"hi from {user}", "author_id": user}, {"role": "character", "text": "hello", "author_id": "actor-1"}]}


@pytest.fixture
def table(tmp_path: Path):
    return read("hrp", write_jsonl(tmp_path / "hrp.jsonl", [_session("s1", "u1"), _session("s2", "u2"), _session("s3", "u3")]))


def test_opted_out_sessions_and_users_are_rejected_and_emptied(tmp_path: Path, table, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARDIAL_PSEUDONYM_SALT", "test-salt")
    opt_out = tmp_path / "optout.txt"
    opt_out.write_text("# consent withdrawn\nsession: s2\nuser:u3  # by e-mail\n", encoding="utf-8")
    out = Consent(ConsentConfig(opt_out_file=str(opt_out)))(table)
    assert out.num_rows == 3
    rows = out.to_pylist()
    assert [r["_reject_reason"] for r in rows] == [None, "opted_out", "opted_out"]
    assert rows[1]["_reject_detail"] == "the session is on the opt-out list" and "u3" not in rows[2]["_reject_detail"]
    for row in rows[1:]:
        assert row["turns"] == [] and row["user_role"] is None and row["meta"] == [{"key": "privacy.opted_out", "value": "true"}]
    (kept,) = dialogue_dicts(out.slice(0, 1))
    assert [t["author_id"] for t in kept["turns"]] == [pseudonym("u1", b"test-salt"), pseudonym("actor-1", b"test-salt")]
    assert kept["turns"][0]["author_id"].startswith("a_") and len(kept["turns"][0]["author_id"]) == 18


def test_pseudonyms_are_stable_per_salt(table, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHARDIAL_PSEUDONYM_SALT", "one")
    first = Consent()(table).column("turns").to_pylist()
    again = Consent()(table).column("turns").to_pylist()
    monkeypatch.setenv("CHARDIAL_PSEUDONYM_SALT", "two")
    other = Consent()(table).column("turns").to_pylist()
    assert first == again and first != other
    assert first[0][1]["author_id"] == first[1][1]["author_id"]  # the same actor in two sessions


def test_missing_salt_and_bad_opt_out_file_are_clear_errors(tmp_path: Path, table, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHARDIAL_PSEUDONYM_SALT", raising=False)
    with pytest.raises(RuntimeError, match=r"CHARDIAL_PSEUDONYM_SALT"):
        Consent()(table)
    assert Consent(ConsentConfig(pseudonymize=False, opt_out_users=["u2"]))(table).column("_reject_reason").to_pylist() == [None, "opted_out", None]
    bad = tmp_path / "optout.txt"
    bad.write_text("user:u1\nbob\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"optout.txt:2: expected `user:<id>` or `session:<id>`"):
        Consent(ConsentConfig(opt_out_file=str(bad), pseudonymize=False))(table)
