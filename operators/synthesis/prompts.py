"""Versioned Jinja prompt templates: `<name>.<version>.<language>.jinja` under `templates/` (or a user folder).

A template defines two blocks, `system` and `user`. Its version string is `<name>.<version>.<language>`
plus the first 12 hex digits of the file's SHA-256, so an edited template never reuses cached answers
of the old text, and every row's `source_ref` names the exact prompt that made it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import jinja2

BUILTIN = Path(__file__).with_name("templates")


class TemplateNotFound(ValueError):
    """No template for this name and language: the row's language has no prompts (yet)."""


@dataclass(frozen=True)
class Prompt:
    """A rendered prompt and the version of the template that made it."""

    messages: list[dict[str, str]]
    version: str


class PromptLibrary:
    """Loads and renders templates; a user folder, when given, is searched before the built-in one."""

    def __init__(self, template_dir: str | None = None) -> None:
        folders = [str(template_dir)] if template_dir else []
        folders.append(str(BUILTIN))
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folders),
            undefined=jinja2.StrictUndefined,  # a misspelt variable is an error, not an empty string
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            autoescape=False,
        )
        self._versions: dict[str, str] = {}

    def filename(self, name: str, language: str) -> str:
        return f"{name}.{language}.jinja"

    def version(self, name: str, language: str) -> str:
        filename = self.filename(name, language)
        if filename not in self._versions:
            source, _, _ = self.env.loader.get_source(self.env, filename)  # type: ignore[union-attr]
            digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]
            self._versions[filename] = f"{name}.{language}@{digest}"
        return self._versions[filename]

    def render(self, name: str, language: str, **variables: object) -> Prompt:
        """The chat messages of template `name` (e.g. 'dialogue.v1') in `language` ('zh', 'en')."""
        filename = self.filename(name, language)
        try:
            template = self.env.get_template(filename)
        except jinja2.TemplateNotFound:
            raise TemplateNotFound(f"no prompt template {filename!r} (looked in {', '.join(self.env.loader.searchpath)})") from None  # type: ignore[union-attr]
        context = template.new_context(dict(variables))
        messages = []
        for role in ("system", "user"):
            if role not in template.blocks:
                raise ValueError(f"prompt template {filename!r} has no {{% block {role} %}}")
            text = "".join(template.blocks[role](context)).strip()
            if text:
                messages.append({"role": role, "content": text})
        return Prompt(messages=messages, version=self.version(name, language))

    def text(self, name: str, language: str, **variables: object) -> str:
        """A one-block template (feedback messages) rendered to plain text."""
        return self.env.get_template(self.filename(name, language)).render(**variables).strip()
