"""`read.novel`: plain-text novels (UTF-8, UTF-8 BOM, GB18030/GBK) or EPUB -> dialogue sessions, one row per
(session, target character); every quote goes to the `quotes` side table.

A file that cannot be read (empty, binary, undecodable, a bad cast file) becomes one reject row at line 0
naming the file and the problem. Recoverable problems (an unclosed quote) are logged as warnings naming
the file and line, and the rest of the book is extracted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field

from operators.base import Source, SourceConfig
from operators.columns import INPUT_FILE, INPUT_LINE, WORKING_SCHEMA
from operators.extraction.cast import Cast, CastError, load_cast
from operators.extraction.decoding import DecodingError, read_text
from operators.extraction.novel import NovelExtraction, extract_novel
from operators.extraction.sessions import SessionConfig, dialogue_rows, quotes_table
from operators.readers.native_jsonl import reject_row
from operators.registry import register
from operators.synthesis.client import LLMConfig

log = logging.getLogger(__name__)


class NovelConfig(SourceConfig):
    """Novels as text files, with an optional cast file and who to build sessions for."""

    cast: str | None = Field(None, description="Cast file (CSV `name,aliases,gender` or YAML); without one, characters are discovered.")
    llm: LLMConfig | None = Field(None, description="Off by default. An LLM (the synthesis `llm:` block) asked about quotes the rules are unsure of.")
    llm_below_confidence: float = Field(0.5, ge=0, le=1, description="Quotes under this rule confidence go to the LLM.")
    language: Literal["auto", "zh", "en"] = Field("auto", description="Text language; auto detects zh/en from the text.")
    characters: list[str] = Field(default_factory=list, description="Target characters (names or aliases); default: every character with at least min_lines quotes.")
    min_lines: int = Field(5, ge=1, description="Quotes a character needs to be a default target.")
    min_turns: int = Field(2, ge=1, description="Turns a session needs to become a dialogue.")
    max_gap: int = Field(3, ge=0, description="Paragraphs between two quotes beyond which a new session starts.")
    max_narration: int = Field(1500, ge=0, description="Characters of narration between two quotes beyond which a new session starts.")
    category: Literal["celebrity", "daily_life", "fictional", "other"] = Field("fictional", description="Category of the extracted characters.")
    scenario: Literal["chit_chat", "interview", "companionship", "other"] = Field("other", description="Scenario of the sessions.")
    work: str | None = Field(None, description="Title of the work; default: the file name without extension.")


def line_of(text: str, offset: int) -> int:
    """1-based line of a code-point offset."""
    return text.count("\n", 0, offset) + 1


class ExtractionReader(Source):
    """A source that extracts a whole file at once (`extract_file`: working rows, the quotes side table),
    writes the quotes and yields the rows in blocks."""

    def extract_file(self, path: str) -> tuple[list[dict[str, Any]], pa.Table | None, Any]:
        raise NotImplementedError

    def read(self, path: str, rows_per_block: int) -> Iterator[pa.Table]:
        rows, quotes, _ = self.extract_file(path)
        if quotes is not None and quotes.num_rows:
            self.context.side_output("quotes", quotes)
        for start in range(0, len(rows), rows_per_block):
            yield pa.Table.from_pylist(rows[start:start + rows_per_block], schema=WORKING_SCHEMA)


@register
class NovelReader(ExtractionReader):
    name: ClassVar[str] = "read.novel"
    Config = NovelConfig
    suffixes = (".txt", ".epub")
    summary = "Plain-text novels (zh/en) -> per-character dialogue sessions; quotes with speakers to the quotes side table."

    def _cast(self) -> Cast | None:
        if self.config.cast is None:
            return None
        cast = load_cast(self.config.cast)
        for warning in cast.warnings:
            log.warning("%s", warning)
        return cast

    def _ask_llm(self, path: str, result: NovelExtraction) -> None:
        """LLM attribution of the unsure quotes; without an endpoint the rules' answers stand (with a warning)."""
        import asyncio

        from operators.extraction.llm_attribution import attribute_unsure

        llm: LLMConfig = self.config.llm  # type: ignore[assignment]
        missing = llm.missing_endpoint()
        if missing:
            log.warning("%s: LLM attribution skipped: %s", path, missing.replace("synthesis skipped: ", ""))
            return
        changed = asyncio.run(attribute_unsure(result, llm, self.config.llm_below_confidence))
        log.info("%s: the LLM attributed %d unsure quote(s)", path, changed)

    def extract_file(self, path: str) -> tuple[list[dict[str, Any]], pa.Table | None, NovelExtraction | None]:
        """Working rows (dialogues, or one reject) and the quotes table for one file."""
        try:
            decoded = read_text(path)
            cast = self._cast()
        except (DecodingError, CastError) as error:
            reason = "cast_error" if isinstance(error, CastError) else decoding_reason(str(error))
            return [reject_row(self.name, path, 0, reason, str(error), "")], None, None
        for warning in decoded.warnings:
            log.warning("%s", warning)
        result = extract_novel(decoded.text, cast, self.config.language)
        if self.config.llm is not None:
            self._ask_llm(path, result)
        for warning in result.warnings:
            log.warning("%s:%d: %s", path, line_of(decoded.text, warning.offset), warning.message)
        work = self.config.work or os.path.splitext(os.path.basename(path))[0]
        sessions = SessionConfig(
            max_gap=self.config.max_gap,
            max_narration=self.config.max_narration,
            min_turns=self.config.min_turns,
            min_lines=self.config.min_lines,
            characters=tuple(self.config.characters),
            category=self.config.category,
            scenario=self.config.scenario,
            work=work,
        )
        rows = dialogue_rows(result, path, sessions, meta={"encoding": decoded.encoding})
        for row in rows:
            row[INPUT_FILE] = path
            row[INPUT_LINE] = line_of(decoded.text, row["turns"][0]["spans"][0]["start"])
        if not rows:
            detail = f"{path}: no dialogue session found ({len(result.utterances)} quotes, {len(result.cast.members)} characters)"
            rows = [reject_row(self.name, path, 0, "no_dialogue", detail, "")]
        return rows, quotes_table(result, path), result


def decoding_reason(message: str) -> str:
    """The reject reason for a DecodingError message."""
    for marker, reason in (("empty file", "empty_file"), ("binary file", "binary_file")):
        if marker in message:
            return reason
    return "undecodable"
