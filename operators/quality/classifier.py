"""`quality.classifier`: score every dialogue with a trained quality model, and reject the ones below
per-dimension thresholds.

The model (a folder from `chardial quality train`) is loaded once per actor in `setup()`; scoring is a
sparse matrix product per batch, cheap enough for every record. Scores go into `quality` with
`scorer = classifier:<version>`. Rows that already carry scores (human HPI ratings, an LLM judge) keep
them unless `overwrite` is set; thresholds apply to whatever scores a row ends up with.
"""

from __future__ import annotations

import logging
import os
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from operators.arrow_lists import combined
from operators.base import Operator, OperatorConfig, Resources
from operators.quality.model import QualityModel, load_model
from operators.quality.thresholds import Thresholds, mark_rejects, verdict
from operators.registry import register

logger = logging.getLogger(__name__)


class ClassifierConfig(OperatorConfig):
    model: str = Field(description="Model folder written by `chardial quality train` (absolute, or relative to the working directory).")
    thresholds: Thresholds = Field(default_factory=dict, description="Minimum score per dimension, e.g. {overall: 3.0}; rows below are rejected (reason low_<dimension>).")
    overwrite: bool = Field(False, description="Replace scores rows already carry (human ratings, a judge); by default they are kept.")
    on_missing_model: Literal["error", "skip"] = Field("error", description="skip: pass rows through unscored (and say so) when the model folder does not exist.")


@register
class QualityClassifier(Operator):
    name: ClassVar[str] = "quality.classifier"
    Config = ClassifierConfig
    reads = frozenset({"turns", "character", "quality"})
    writes = frozenset({"quality"})
    resources = Resources(compute="actors")
    summary = "Scores dialogues 1-5 per quality dimension with a trained n-gram model; rejects rows below per-dimension thresholds."

    model: QualityModel | None = None
    _ready = False

    def setup(self) -> None:
        config: ClassifierConfig = self.config  # type: ignore[assignment]
        if config.on_missing_model == "skip" and not os.path.exists(config.model):
            logger.warning("quality.classifier skipped: no model at %s (train one with `chardial quality train`)", config.model)
            self.model = None
        else:
            self.model = load_model(config.model)
        self._ready = True

    def __call__(self, batch: pa.Table) -> pa.Table:
        if not self._ready:
            self.setup()
        config: ClassifierConfig = self.config  # type: ignore[assignment]
        quality = combined(batch.column("quality"))
        rows: list[dict[str, Any] | None] = quality.to_pylist()
        if self.model is not None:
            todo = [i for i, q in enumerate(rows) if config.overwrite or q is None or q.get("scorer") is None]
            if todo:
                scores = self.model.predict(batch.take(pa.array(todo, pa.int64())))
                for position, index in enumerate(todo):
                    row = dict.fromkeys(quality.type.names)
                    row.update({d: round(float(values[position]), 4) for d, values in scores.items() if not np.isnan(values[position])})
                    row["scorer"] = self.model.scorer
                    rows[index] = row
                batch = batch.set_column(batch.schema.get_field_index("quality"), "quality", pa.array(rows, quality.type))
        return mark_rejects(batch, [verdict(q, config.thresholds) for q in rows])
