"""`filters.length`: bounds on turns and characters, both sides present, and turn-taking that alternates.

Turn-taking: the longest run of consecutive turns by the same speaker (same role and speaker name). Runs
by different speakers of one role are a multi-party scene (an extracted novel chapter: the "user" side is
everyone the character talks with), not a broken dialogue.

Score columns: `len_turns`, `len_chars` (all turns' characters) and `len_max_speaker_run`, so thresholds
can be tuned on a run's corpus and rejects.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from operators.arrow_lists import combined, parents, per_dialogue, turn_field
from operators.base import Filter, OperatorConfig
from operators.registry import register

TURNS = pa.field("len_turns", pa.int32())
CHARS = pa.field("len_chars", pa.int32())
SPEAKER_RUN = pa.field("len_max_speaker_run", pa.int32())


class LengthConfig(OperatorConfig):
    min_turns: int = Field(2, ge=1, description="Fewer turns than this is no dialogue.")
    max_turns: int = Field(400, ge=1, description="More turns than this is usually a concatenation error.")
    min_character_turns: int = Field(1, ge=0, description="Turns by the character: what a model learns from.")
    min_user_turns: int = Field(1, ge=0, description="Turns by the other side.")
    min_chars_per_turn: int = Field(1, ge=0, description="An empty turn is a parsing error.")
    max_chars_per_turn: int = Field(8000, ge=1, description="Longer turns are usually dumped documents, not speech.")
    max_chars_per_dialogue: int | None = Field(100_000, ge=1, description="Caps one training sample's size; null for no cap.")
    max_speaker_run: int | None = Field(
        4, ge=1, description="Most consecutive turns by one speaker: longer is a monologue or a role-assignment error; null for no check."
    )

    @model_validator(mode="after")
    def _ordered(self) -> LengthConfig:
        if self.min_turns > self.max_turns:
            raise ValueError(f"min_turns ({self.min_turns}) > max_turns ({self.max_turns})")
        if self.min_chars_per_turn > self.max_chars_per_turn:
            raise ValueError(f"min_chars_per_turn ({self.min_chars_per_turn}) > max_chars_per_turn ({self.max_chars_per_turn})")
        return self


@register
class LengthFilter(Filter):
    name: ClassVar[str] = "filters.length"
    Config = LengthConfig
    reads = frozenset({"turns"})
    writes = frozenset(f.name for f in (TURNS, CHARS, SPEAKER_RUN))
    new_fields = (TURNS, CHARS, SPEAKER_RUN)
    summary = "Rejects dialogues outside turn-count and character-count bounds, missing either side, or not alternating."

    def scored_verdicts(self, batch: pa.Table) -> tuple[list[str | None], list[str | None], dict[pa.Field, list]]:
        c: LengthConfig = self.config  # type: ignore[assignment]
        n = batch.num_rows
        turns = combined(batch.column("turns"))
        count = pc.fill_null(pc.list_value_length(turns), 0).to_pylist()
        chars = pc.fill_null(pc.utf8_length(turn_field(turns, "text")), 0)
        is_character = pc.cast(pc.equal(turn_field(turns, "role"), "character"), pa.int64())
        shortest = per_dialogue(chars, turns, "min", n)
        longest = per_dialogue(chars, turns, "max", n)
        total = per_dialogue(chars, turns, "sum", n)
        character_turns = per_dialogue(is_character, turns, "sum", n)
        runs = speaker_runs(turns, n)
        reasons: list[str | None] = []
        details: list[str | None] = []
        for i in range(n):
            checks = (
                (count[i] < c.min_turns, "too_few_turns", f"{count[i]} turns < min_turns {c.min_turns}"),
                (count[i] > c.max_turns, "too_many_turns", f"{count[i]} turns > max_turns {c.max_turns}"),
                (character_turns[i] < c.min_character_turns, "too_few_character_turns", f"{character_turns[i]} character turns < {c.min_character_turns}"),
                (count[i] - character_turns[i] < c.min_user_turns, "too_few_user_turns", f"{count[i] - character_turns[i]} user turns < {c.min_user_turns}"),
                (shortest[i] < c.min_chars_per_turn, "turn_too_short", f"a turn has {shortest[i]} characters < {c.min_chars_per_turn}"),
                (longest[i] > c.max_chars_per_turn, "turn_too_long", f"a turn has {longest[i]} characters > {c.max_chars_per_turn}"),
                (c.max_chars_per_dialogue is not None and total[i] > c.max_chars_per_dialogue, "dialogue_too_long", f"{total[i]} characters > {c.max_chars_per_dialogue}"),
                (c.max_speaker_run is not None and runs[i] > c.max_speaker_run, "turns_do_not_alternate", f"{runs[i]} turns in a row by one speaker > max_speaker_run {c.max_speaker_run}"),
            )
            failed = next(((reason, detail) for bad, reason, detail in checks if bad), (None, None))
            reasons.append(failed[0])
            details.append(failed[1])
        return reasons, details, {TURNS: count, CHARS: total, SPEAKER_RUN: runs.tolist()}


def speaker_runs(turns: pa.ListArray, num_rows: int) -> np.ndarray:
    """Per dialogue: the longest run of consecutive turns with the same role and speaker (0 for no turns)."""
    owner = parents(turns).to_numpy(zero_copy_only=False)
    result = np.zeros(num_rows, np.int64)
    if len(owner) == 0:
        return result
    who = pc.binary_join_element_wise(pc.fill_null(turn_field(turns, "role"), ""), pc.fill_null(turn_field(turns, "speaker"), ""), "\x1f")
    codes = pc.dictionary_encode(who).indices.to_numpy(zero_copy_only=False)
    # A run starts at the first turn of a dialogue and wherever the speaker changes.
    starts = np.flatnonzero(np.concatenate([[True], (owner[1:] != owner[:-1]) | (codes[1:] != codes[:-1])]))
    lengths = np.diff(np.append(starts, len(owner)))
    np.maximum.at(result, owner[starts], lengths)
    return result
