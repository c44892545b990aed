"""`quality.thresholds`: reject rows whose scores fall below per-dimension minimums.

The scorers (`quality.judge`, `quality.classifier`) take the same `thresholds`; this separate filter lets a
pipeline score first, build preference pairs from the scores (a low-scored reply is a good `rejected`
side), and only then drop the low-scored dialogues from the corpus. Unscored dimensions are not judged.
"""

from __future__ import annotations

from typing import ClassVar

import pyarrow as pa
from pydantic import Field

from operators.arrow_lists import combined
from operators.base import Filter, OperatorConfig
from operators.quality.thresholds import Thresholds, verdict
from operators.registry import register


class ThresholdsConfig(OperatorConfig):
    thresholds: Thresholds = Field(min_length=1, description="Minimum score per dimension, e.g. {overall: 3, safety: 4}; rows below are rejected (reason low_<dimension>).")


@register
class QualityThresholds(Filter):
    name: ClassVar[str] = "quality.thresholds"
    Config = ThresholdsConfig
    reads = frozenset({"quality"})
    summary = "Rejects rows scored below per-dimension minimums (reason low_<dimension>); run it after preference.pairs."

    def verdicts(self, batch: pa.Table) -> tuple[list[str | None], list[str | None]]:
        config: ThresholdsConfig = self.config  # type: ignore[assignment]
        results = [verdict(q, config.thresholds) for q in combined(batch.column("quality")).to_pylist()]
        return [r[0] for r in results], [r[1] for r in results]
