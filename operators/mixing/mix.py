"""`mix`: sample the corpus toward target shares per category x scenario x source x language.

Targets are marginal shares per dimension (`targets: {language: {zh: 0.5, en: 0.5}, category: {...}}`);
the joint share of each cell is found by iterative proportional fitting (raking) of the cells' actual
counts to those marginals, so dimensions without targets keep their natural mix. Values a target does
not list share what the listed ones leave, in proportion to their rows; a listed value with no rows at
all cannot be met: its share goes to the unlisted values, or is spread over the listed ones when every
value is listed (a warning says so).

Without repeats, the mixed corpus is the largest one whose cells all fit their target share without
duplicating a row (capped by `total`): over-represented cells are down-sampled, keeping their
best-scored rows (`prefer: quality`) or a seeded random subset (`prefer: random`). Rows left out are
rejected with reason `mix`. With `allow_repeat`, under-represented cells keep every row and record how
many times a trainer should repeat it in `meta["mix.repeat"]`: rows are never copied, so the ledger
still counts each input once. The achieved shares go to the `mix` side table (schemas/mixing.py).

The step is global: on Ray it materialises its input, gathers a small key table (cell, id, score) to
the driver, decides per cell a rank cut, and marks rows in parallel against those cuts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from typing import Any, ClassVar, Literal

import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from operators.arrow_lists import combined
from operators.base import Operator, OperatorConfig
from operators.columns import REJECT_DETAIL, REJECT_REASON
from operators.quality.dimensions import QualityDimension
from operators.registry import register
from schemas.arrow import from_arrow_map, to_arrow_map
from schemas.mixing import MIX_SCHEMA

logger = logging.getLogger(__name__)
DIMENSIONS: tuple[str, ...] = ("category", "scenario", "source", "language")
META_REPEAT = "mix.repeat"
KEY_SCHEMA = pa.schema([("cell", pa.string()), ("dialogue_id", pa.string()), ("score", pa.float64()), ("tiebreak", pa.string())])
Cut = tuple[float, str]


class MixConfig(OperatorConfig):
    by: list[Literal["category", "scenario", "source", "language"]] = Field(
        default_factory=lambda: list(DIMENSIONS), min_length=1, description="Dimensions whose cells are mixed."
    )
    targets: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="Target share per value, per dimension, e.g. {language: {zh: 0.5, en: 0.5}}; shares of one dimension sum to at most 1."
    )
    total: int | None = Field(None, ge=1, description="Rows in the mixed corpus (the most when repeats are off); default: as many as the targets allow.")
    prefer: Literal["quality", "random"] = Field("quality", description="Which rows a down-sampled cell keeps: the best-scored, or a seeded random subset.")
    quality_dimension: QualityDimension = Field("overall", description="The quality score `prefer: quality` ranks by; unscored rows rank last.")
    seed: int = Field(0, description="Seed of the tie-break (and of `prefer: random`): same seed, same selection.")
    allow_repeat: bool = Field(False, description="Let under-represented cells reach their share by repeating rows (meta['mix.repeat']), never by copying them.")
    max_repeat: int = Field(4, ge=1, description="Most times one row may be repeated (allow_repeat).")

    @model_validator(mode="after")
    def _targets(self) -> MixConfig:
        for dimension, shares in self.targets.items():
            if dimension not in self.by:
                raise ValueError(f"targets.{dimension}: not a dimension mixed by (by: {self.by})")
            if any(s < 0 for s in shares.values()) or sum(shares.values()) > 1 + 1e-6:
                raise ValueError(f"targets.{dimension}: shares must be >= 0 and sum to at most 1, got {shares}")
        return self


def _cells(batch: pa.Table, by: list[str]) -> list[str]:
    columns = []
    for dimension in by:
        column = pc.struct_field(combined(batch.column("character")), "category") if dimension == "category" else combined(batch.column(dimension))
        columns.append(column.to_pylist())
    return [json.dumps(list(values), ensure_ascii=False) for values in zip(*columns, strict=True)]


def mix_keys(batch: pa.Table, config: MixConfig) -> pa.Table:
    """Per live row: its cell, id, ranking score and seeded tie-break."""
    if REJECT_REASON in batch.column_names:
        batch = batch.filter(pc.is_null(batch.column(REJECT_REASON)))
    ids = combined(batch.column("dialogue_id")).to_pylist()
    scores = pc.struct_field(combined(batch.column("quality")), config.quality_dimension).to_pylist() if config.prefer == "quality" else [None] * len(ids)
    ties = [hashlib.blake2b(f"{config.seed}\x1f{i}".encode(), digest_size=8).hexdigest() for i in ids]
    return pa.table([_cells(batch, config.by), ids, scores, ties], schema=KEY_SCHEMA)


def rank_key(score: float | None, tiebreak: str) -> Cut:
    """Sort key within a cell: best score first, unscored last, then the seeded tie-break."""
    return (-score if score is not None else math.inf, tiebreak)


def rake(counts: dict[str, int], by: list[str], targets: dict[str, dict[str, float]], iterations: int = 200) -> tuple[dict[str, float], list[str]]:
    """Cell shares whose marginals meet the targets, starting from the cells' counts (IPF). Returns (shares, notes)."""
    cells = {cell: json.loads(cell) for cell in counts}
    weights = {cell: float(n) for cell, n in counts.items()}
    notes: list[str] = []
    wanted: dict[int, dict[str, float]] = {}
    for dimension, shares in targets.items():
        axis = by.index(dimension)
        present = {values[axis] for values in cells.values()}
        missing = sorted(v for v, s in shares.items() if s > 0 and v not in present)
        if missing:
            notes.append(f"{dimension}: no rows for {missing}; their share goes to the values not listed, or is spread over the listed ones when none is left")
        wanted[axis] = {v: s for v, s in shares.items() if v in present}
    for _ in range(iterations):
        moved = 0.0
        for axis, shares in wanted.items():
            total = sum(weights.values())
            marginal: dict[str, float] = {}
            for cell, w in weights.items():
                marginal[cells[cell][axis]] = marginal.get(cells[cell][axis], 0.0) + w
            listed = sum(shares.values())
            unlisted_mass = sum(m for v, m in marginal.items() if v not in shares)
            goal: dict[str, float] = {}
            for value, mass in marginal.items():
                if value in shares:
                    goal[value] = shares[value]
                else:
                    goal[value] = (1 - listed) * mass / unlisted_mass if unlisted_mass else 0.0
            norm = sum(goal.values()) or 1.0
            for cell in weights:
                value = cells[cell][axis]
                factor = (goal[value] / norm) * total / marginal[value] if marginal[value] else 0.0
                moved = max(moved, abs(factor - 1))
                weights[cell] *= factor
        if moved < 1e-9:
            break
    total = sum(weights.values()) or 1.0
    return {cell: w / total for cell, w in weights.items()}, notes


def _apportion(total: int, shares: dict[str, float], caps: dict[str, int] | None) -> dict[str, int]:
    """Integer quotas summing to `total` by largest remainders, none above its cap."""
    exact = {c: total * s for c, s in shares.items()}
    quotas = {c: int(math.floor(x)) for c, x in exact.items()}
    for cell in sorted(exact, key=lambda c: (-(exact[c] - quotas[c]), c))[: total - sum(quotas.values())]:
        quotas[cell] += 1
    return {c: min(q, caps[c]) for c, q in quotas.items()} if caps else quotas


def plan(keys: pa.Table, config: MixConfig, run_id: str | None = None) -> tuple[dict[str, dict[str, Any]], pa.Table, list[str]]:
    """Per cell: how many rows to keep (a rank cut) and their repeats; the report rows; notes."""
    rows: dict[str, list[Cut]] = {}
    for cell, score, tie in zip(keys.column("cell").to_pylist(), keys.column("score").to_pylist(), keys.column("tiebreak").to_pylist(), strict=True):
        rows.setdefault(cell, []).append(rank_key(score, tie))
    for ranked in rows.values():
        ranked.sort()
    counts = {cell: len(r) for cell, r in rows.items()}
    shares, notes = rake(counts, config.by, config.targets)
    if config.allow_repeat:
        weights = _apportion(config.total or sum(counts.values()), shares, None)
    else:
        feasible = min((counts[c] / s for c, s in shares.items() if s > 0), default=0.0)
        size = math.floor(min(feasible, config.total) if config.total else feasible + 1e-9)
        weights = _apportion(size, shares, counts)
    decisions: dict[str, dict[str, Any]] = {}
    report = []
    weighted_total = 0
    for cell in sorted(rows):
        ranked, weight = rows[cell], weights[cell]
        kept = min(weight, len(ranked))
        base, extra = (1, 0) if weight <= len(ranked) else (weight // len(ranked), weight % len(ranked))
        if base >= config.max_repeat:
            base, extra = config.max_repeat, 0
        decisions[cell] = {
            "cut": ranked[kept - 1] if kept else None,
            "base": base,
            "extra_cut": ranked[extra - 1] if extra else None,
            "kept": kept,
            "available": len(ranked),
            "share": shares[cell],
        }
        weighted = kept * base + extra
        weighted_total += weighted
        report.append({**dict(zip(config.by, json.loads(cell), strict=True)), "available": len(ranked), "target_share": round(shares[cell], 6), "kept": kept, "weighted": weighted})
    for row in report:
        row["achieved_share"] = round(row["weighted"] / weighted_total, 6) if weighted_total else 0.0
        row["pipeline_run_id"] = run_id
    return decisions, pa.Table.from_pylist(report, schema=MIX_SCHEMA), notes


def mark(batch: pa.Table, decisions: dict[str, dict[str, Any]], config: MixConfig) -> pa.Table:
    """Reject live rows beyond their cell's cut (reason `mix`); record repeats in meta."""
    live = pc.is_null(batch.column(REJECT_REASON)).to_pylist() if REJECT_REASON in batch.column_names else [True] * batch.num_rows
    keys = mix_keys(batch, config).to_pylist()
    reasons = batch.column(REJECT_REASON).to_pylist()
    details = batch.column(REJECT_DETAIL).to_pylist()
    metas = combined(batch.column("meta"))
    new_metas = metas.to_pylist()
    repeated = False
    position = 0
    for index, is_live in enumerate(live):
        if not is_live:
            continue
        key = keys[position]
        position += 1
        decision = decisions[key["cell"]]
        rank = rank_key(key["score"], key["tiebreak"])
        if decision["cut"] is None or rank > tuple(decision["cut"]):
            reasons[index] = "mix"
            scored = f"; {config.quality_dimension} {key['score']:g} ranks below the cell's cut" if config.prefer == "quality" and key["score"] is not None else ""
            details[index] = f"cell {key['cell']}: kept {decision['kept']} of {decision['available']} toward share {decision['share']:.4f}{scored}"
            continue
        repeat = decision["base"] + (1 if decision["extra_cut"] is not None and rank <= tuple(decision["extra_cut"]) else 0)
        if repeat > 1:
            meta = from_arrow_map(new_metas[index]) or {}
            meta[META_REPEAT] = str(repeat)
            new_metas[index] = to_arrow_map(dict(sorted(meta.items())))
            repeated = True
    batch = batch.set_column(batch.schema.get_field_index(REJECT_REASON), REJECT_REASON, pa.array(reasons, pa.string()))
    batch = batch.set_column(batch.schema.get_field_index(REJECT_DETAIL), REJECT_DETAIL, pa.array(details, pa.string()))
    if repeated:
        batch = batch.set_column(batch.schema.get_field_index("meta"), "meta", pa.array(new_metas, metas.type))
    return batch


@register
class Mix(Operator):
    name: ClassVar[str] = "mix"
    Config = MixConfig
    reads = frozenset({"character", "scenario", "source", "language", "quality", "dialogue_id", "meta"})
    writes = frozenset({"meta"})
    summary = "Samples the corpus toward target shares per category x scenario x source x language (best quality first); the rest -> rejects (mix)."

    def _decide(self, keys: pa.Table) -> dict[str, dict[str, Any]]:
        config: MixConfig = self.config  # type: ignore[assignment]
        decisions, report, notes = plan(keys, config, self.context.run_id)
        for note in notes:
            logger.warning("mix: %s", note)
        if self.context.staging_dir is not None:
            self.context.side_output("mix", report)
        kept = sum(report.column("kept").to_pylist())
        logger.info("mix: kept %d of %d row(s) in %d cell(s)", kept, keys.num_rows, report.num_rows)
        return decisions

    def apply(self, ds: Any, schema: pa.Schema, partitions: int) -> Any:
        """On Ray: materialise, gather the key table, decide on the driver, mark rows in parallel."""
        del partitions
        config: MixConfig = self.config  # type: ignore[assignment]
        ds = ds.materialize()
        parts = [pa.table(b) for b in ds.map_batches(lambda b: mix_keys(b, config), batch_format="pyarrow").iter_batches(batch_format="pyarrow", batch_size=None)]
        decisions = self._decide(pa.concat_tables(parts).cast(KEY_SCHEMA) if parts else KEY_SCHEMA.empty_table())
        name = self.name

        def marked(batch: pa.Table) -> pa.Table:
            from operators.columns import REJECT_OPERATOR

            out = mark(batch, decisions, config)
            newly = pc.and_(pc.equal(out.column(REJECT_REASON), "mix"), pc.is_null(out.column(REJECT_OPERATOR)))
            operator = pc.if_else(newly, pa.scalar(name), out.column(REJECT_OPERATOR))
            return out.set_column(out.schema.get_field_index(REJECT_OPERATOR), REJECT_OPERATOR, operator).cast(schema)

        return ds.map_batches(marked, batch_format="pyarrow", zero_copy_batch=False)

    def __call__(self, batch: pa.Table) -> pa.Table:
        """In-process: the whole (live) table at once."""
        config: MixConfig = self.config  # type: ignore[assignment]
        return mark(batch, self._decide(mix_keys(batch, config)), config)
