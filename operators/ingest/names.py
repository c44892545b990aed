"""The character's name from a system prompt, for chat formats that do not name the assistant."""

from __future__ import annotations

import re

_PATTERNS = (
    # CharacterGLM's own serialization: 以下是一段{bot_name}和{user_name}之间的对话。
    re.compile(r"以下是一段(?P<name>[^\s，。和]{1,20})和[^\s，。]{1,20}之间的对话"),
    re.compile(r"(?:你现在是|你将扮演|请你扮演|你扮演|扮演|你是)(?!一个|一位|一名|一只|个|谁|我)(?P<name>[\u4e00-\u9fff·]{1,8}?)(?:[，。,.\s！!：:（(的]|$)"),
    re.compile(r"(?:[Yy]ou are(?: now)?|[Yy]ou're(?: now)?|[Aa]ct (?:as|like)|[Pp]lay the role of|[Rr]ole-?play as|[Pp]retend to be|[Yy]ou will play)\s+"
               r"(?!an? |the |my |your |going\b|not\b)(?P<name>[A-Z][\w'’\-]*(?:\s+(?:[A-Z][\w'’\-]*|of|de|von|van))*)"),
)


def name_from_prompt(prompt: str | None) -> str | None:
    """'You are Sherlock Holmes, ...' -> 'Sherlock Holmes'; '你是张起灵，...' -> '张起灵'; None when no pattern matches."""
    if not prompt:
        return None
    for pattern in _PATTERNS:
        match = pattern.search(prompt)
        if match:
            name = match.group("name").strip()
            return re.sub(r"\s+(of|de|von|van)$", "", name) or None
    return None
