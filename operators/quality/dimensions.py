"""The quality dimensions scores are kept on (CharacterGLM's plus `overall`), without the scorers' heavy imports."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from schemas.records import QUALITY_DIMENSIONS

DIMENSIONS: tuple[str, ...] = (*QUALITY_DIMENSIONS, "overall")


def _known_dimension(value: str) -> str:
    if value not in DIMENSIONS:
        raise ValueError(f"unknown quality dimension {value!r}; known: {list(DIMENSIONS)}")
    return value


# A config field type: one quality dimension, e.g. what to rank or mix by.
QualityDimension = Annotated[str, AfterValidator(_known_dimension)]
