"""Stable ids: the same input gives the same ids on every run, on any machine, in any block layout."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable


def _digest(*parts: str, size: int = 16) -> str:
    hasher = hashlib.blake2b(digest_size=size)
    for part in parts:
        hasher.update(part.encode("utf-8"))
        hasher.update(b"\x1f")
    return hasher.hexdigest()


def normalize_name(name: str) -> str:
    """Case- and width-insensitive form of a name, for ids."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def character_id(name: str, work: str | None = None) -> str:
    """`c_` + hash of the normalized name and work: one id per character across sources and runs."""
    return "c_" + _digest(normalize_name(name), normalize_name(work or ""), size=8)


def content_digest(character_name: str, turns: Iterable[tuple[str, str]]) -> str:
    """Hash of a dialogue's exact content: character name and each turn's (role, text)."""
    return _digest(character_name, json.dumps(list(turns), ensure_ascii=False))


def dialogue_id(source: str, record_id: str, content: str) -> str:
    """`d_` + hash of source, the source's own record id and the content digest."""
    return "d_" + _digest(source, record_id, content)
