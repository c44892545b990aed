"""`normalize.text`: Unicode and whitespace normalisation of every turn, vectorised with Arrow compute."""

from __future__ import annotations

from typing import ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from operators.arrow_lists import combined, replace_turn_fields, turn_field
from operators.base import Operator, OperatorConfig
from operators.registry import register

# Control characters other than tab and newline, zero-width spaces, BOMs and soft hyphens.
_INVISIBLE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{200b}\x{200c}\x{2060}\x{feff}\x{ad}]"


class NormalizeConfig(OperatorConfig):
    form: Literal["NFC", "NFKC"] = Field("NFC", description="Unicode form. NFC keeps full-width CJK punctuation; NFKC folds it to ASCII.")
    collapse_whitespace: bool = Field(True, description="Collapse runs of spaces/tabs, trim lines, at most one blank line in a row.")


def normalize_strings(values: pa.Array, config: NormalizeConfig) -> pa.Array:
    values = pc.utf8_normalize(values, config.form)
    values = pc.replace_substring_regex(values, _INVISIBLE, "")
    values = pc.replace_substring_regex(values, r"\r\n?", "\n")
    if config.collapse_whitespace:
        values = pc.replace_substring_regex(values, r"[ \t\x{a0}]+", " ")
        values = pc.replace_substring_regex(values, r" ?\n ?", "\n")
        values = pc.replace_substring_regex(values, r"\n{3,}", "\n\n")
    return pc.utf8_trim_whitespace(values)


@register
class NormalizeText(Operator):
    name: ClassVar[str] = "normalize.text"
    Config = NormalizeConfig
    reads = frozenset({"turns", "user_role"})
    writes = frozenset({"turns", "user_role"})
    summary = "Unicode normal form, invisible characters removed, whitespace collapsed, in every turn's text and speaker."

    def __call__(self, batch: pa.Table) -> pa.Table:
        config: NormalizeConfig = self.config  # type: ignore[assignment]
        turns = combined(batch.column("turns"))
        turns = replace_turn_fields(
            turns,
            text=normalize_strings(turn_field(turns, "text"), config),
            speaker=normalize_strings(turn_field(turns, "speaker"), config),
        )
        batch = batch.set_column(batch.schema.get_field_index("turns"), "turns", turns)
        user_role = normalize_strings(combined(batch.column("user_role")), config)
        return batch.set_column(batch.schema.get_field_index("user_role"), "user_role", user_role)
