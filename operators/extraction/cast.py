"""The cast: characters with main name, aliases and gender, loaded from CSV or YAML, and found in text."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import yaml


class CastError(ValueError):
    """A cast file that cannot be used; the message names the file and line."""


@dataclass
class CastMember:
    """One character: main name, aliases (the main name included), gender M/F/X or None, and free profile text."""

    name: str
    aliases: list[str]
    gender: str | None = None
    profile: str | None = None


@dataclass
class Cast:
    """Characters and an alias index; `warnings` lists duplicate aliases with file and line."""

    members: list[CastMember] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def by_name(self) -> dict[str, CastMember]:
        return {member.name: member for member in self.members}

    def alias_index(self) -> dict[str, list[str]]:
        """alias -> main names (several when the alias is ambiguous)."""
        index: dict[str, list[str]] = {}
        for member in self.members:
            for alias in member.aliases:
                names = index.setdefault(alias, [])
                if member.name not in names:
                    names.append(member.name)
        return index


def normalise_gender(value: str | None) -> str | None:
    """M, F or X (group/unknown) from common spellings; None when empty."""
    if value is None:
        return None
    value = str(value).strip().lower()
    if not value:
        return None
    if value in {"m", "male", "man", "1", "男", "he"}:
        return "M"
    if value in {"f", "female", "woman", "0", "女", "she"}:
        return "F"
    return "X"


def load_cast(path: str) -> Cast:
    """Load a cast file: CSV with header `name,aliases,gender` (aliases `;`-separated) or a YAML list of the same keys."""
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise CastError(f"{path}:{line}: cast file is not UTF-8") from None
    if path.lower().endswith((".yaml", ".yml")):
        return _from_yaml(text, path)
    return _from_csv(text, path)


def _from_csv(text: str, path: str) -> Cast:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "name" not in [f.strip().lower() for f in reader.fieldnames]:
        raise CastError(f"{path}:1: cast CSV needs a header with at least `name` (expected `name,aliases,gender`)")
    entries = []
    for row in reader:
        row = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
        entries.append((reader.line_num, row.get("name", ""), [a for a in row.get("aliases", "").split(";")], row.get("gender"), row.get("profile")))
    return _build(entries, path)


def _from_yaml(text: str, path: str) -> Cast:
    try:
        documents = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise CastError(f"{path}:{mark.line + 1 if mark else 0}: invalid YAML: {error}") from None
    if not isinstance(data, list):
        raise CastError(f"{path}:1: cast YAML must be a list of characters with keys name, aliases, gender")
    entries = []
    for number, item in enumerate(data):
        line = documents.value[number].start_mark.line + 1 if documents is not None else number + 1
        if not isinstance(item, dict):
            raise CastError(f"{path}:{line}: expected a mapping with keys name, aliases, gender, got {type(item).__name__}")
        aliases = item.get("aliases") or []
        if isinstance(aliases, str):
            aliases = aliases.split(";")
        entries.append((line, str(item.get("name") or ""), [str(a) for a in aliases], item.get("gender"), item.get("profile")))
    return _build(entries, path)


def _build(entries: list[tuple[int, str, list[str], str | None, str | None]], path: str) -> Cast:
    cast = Cast()
    seen: dict[str, tuple[str, int]] = {}
    for line, name, aliases, gender, profile in entries:
        name = name.strip()
        if not name:
            raise CastError(f"{path}:{line}: character without a name")
        names = [name] + [a.strip() for a in aliases if a.strip() and a.strip() != name]
        for alias in names:
            if alias in seen and seen[alias][0] != name:
                other, other_line = seen[alias]
                cast.warnings.append(f"{path}:{line}: alias {alias!r} of {name!r} is also an alias of {other!r} (line {other_line}); it is ambiguous")
            seen.setdefault(alias, (name, line))
        cast.members.append(CastMember(name, list(dict.fromkeys(names)), normalise_gender(gender), profile or None))
    return cast


HONORIFICS = frozenset(
    "mr mrs miss ms mx dr sir lady lord madam madame monsieur mme mlle captain capt colonel col major general professor prof "
    "father mother aunt uncle old young the little saint st rev reverend count countess duke duchess baron baroness".split()
)


TITLE_REFERENCES = {
    "count": "count", "countess": "countess", "colonel": "colonel", "col": "colonel", "captain": "captain", "capt": "captain",
    "major": "major", "general": "general", "doctor": "doctor", "dr": "doctor", "professor": "professor", "prof": "professor",
    "duke": "duke", "duchess": "duchess", "baron": "baron", "baroness": "baroness", "prince": "prince", "princess": "princess",
    "king": "king", "queen": "queen", "inspector": "inspector", "sergeant": "sergeant", "judge": "judge", "marquis": "marquis",
}


def expand_aliases(cast: Cast) -> Cast:
    """Add the short forms people are called by, when no other character could be meant by them: the
    surname and given name of a multi-word alias (Hercule Poirot -> Poirot, Hercule), "the count" for
    Count Mippipopolous, and the lower-case form of "The Chauffeur"."""
    owners: dict[str, set[str]] = {}
    for member in cast.members:
        for alias in member.aliases:
            words = alias.replace(".", " ").split()
            if len(words) < 2 or not alias[:1].isalpha() or not alias.isascii():
                continue
            for index in {0, len(words) - 1}:
                word = words[index]
                if word.lower() in HONORIFICS or len(word) < 3 or not word[0].isupper():
                    continue
                owners.setdefault(word, set()).add(member.name)
    # "the count", "the colonel": a title that belongs to one character only; "The Chauffeur" also lower-case.
    for member in cast.members:
        for alias in member.aliases:
            words = alias.split()
            if len(words) >= 2 and words[0].rstrip(".").lower() in TITLE_REFERENCES:
                owners.setdefault("the " + TITLE_REFERENCES[words[0].rstrip(".").lower()], set()).add(member.name)
            if len(words) >= 2 and words[0] == "The":
                owners.setdefault(alias.lower(), set()).add(member.name)
    existing = cast.alias_index()
    members = []
    for member in cast.members:
        extra = [w for w, names in owners.items() if names == {member.name} and w not in existing]
        members.append(CastMember(member.name, member.aliases + sorted(extra), member.gender, member.profile))
    return Cast(members, list(cast.warnings))


class Mentions:
    """Finds cast names in text: longest alias first, word-bounded for alphabetic scripts."""

    def __init__(self, cast: Cast) -> None:
        self.index = cast.alias_index()
        aliases = sorted(self.index, key=len, reverse=True)
        bounded, free = [], []
        for alias in aliases:
            # A name may be wrapped over two lines: "Mrs.\nWeston".
            escaped = r"\s+".join(re.escape(part) for part in alias.split())
            word_like = alias[:1].isascii() and alias[:1].isalnum() and alias[-1:].isascii() and (alias[-1:].isalnum() or alias[-1:] == ".")
            (bounded if word_like else free).append(escaped)
        # One boundary check around the whole alternation keeps the regex fast on long books.
        pieces = ([r"(?<!\w)(?:" + "|".join(bounded) + r")(?!\w)"] if bounded else []) + free
        self.pattern = re.compile("|".join(pieces)) if pieces else None

    def resolve(self, alias: str) -> str:
        """The main name for an alias; an ambiguous alias goes to the first character listed with it
        (the attributor resolves ambiguous mentions by context instead, see `candidates`)."""
        return self.index[alias][0]

    def candidates(self, text: str) -> list[tuple[int, int, list[str]]]:
        """(start, end, every character the alias may name) for each mention in the text."""
        if self.pattern is None:
            return []
        return [(m.start(), m.end(), self.index[" ".join(m.group().split())]) for m in self.pattern.finditer(text)]

    def find(self, text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int, str]]:
        """(start, end, main name) for each mention in text[start:end]."""
        if self.pattern is None:
            return []
        end = len(text) if end is None else end
        return [(m.start(), m.end(), self.resolve(" ".join(m.group().split()))) for m in self.pattern.finditer(text, start, end)]
