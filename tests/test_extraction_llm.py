"""LLM attribution of unsure quotes, through the real openai client against a loopback server."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq

from operators.base import RunContext
from operators.readers.novel import NovelConfig, NovelReader
from tests.llm_server import LLMServer, Reply

BOOK = (
    "Chapter 1\n\nAnna Reed and Ben Lowe sat by the window. The rain had not stopped for hours.\n\n"
    '"Will you come with me tomorrow?" said Anna.\n\nThe clock ticked. A cart went by outside, and neither of them moved '
    "for a long while, watching the water run down the glass in crooked lines.\n\n"
    '"Only if the rain stops."\n\n'
)
CAST = "name,aliases,gender\nAnna Reed,Anna,F\nBen Lowe,Ben,M\n"


def run(tmp_path, responder, below=0.5):
    (tmp_path / "book.txt").write_text(BOOK, encoding="utf-8")
    (tmp_path / "cast.csv").write_text(CAST, encoding="utf-8")
    with LLMServer(responder) as server:
        llm = {"model": "loopback", "base_url": server.url, "api_key": "sk-test", "cache": str(tmp_path / "cache"),
               "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_attempts": 2, "timeout_s": 10}
        config = NovelConfig(paths=[str(tmp_path / "book.txt")], cast=str(tmp_path / "cast.csv"), min_lines=1, llm=llm, llm_below_confidence=below)
        reader = NovelReader(config, RunContext(staging_dir=str(tmp_path / "staging")))
        list(reader.read(str(tmp_path / "book.txt"), 100))
        asked = [r.body for r in server.requests]
    (part,) = (tmp_path / "staging" / "quotes").glob("*.parquet")
    quotes = {q["text"]: q for q in pq.read_table(part).to_pylist()}
    return quotes, asked


def marked(body: dict) -> str:
    passage = body["messages"][0]["content"].split("Passage:", 1)[1]
    return re.search(r"⟦(.*?)⟧", passage, re.S).group(1)


def test_unsure_quotes_go_to_the_llm_and_take_its_cast_answer(tmp_path):
    quotes, asked = run(tmp_path, lambda body: Reply(content=json.dumps({"speaker": "Ben Lowe"})), below=0.5)
    assert asked, "the quote the rules were unsure of was asked about"
    assert {marked(b) for b in asked} == {"Only if the rain stops."}  # the explicit "said Anna" quote is not sent
    assert all("Anna Reed" in b["messages"][0]["content"] and "Ben Lowe" in b["messages"][0]["content"] for b in asked)
    reply = quotes["Only if the rain stops."]
    assert (reply["speaker"], reply["method"]) == ("Ben Lowe", "llm")
    assert quotes["Will you come with me tomorrow?"]["method"] == "explicit"


def test_an_answer_outside_the_cast_is_reasked_then_left_to_the_rules(tmp_path):
    quotes, asked = run(tmp_path, lambda body: Reply(content=json.dumps({"speaker": "The Narrator"})), below=0.99)
    assert len(asked) >= 2  # the error was fed back once
    assert all(q["method"] != "llm" for q in quotes.values())
    assert any("not one of the listed names" in m["content"] for b in asked for m in b["messages"])


def test_confident_rules_make_no_request(tmp_path):
    quotes, asked = run(tmp_path, lambda body: Reply(content=json.dumps({"speaker": "Ben Lowe"})), below=0.0)
    assert asked == [] and all(q["method"] != "llm" for q in quotes.values())
