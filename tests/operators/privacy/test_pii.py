"""privacy.pii over working rows read by real ingest sources."""

from __future__ import annotations

import json
from pathlib import Path

from operators.ingest.base import dialogue_dicts
from operators.privacy.pii import PiiConfig, PiiRedaction
from tests.operators.ingest.harness import read, write_jsonl

SESSION = {
    "id": "13812345678",
    "character": {"name": "林晓", "category": "daily_life", "profile_text": "官网 www.example.com"},
    "user_role": "邮箱 boss@corp.com 的老板",
    "scenario": "chit_chat",
    "language": "zh",
    "turns": [
        {"role": "user", "text": "我的手机是13812345678，邮箱 lin.x@163.com。"},
        {"role": "character", "text": "好的！", "rating": 1, "rewrite": "好的，我的微信：linxiao_2024，IP 是 10.2.3.4。"},
        {"role": "user", "text": "Call +1 415-555-2671 or use card 4111-1111-1111-1111."},
        {"role": "character", "text": "收到，身份证11010519491231002X我记下了。"},
    ],
}


def test_turns_user_role_and_meta_are_redacted_and_counted(tmp_path: Path) -> None:
    table = read("hpi", write_jsonl(tmp_path / "hpi.jsonl", [SESSION]))
    operator = PiiRedaction()
    (dialogue,) = dialogue_dicts(operator(table))
    texts = [t["text"] for t in dialogue["turns"]]
    assert texts == [
        "我的手机是<PHONE>，邮箱 <EMAIL>。",
        "好的，我的微信：<HANDLE>，IP 是 <IP>。",
        "Call <PHONE> or use card <CARD_NUMBER>.",
        "收到，身份证<ID_NUMBER>我记下了。",
    ]
    assert dialogue["user_role"] == "邮箱 <EMAIL> 的老板"
    assert dialogue["character"]["profile_text"] == "官网 www.example.com"
    # the session id is bookkeeping: consent matches on it, so it is never rewritten
    assert dialogue["meta"]["ingest.session_id"] == "13812345678"
    counts = json.loads(dialogue["meta"]["privacy.pii"])
    assert counts == {"email": 2, "phone": 2, "handle": 1, "ip": 1, "card": 1, "cn_id": 1}
    assert operator.totals == counts
    assert json.loads(dialogue["meta"]["hpi.turns"])[1]["model_output"] == "好的！"


def test_meta_json_is_redacted_string_by_string(tmp_path: Path) -> None:
    leaky = {**SESSION, "turns": [SESSION["turns"][0], {"role": "character", "text": "写信到 a@b.com", "rewrite": "不方便说。"}]}
    table = read("hpi", write_jsonl(tmp_path / "hpi.jsonl", [leaky]))
    (dialogue,) = dialogue_dicts(PiiRedaction()(table))
    assert json.loads(dialogue["meta"]["hpi.turns"])[1]["model_output"] == "写信到 <EMAIL>"
    (kept,) = dialogue_dicts(PiiRedaction(PiiConfig(redact_meta=False, types=["phone"], redact_profile=True))(table))
    assert json.loads(kept["meta"]["hpi.turns"])[1]["model_output"] == "写信到 a@b.com"
    assert kept["turns"][0]["text"] == "我的手机是<PHONE>，邮箱 lin.x@163.com。"


def test_rows_without_pii_are_unchanged(tmp_path: Path) -> None:
    clean = {**SESSION, "user_role": None, "turns": [{"role": "user", "text": "你好"}, {"role": "character", "text": "你好呀"}]}
    table = read("hrp", write_jsonl(tmp_path / "hrp.jsonl", [clean]))
    assert PiiRedaction()(table).equals(table)


def test_redaction_totals_sum_the_rows(tmp_path: Path) -> None:
    from operators.privacy.pii import redaction_totals

    sessions = [SESSION, {**SESSION, "id": "other", "turns": SESSION["turns"][:1]}]
    redacted = PiiRedaction()(read("hpi", write_jsonl(tmp_path / "hpi.jsonl", sessions)))
    assert redaction_totals(redacted) == {"card": 1, "cn_id": 1, "email": 4, "handle": 1, "ip": 1, "phone": 3}
