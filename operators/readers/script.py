"""`read.script`: TV/stage scripts and screenplays -> per-character dialogue sessions (one per scene).

Formats: Chinese `角色：台词（动作）`, Fountain / plain screenplays, Gutenberg-style stage plays (abbreviated
cues resolved with the cast file or the play's Dramatis Personae). A speech-like line without a speaker
becomes a reject row naming file and line; the rest of the script is still extracted.
"""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import Field

from operators.base import SourceConfig
from operators.columns import INPUT_FILE, INPUT_LINE
from operators.extraction.cast import CastError, load_cast
from operators.extraction.decoding import DecodingError, read_text
from operators.extraction.scripts import ScriptExtraction, extract_script
from operators.extraction.sessions import SessionConfig, dialogue_rows, quotes_table
from operators.readers.native_jsonl import reject_row
from operators.readers.novel import ExtractionReader, decoding_reason, line_of
from operators.registry import register

log = logging.getLogger(__name__)


class ScriptConfig(SourceConfig):
    """Script files, their format, an optional cast file and who to build sessions for."""

    format: Literal["auto", "zh", "fountain", "play"] = Field("auto", description="Script layout; auto detects it.")
    cast: str | None = Field(None, description="Cast file (CSV `name,aliases,gender` or YAML) to resolve abbreviated cues.")
    characters: list[str] = Field(default_factory=list, description="Target characters; default: every character with at least min_lines lines.")
    min_lines: int = Field(5, ge=1, description="Lines a character needs to be a default target.")
    min_turns: int = Field(2, ge=1, description="Turns a scene needs to become a dialogue.")
    category: Literal["celebrity", "daily_life", "fictional", "other"] = Field("fictional", description="Category of the characters.")
    scenario: Literal["chit_chat", "interview", "companionship", "other"] = Field("other", description="Scenario of the sessions.")
    work: str | None = Field(None, description="Title of the work; default: the file name without extension.")


@register
class ScriptReader(ExtractionReader):
    name: ClassVar[str] = "read.script"
    Config = ScriptConfig
    suffixes = (".txt", ".fountain", ".script")
    summary = "Chinese scripts, Fountain/plain screenplays and stage plays -> per-character sessions, one per scene."

    def extract_file(self, path: str) -> tuple[list[dict[str, Any]], pa.Table | None, ScriptExtraction | None]:
        """Working rows (dialogues and rejects) and the quotes table for one file."""
        try:
            decoded = read_text(path)
            cast = load_cast(self.config.cast) if self.config.cast else None
        except (DecodingError, CastError) as error:
            reason = "cast_error" if isinstance(error, CastError) else decoding_reason(str(error))
            return [reject_row(self.name, path, 0, reason, str(error), "")], None, None
        for warning in cast.warnings if cast else []:
            log.warning("%s", warning)
        for warning in decoded.warnings:
            log.warning("%s", warning)
        script = extract_script(decoded.text, self.config.format, cast)
        sessions = SessionConfig(
            max_gap=1 << 30,
            max_narration=1 << 30,
            min_turns=self.config.min_turns,
            min_lines=self.config.min_lines,
            characters=tuple(self.config.characters),
            category=self.config.category,
            scenario=self.config.scenario,
            work=self.config.work or os.path.splitext(os.path.basename(path))[0],
        )
        meta = {"encoding": decoded.encoding, "format": script.format}
        rows = dialogue_rows(script.extraction, path, sessions, meta=meta)
        for row in rows:
            row[INPUT_FILE] = path
            row[INPUT_LINE] = line_of(decoded.text, row["turns"][0]["spans"][0]["start"])
        lines = decoded.text.split("\n")
        for number, message in script.problems:
            rows.append(reject_row(self.name, path, number, "no_speaker", f"{path}:{message}", lines[number - 1]))
        if not any(row.get("dialogue_id") for row in rows):
            detail = f"{path}: no dialogue scene found ({len(script.extraction.utterances)} lines, format {script.format})"
            rows.append(reject_row(self.name, path, 0, "no_dialogue", detail, ""))
        return rows, quotes_table(script.extraction, path), script
