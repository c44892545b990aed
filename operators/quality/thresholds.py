"""Per-dimension score thresholds shared by the quality scorers: a row below any threshold is rejected."""

from __future__ import annotations

from typing import Annotated, Any

import pyarrow as pa
from pydantic import AfterValidator

from operators.columns import REJECT_DETAIL, REJECT_REASON
from operators.quality.dimensions import DIMENSIONS


def check_thresholds(value: dict[str, float]) -> dict[str, float]:
    """Validate a `{dimension: minimum}` mapping (pydantic validator body)."""
    unknown = set(value) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown quality dimensions {sorted(unknown)}; known: {list(DIMENSIONS)}")
    bad = {k: v for k, v in value.items() if not 1 <= v <= 5}
    if bad:
        raise ValueError(f"thresholds are scores on 1-5, got {bad}")
    return value


# A config field type: `{dimension: minimum score}`, checked by `check_thresholds`.
Thresholds = Annotated[dict[str, float], AfterValidator(check_thresholds)]


def verdict(quality: dict[str, Any] | None, thresholds: dict[str, float]) -> tuple[str | None, str | None]:
    """(reason, detail) for one row: `low_<dimension>` naming the first dimension below its minimum, or (None, None).

    A dimension the row has no score for is not judged: a missing score is not a low one."""
    if not thresholds or quality is None:
        return None, None
    failed = [(d, quality[d], m) for d, m in thresholds.items() if quality.get(d) is not None and quality[d] < m]
    if not failed:
        return None, None
    failed.sort(key=lambda item: DIMENSIONS.index(item[0]))
    detail = "; ".join(f"{d} {score:.2f} < {minimum:g}" for d, score, minimum in failed)
    return f"low_{failed[0][0]}", f"{detail} (scored by {quality.get('scorer') or 'unknown'})"


def mark_rejects(batch: pa.Table, verdicts: list[tuple[str | None, str | None]]) -> pa.Table:
    """Set the reject reason and detail columns from per-row (reason, detail) verdicts."""
    reasons = pa.array([v[0] for v in verdicts], pa.string())
    details = pa.array([v[1] for v in verdicts], pa.string())
    batch = batch.set_column(batch.schema.get_field_index(REJECT_REASON), REJECT_REASON, reasons)
    return batch.set_column(batch.schema.get_field_index(REJECT_DETAIL), REJECT_DETAIL, details)
