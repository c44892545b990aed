"""The quotes side table written by extraction (`OUTPUT/quotes/*.parquet`): one row per detected quote."""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import Field

from schemas.records import Span, Strict

Method = Literal["explicit", "anaphoric", "implicit", "llm", "none"]


class Quote(Strict):
    """One detected quote (an utterance: one or more spans) and its attributed speaker."""

    document: str = Field(description="The source file (as given to the reader).")
    start: int = Field(ge=0, description="First code point of the quote's words in the decoded text, the opening mark excluded.")
    end: int = Field(ge=0, description="End (exclusive) of the quote's words, the closing mark excluded.")
    spans: list[Span] = Field(description="The quoted pieces: several for a quote interrupted by a reporting clause.")
    text: str = Field(description="The quoted words, pieces joined by a space (English) or nothing (Chinese).")
    speaker: str | None = Field(None, description="The cast main name of the speaker; null when unattributed.")
    method: Method = Field(description="explicit | anaphoric | implicit | llm | none.")
    confidence: float = Field(ge=0, le=1, description="Rule confidence in the speaker, 0 when unattributed.")
    addressees: list[str] = Field(default_factory=list, description="Characters addressed by name inside the quote (vocatives).")
    chapter: int = Field(ge=0, description="Chapter number (0 before the first heading).")
    paragraph: int = Field(ge=0, description="Paragraph number in the document.")


QUOTES_SCHEMA = pa.schema(
    [
        pa.field("document", pa.string(), nullable=False),
        pa.field("start", pa.int64(), nullable=False),
        pa.field("end", pa.int64(), nullable=False),
        pa.field("spans", pa.list_(pa.struct([pa.field("start", pa.int64(), nullable=False), pa.field("end", pa.int64(), nullable=False)])), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("speaker", pa.string()),
        pa.field("method", pa.string(), nullable=False),
        pa.field("confidence", pa.float64(), nullable=False),
        pa.field("addressees", pa.list_(pa.string()), nullable=False),
        pa.field("chapter", pa.int64(), nullable=False),
        pa.field("paragraph", pa.int64(), nullable=False),
    ],
    metadata={"characterdial.table": "quotes"},
)
