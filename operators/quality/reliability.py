"""Reliability of quality scores: agreement between two scorings of the same dialogues.

Test-retest: the same judge twice with different sampling seeds. Inter-judge: two judges (two models or
endpoints), or a judge against human ratings. Per dimension: Spearman, quadratic-weighted Cohen's kappa
on the rounded 1-5 scores, exact agreement, agreement within ±1 and mean absolute difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import cohen_kappa_score

from operators.arrow_lists import combined
from operators.quality.model import DIMENSIONS, agreement


class Reliability(BaseModel):
    """Agreement of two scorings on one dimension."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(description="Dialogues scored by both.")
    spearman: float | None = Field(description="Spearman rank correlation (null when either side is constant).")
    weighted_kappa: float | None = Field(description="Quadratic-weighted Cohen's kappa on rounded scores (null when undefined).")
    exact: float = Field(description="Share with equal rounded scores.")
    within_1: float = Field(description="Share within one point.")
    mean_abs_diff: float = Field(description="Mean absolute difference.")


def scores_by_id(batch: pa.Table) -> dict[str, dict[str, float]]:
    """dialogue_id -> {dimension: score} for the scored rows of a dialogue table."""
    quality = combined(batch.column("quality"))
    ids = combined(batch.column("dialogue_id")).to_pylist()
    columns = {d: pc.struct_field(quality, d).to_pylist() for d in DIMENSIONS}
    out: dict[str, dict[str, float]] = {}
    for index, dialogue_id in enumerate(ids):
        values = {d: columns[d][index] for d in DIMENSIONS if columns[d][index] is not None}
        if values:
            out[dialogue_id] = values
    return out


def reliability(first: dict[str, dict[str, float]], second: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    """Per dimension scored by both on at least two common dialogues: their agreement."""
    report: dict[str, dict[str, Any]] = {}
    common = sorted(set(first) & set(second))
    for dimension in DIMENSIONS:
        ids = [i for i in common if dimension in first[i] and dimension in second[i]]
        if len(ids) < 2:
            continue
        a = np.array([first[i][dimension] for i in ids], dtype=np.float64)
        b = np.array([second[i][dimension] for i in ids], dtype=np.float64)
        base = agreement(a, b)
        rounded_a, rounded_b = np.rint(a).astype(int), np.rint(b).astype(int)
        kappa = None
        if len(set(rounded_a) | set(rounded_b)) > 1:
            value = cohen_kappa_score(rounded_a, rounded_b, weights="quadratic", labels=list(range(1, 6)))
            kappa = None if np.isnan(value) else round(float(value), 4)
        report[dimension] = Reliability(
            n=base.n, spearman=base.spearman, weighted_kappa=kappa, exact=base.exact, within_1=base.within_1, mean_abs_diff=base.mae
        ).model_dump()
    return report


def judge_scores(table: pa.Table, config: dict[str, Any], seed: int) -> dict[str, dict[str, float]]:
    """Score every row with `quality.judge` (settings as in YAML, `llm.seed` replaced), in-process."""
    from operators.quality.judge import JudgeConfig, QualityJudge

    settings = {**config, "overwrite": True, "llm": {**config["llm"], "seed": seed}}
    return scores_by_id(QualityJudge(JudgeConfig.model_validate(settings)).run(table))


def judge_reliability(table: pa.Table, first: dict[str, Any], second: dict[str, Any] | None = None, seeds: tuple[int, int] = (0, 1)) -> dict[str, Any]:
    """Test-retest of judge `first` (two seeds), and its agreement with judge `second` and with any human scores in `table`."""
    human_rows = pc.starts_with(pc.struct_field(combined(table.column("quality")), "scorer"), "human:")
    humans = scores_by_id(table.filter(pc.fill_null(human_rows, False)))
    runs = [judge_scores(table, first, seed) for seed in seeds]
    report: dict[str, Any] = {"dialogues": table.num_rows, "scored": [len(r) for r in runs], "test_retest": reliability(runs[0], runs[1])}
    if second is not None:
        other = judge_scores(table, second, seeds[0])
        report["inter_judge"] = reliability(runs[0], other)
    if humans:
        report["judge_vs_human"] = reliability(runs[0], humans)
    return report
