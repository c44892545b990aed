"""A programmable role-play "author" for the loopback LLM server: answers our synthesis prompts plausibly.

It reads what the prompt asks for (profile, dialogue or refinement; the seed's name; the turn count; the
language) and answers valid JSON, so tests can then break exactly one thing at a time with `overrides`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from tests.llm_server import Reply

EN_LINES = [
    "Honestly, the rain in this city makes me want to bake bread all afternoon.",
    "My grandmother taught me that trick, and I still burn the first batch every single time.",
    "You should come by the shop on Sunday, the whole street smells of cinnamon then.",
    "I keep a notebook of every customer who made me laugh, and you are going in it today.",
]
ZH_LINES = [
    "说实话，这种下雨天我最想做的就是在店里烤一整个下午的面包。",
    "这个窍门是我外婆教我的，可我每次第一炉还是会烤糊。",
    "你周日来店里坐坐吧，那时候整条街都是肉桂的香味。",
    "我有个小本子，专门记那些把我逗笑的客人，今天你也要被写进去了。",
]


def schema_name(body: dict[str, Any]) -> str:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt["json_schema"]["name"]
    system = body["messages"][0]["content"]
    if "editor" in system or "编辑" in system:
        return "RefineDraft"
    if "dialogue" in system or "对话" in system:
        return "DialogueDraft"
    return "ProfileDraft"


def prompt_language(body: dict[str, Any]) -> str:
    return "zh" if re.search(r"[\u4e00-\u9fff]", body["messages"][0]["content"]) else "en"


def profile(body: dict[str, Any]) -> dict[str, Any]:
    user = body["messages"][1]["content"]
    zh = prompt_language(body) == "zh"
    named = re.search(r"姓名：([^，。\n]+)", user) if zh else re.search(r" named ([^\n]+?)(?: from |\.\n|\.$)", user)
    variant = re.search(r"(?:invention number|第) ?(\d+)", user)
    name = named.group(1).strip() if named else (f"林小满{variant.group(1)}" if zh else f"Mira Holt {variant.group(1) if variant else ''}".strip())
    lines = ZH_LINES if zh else EN_LINES
    return {
        "name": name,
        "work": None,
        "gender": "女" if zh else "female",
        "age": 34,
        "occupation": "面包师" if zh else "baker",
        "relationships": ["妹妹：小雨，杭州的护士"] if zh else ["sister: Anna, a nurse in Leeds"],
        "experiences": ["开了自己的面包店"] if zh else ["opened her own bakery"],
        "hobbies": ["徒步"] if zh else ["hiking"],
        "extra": {"birthplace": "杭州" if zh else "York"},
        "speaking_style": "温和、爱开玩笑" if zh else "warm and teasing",
        "catchphrases": [],
        "example_lines": lines[:3],
        "profile_text": "".join(lines) if zh else " ".join(lines),
    }


def dialogue(body: dict[str, Any]) -> dict[str, Any]:
    user = body["messages"][1]["content"]
    zh = prompt_language(body) == "zh"
    count = int(re.search(r"(?:exactly|恰好) (\d+)", user).group(1))
    lines = ZH_LINES if zh else EN_LINES
    questions = ["你最近在忙什么呀？", "那你平时休息的时候做什么？"] if zh else ["What have you been up to lately?", "And what do you do on your days off?"]
    turns = []
    for index in range(count):
        role = "user" if index % 2 == 0 else "character"
        text = questions[(index // 2) % 2] if role == "user" else lines[(index // 2) % len(lines)]
        turns.append({"role": role, "text": text})
    return {"turns": turns}


def refine(body: dict[str, Any]) -> dict[str, Any]:
    zh = prompt_language(body) == "zh"
    rewrite = "下雨天啊，我就想守着烤箱，闻着面包香，什么烦心事都忘了。" if zh else "Rainy days? I hide in the back with the oven on and the radio up, best hours of my week."
    return {"critique": "ok", "consistency": 4, "human_likeness": 3, "engagement": 3, "rewrite": rewrite}


AUTHORS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {"ProfileDraft": profile, "DialogueDraft": dialogue, "RefineDraft": refine}


def author(overrides: dict[str, Callable[[dict[str, Any]], Reply | None]] | None = None, delay_s: float = 0.0) -> Callable[[dict[str, Any]], Reply]:
    """A responder: a valid answer for every synthesis prompt, unless an override (by schema name) returns a Reply."""

    def respond(body: dict[str, Any]) -> Reply:
        name = schema_name(body)
        override = (overrides or {}).get(name)
        if override is not None:
            reply = override(body)
            if reply is not None:
                return reply
        return Reply(content=json.dumps(AUTHORS[name](body), ensure_ascii=False), delay_s=delay_s)

    return respond


SEEDS_YAML = """\
seeds:
  - category: daily_life
    brief: a baker in a rainy northern town
    language: en
    count: 2
  - category: celebrity
    name: 李白
    brief: 唐代诗人
    language: zh
"""


def plan_table(tmp_path, text: str = SEEDS_YAML, **config: Any):
    """Planned rows from a seeds file written under tmp_path."""
    import pyarrow as pa

    from operators.synthesis.plan import PlanConfig, SynthesisPlan

    path = tmp_path / "seeds.yaml"
    path.write_text(text, encoding="utf-8")
    source = SynthesisPlan(PlanConfig(paths=[str(path)], **config))
    return pa.concat_tables(list(source.read(str(path), rows_per_block=1000)))


def llm_settings(server, tmp_path, **overrides: Any) -> dict[str, Any]:
    """The `llm:` block of a synthesis step pointing at the loopback server."""
    settings = {"model": "loopback", "base_url": server.url, "api_key": "sk-test", "cache": str(tmp_path / "llm-cache"),
                "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_attempts": 3, "timeout_s": 10}
    settings.update(overrides)
    return settings
