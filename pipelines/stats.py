"""Per-run statistics: tidy Parquet tables under OUTPUT/stats/ computed with polars from a run folder.

`compute_stats` reads corpus/, rejects/ and the manifest's ledger and returns one polars DataFrame per
table of `schemas.stats`; `write_stats` writes them as stats/<table>.parquet with their Arrow schemas.
Everything is lazy scans and group-bys, so memory follows the number of groups, not of dialogues.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.records import QUALITY_DIMENSIONS
from schemas.run import RunManifest, Shard
from schemas.stats import ALL_LANGUAGES, DIMENSIONS, STATS_MODELS, stats_schema
from schemas.tables import DIALOGUE_SCHEMA, REJECT_SCHEMA

TOP_CHARACTERS = 50

# Fixed bin edges per metric, so two runs' histograms compare bin by bin; the last count bin is open-ended.
COUNT_EDGES: dict[str, tuple[float, ...]] = {
    "turns_per_dialogue": (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 30, 50, 100),
    "chars_per_turn": (0, 1, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
    "chars_per_user_turn": (0, 1, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
    "chars_per_character_turn": (0, 1, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000),
    "dialogues_per_character": (1, 2, 3, 4, 5, 10, 20, 50, 100, 500, 1000),
}
# Quality scores are 1-5: half-point bins, the last one closed; scores outside 1-5 land in the end bins.
QUALITY_EDGES: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)

# Delta metrics that count or share something: a key absent from one run counts as 0 there.
ADDITIVE_METRICS = {"records_in", "records_out", "records_rejected", "dialogues", "turns", "characters", "languages", "rejects",
                    "dialogue_share", "rejected", "count"}


def load_manifest(run_dir: Path) -> RunManifest:
    """The run's manifest.json; raises naming the file when it is missing or invalid."""
    path = run_dir / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest.json, so {run_dir} is not a finished run (a run writes its manifest last)")
    try:
        return RunManifest.model_validate_json(path.read_bytes())
    except ValueError as error:
        raise ValueError(f"{path}: not a valid run manifest: {error}") from None


def _scan(folder: Path, schema: pa.Schema) -> pl.LazyFrame:
    """All Parquet files of one table folder as one lazy frame (an empty frame when there are none)."""
    files = sorted(folder.glob("*.parquet")) if folder.is_dir() else []
    if not files:
        return pl.from_arrow(schema.empty_table()).lazy()  # type: ignore[union-attr]
    return pl.scan_parquet(files)


def _dialogues(run_dir: Path) -> pl.DataFrame:
    """One row per dialogue with the columns the stats need (turn texts stay nested)."""
    character = pl.col("character")
    quality = pl.col("quality")
    return (
        _scan(run_dir / "corpus", DIALOGUE_SCHEMA)
        .select(
            pl.col("dialogue_id"),
            pl.col("character_id"),
            character.struct.field("name").alias("name"),
            character.struct.field("category").alias("category"),
            pl.col("scenario"),
            pl.col("source"),
            pl.col("language"),
            pl.col("split"),
            pl.col("turns").list.len().fill_null(0).cast(pl.Int64).alias("n_turns"),
            pl.col("turns").list.eval(pl.element().struct.field("role")).alias("roles"),
            pl.col("turns").list.eval(pl.element().struct.field("text").str.len_chars()).alias("text_chars"),
            *[quality.struct.field(name).cast(pl.Float64).alias(f"quality.{name}") for name in (*QUALITY_DIMENSIONS, "overall")],
        )
        .collect()
    )


def _rejects(run_dir: Path) -> pl.DataFrame:
    return _scan(run_dir / "rejects", REJECT_SCHEMA).select("operator", "reason", "duplicate_of").collect()


def _counts(frame: pl.DataFrame, keys: Sequence[str]) -> pl.DataFrame:
    return frame.group_by(list(keys)).agg(
        pl.len().cast(pl.Int64).alias("dialogues"),
        pl.col("n_turns").sum().cast(pl.Int64).alias("turns"),
        pl.col("character_id").n_unique().cast(pl.Int64).alias("characters"),
    )


def _share(numerator: str, total: int) -> pl.Expr:
    return (pl.col(numerator) / total if total else pl.lit(0.0)).cast(pl.Float64)


def composition_shares(dialogues: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Counts and shares for every observed category x scenario x source x language x split."""
    keys = ["category", "scenario", "source", "language", "split"]
    total_dialogues, total_turns = dialogues.height, int(dialogues["n_turns"].sum())
    return (
        _counts(dialogues, keys)
        .with_columns(_share("dialogues", total_dialogues).alias("dialogue_share"), _share("turns", total_turns).alias("turn_share"))
        .with_columns(pl.lit(run_id).alias("pipeline_run_id"))
        .sort(keys, nulls_last=True)
    )


def marginals(dialogues: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Counts and shares per value of each dimension, stacked in long format."""
    total_dialogues, total_turns = dialogues.height, int(dialogues["n_turns"].sum())
    total_characters = dialogues["character_id"].n_unique()
    parts = [
        _counts(dialogues, [dimension])
        .rename({dimension: "value"})
        .with_columns(pl.col("value").cast(pl.String), pl.lit(dimension).alias("dimension"))
        .sort(["dialogues", "value"], descending=[True, False], nulls_last=True)
        for dimension in DIMENSIONS
    ]
    return pl.concat(parts).with_columns(
        _share("dialogues", total_dialogues).alias("dialogue_share"),
        _share("turns", total_turns).alias("turn_share"),
        _share("characters", total_characters).alias("character_share"),
        pl.lit(run_id).alias("pipeline_run_id"),
    )


def top_characters(dialogues: pl.DataFrame, run_id: str, top: int = TOP_CHARACTERS) -> pl.DataFrame:
    """The `top` characters by dialogues, with the share the leading ranks hold together."""
    # A character_id may appear under variant names: show the most frequent one (ties: alphabetical).
    names = (
        dialogues.group_by("character_id", "name", "category")
        .len()
        .sort(["character_id", "len", "name", "category"], descending=[False, True, False, False])
        .unique("character_id", keep="first", maintain_order=True)
        .drop("len")
    )
    total = dialogues.height
    return (
        dialogues.group_by("character_id")
        .agg(pl.len().cast(pl.Int64).alias("dialogues"), pl.col("n_turns").sum().cast(pl.Int64).alias("turns"))
        .sort(["dialogues", "character_id"], descending=[True, False])
        .head(top)
        .join(names, on="character_id", how="left", maintain_order="left")
        .with_columns(
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("rank"),
            _share("dialogues", total).alias("dialogue_share"),
            (pl.col("dialogues").cum_sum() / total if total else pl.lit(0.0)).cast(pl.Float64).alias("cumulative_share"),
            pl.lit(run_id).alias("pipeline_run_id"),
        )
    )


def _bin_labels(edges: Sequence[float], closed_last: bool) -> list[tuple[float, float | None, str]]:
    """(lower, upper, label) per bin; count bins read '3', '10-19', '100+', score bins '4.5-5'."""
    bins: list[tuple[float, float | None, str]] = []
    if closed_last:
        for lower, upper in zip(edges, edges[1:], strict=False):
            bins.append((lower, upper, f"{lower:g}-{upper:g}"))
        return bins
    for index, lower in enumerate(edges):
        upper = edges[index + 1] if index + 1 < len(edges) else None
        if upper is None:
            label = f"{lower:g}+"
        elif upper - lower == 1:
            label = f"{lower:g}"
        else:
            label = f"{lower:g}-{upper - 1:g}"
        bins.append((lower, upper, label))
    return bins


def _histogram(values: pl.DataFrame, metric: str, edges: Sequence[float], closed_last: bool) -> pl.DataFrame:
    """Counts per fixed bin and language (plus '*'), zero-filled so every run has every bin.

    `values` has columns language and value (nulls are missing values and are not counted).
    """
    bins = _bin_labels(edges, closed_last)
    inner_edges = [lower for lower, _, _ in bins[1:]]
    present = values.filter(pl.col("value").is_not_null())
    # The bin of a value is how many inner edges are <= it: values below the first edge land in bin 0, above the last in the last.
    edges = pl.Series(inner_edges, dtype=pl.Float64)
    indexed = present.with_columns(bin_index=edges.search_sorted(present["value"], side="right").cast(pl.Int64))
    counted = pl.concat(
        [
            indexed.group_by("language", "bin_index").len(),
            indexed.group_by("bin_index").len().with_columns(pl.lit(ALL_LANGUAGES).alias("language")).select("language", "bin_index", "len"),
        ]
    )
    languages = sorted(set(values["language"].drop_nulls().to_list())) + [ALL_LANGUAGES]
    grid = pl.DataFrame(
        {
            "language": [language for language in languages for _ in bins],
            "bin_index": [index for _ in languages for index in range(len(bins))],
            "bin_lower": [float(lower) for _ in languages for lower, _, _ in bins],
            "bin_upper": [None if upper is None else float(upper) for _ in languages for _, upper, _ in bins],
            "label": [label for _ in languages for _, _, label in bins],
        },
        schema={"language": pl.String, "bin_index": pl.Int64, "bin_lower": pl.Float64, "bin_upper": pl.Float64, "label": pl.String},
    )
    return (
        grid.join(counted, on=["language", "bin_index"], how="left")
        .with_columns(pl.col("len").fill_null(0).cast(pl.Int64).alias("count"), pl.lit(metric).alias("metric"))
        .with_columns((pl.col("count") / pl.col("count").sum().over("language")).fill_nan(0.0).cast(pl.Float64).alias("share"))
        .drop("len")
    )


def _summary(values: pl.DataFrame, metric: str) -> pl.DataFrame:
    """Count, missing, mean, min, quantiles and max per language and for '*'."""
    value = pl.col("value").cast(pl.Float64)
    aggregations = [
        value.count().cast(pl.Int64).alias("count"),
        value.null_count().cast(pl.Int64).alias("missing"),
        value.mean().alias("mean"),
        value.min().alias("min"),
        *[value.quantile(q, interpolation="nearest").alias(name) for q, name in ((0.1, "p10"), (0.5, "p50"), (0.9, "p90"), (0.99, "p99"))],
        value.max().alias("max"),
    ]
    per_language = values.group_by("language").agg(aggregations)
    overall = values.select(aggregations).with_columns(pl.lit(ALL_LANGUAGES).alias("language"))
    return pl.concat([per_language.sort("language"), overall.select(per_language.columns)]).with_columns(pl.lit(metric).alias("metric"))


def _metric_values(dialogues: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Per metric: a frame of (language, value), one row per dialogue, turn or character."""
    turns = dialogues.select("language", "roles", "text_chars").explode("roles", "text_chars").filter(pl.col("roles").is_not_null())
    values = {
        "turns_per_dialogue": dialogues.select("language", pl.col("n_turns").alias("value")),
        "chars_per_turn": turns.select("language", pl.col("text_chars").alias("value")),
        "chars_per_user_turn": turns.filter(pl.col("roles") == "user").select("language", pl.col("text_chars").alias("value")),
        "chars_per_character_turn": turns.filter(pl.col("roles") == "character").select("language", pl.col("text_chars").alias("value")),
        "dialogues_per_character": dialogues.group_by("language", "character_id").len().select("language", pl.col("len").alias("value")),
    }
    for name in (*QUALITY_DIMENSIONS, "overall"):
        values[f"quality.{name}"] = dialogues.select("language", pl.col(f"quality.{name}").alias("value"))
    return {metric: frame.with_columns(pl.col("value").cast(pl.Float64)) for metric, frame in values.items()}


def distributions(dialogues: pl.DataFrame, run_id: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Histograms on fixed bins and summary statistics for every length, count and quality metric."""
    histograms, summaries = [], []
    for metric, values in _metric_values(dialogues).items():
        quality = metric.startswith("quality.")
        histograms.append(_histogram(values, metric, QUALITY_EDGES if quality else COUNT_EDGES[metric], closed_last=quality))
        summaries.append(_summary(values, metric))
    run = pl.lit(run_id).alias("pipeline_run_id")
    return pl.concat(histograms).with_columns(run), pl.concat(summaries).with_columns(run)


def funnel(manifest: RunManifest) -> pl.DataFrame:
    """Live rows into and out of each step, from the ledger."""
    records_in = manifest.ledger.input
    rows = [
        {
            "step": step.step,
            "operator": step.operator,
            "input": step.input,
            "output": step.output,
            "rejected": step.rejected,
            "rejected_share": step.rejected / step.input if step.input else 0.0,
            "remaining_share": step.output / records_in if records_in else 0.0,
        }
        for step in sorted(manifest.ledger.operators, key=lambda step: step.step)
    ]
    schema = {"step": pl.Int64, "operator": pl.String, "input": pl.Int64, "output": pl.Int64, "rejected": pl.Int64,
              "rejected_share": pl.Float64, "remaining_share": pl.Float64}
    return pl.DataFrame(rows, schema=schema).with_columns(pl.lit(manifest.run_id).alias("pipeline_run_id"))


def funnel_reasons(manifest: RunManifest, rejects: pl.DataFrame) -> pl.DataFrame:
    """Rows removed per step and reason: the ledger's counts beside what rejects/ actually holds."""
    ledger = pl.DataFrame(
        [
            {"step": step.step, "operator": step.operator, "reason": reason, "rejected": count}
            for step in manifest.ledger.operators
            for reason, count in step.by_reason.items()
        ],
        schema={"step": pl.Int64, "operator": pl.String, "reason": pl.String, "rejected": pl.Int64},
    )
    steps = pl.DataFrame(
        {"operator": [step.operator for step in manifest.ledger.operators], "ledger_step": [step.step for step in manifest.ledger.operators]},
        schema={"operator": pl.String, "ledger_step": pl.Int64},
    ).unique("operator", keep="first")
    published = rejects.group_by("operator", "reason").agg(pl.len().cast(pl.Int64).alias("rejects_rows"))
    records_in = manifest.ledger.input
    return (
        ledger.join(published, on=["operator", "reason"], how="full", coalesce=True)
        .join(steps, on="operator", how="left")
        .with_columns(
            pl.coalesce("step", "ledger_step").alias("step"),
            pl.col("rejected").fill_null(0),
            pl.col("rejects_rows").fill_null(0),
        )
        .with_columns(_share("rejected", records_in).alias("share_of_input"), pl.lit(manifest.run_id).alias("pipeline_run_id"))
        .drop("ledger_step")
        .sort(["step", "rejected", "reason"], descending=[False, True, False], nulls_last=True)
    )


def duplicate_clusters(rejects: pl.DataFrame, run_id: str) -> pl.DataFrame:
    """Cluster size histogram per dedup operator: a cluster is a kept dialogue and the rejects naming it."""
    return (
        rejects.filter(pl.col("duplicate_of").is_not_null())
        .group_by("operator", "duplicate_of")
        .len()
        .with_columns((pl.col("len") + 1).cast(pl.Int64).alias("cluster_size"))
        .group_by("operator", "cluster_size")
        .agg(pl.len().cast(pl.Int64).alias("clusters"))
        .with_columns((pl.col("clusters") * (pl.col("cluster_size") - 1)).alias("removed"), pl.lit(run_id).alias("pipeline_run_id"))
        .sort("operator", "cluster_size")
    )


def run_summary(manifest: RunManifest, dialogues: pl.DataFrame, rejects: pl.DataFrame) -> pl.DataFrame:
    """The headline numbers of the run, one row."""
    ledger = manifest.ledger
    return pl.DataFrame(
        [
            {
                "pipeline_run_id": manifest.run_id,
                "pipeline_name": manifest.pipeline_name,
                "started_at": manifest.started_at,
                "finished_at": manifest.finished_at,
                "records_in": ledger.input,
                "records_out": ledger.output,
                "records_rejected": ledger.rejected,
                "balanced": ledger.balanced,
                "dialogues": dialogues.height,
                "turns": int(dialogues["n_turns"].sum()),
                "characters": dialogues["character_id"].n_unique(),
                "languages": dialogues["language"].n_unique(),
                "rejects": rejects.height,
            }
        ]
    )


def _delta_values(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The comparable numbers of one run's stats as (section, key, metric, value)."""
    def melt(frame: pl.DataFrame, section: str, key: pl.Expr, metrics: list[str]) -> pl.DataFrame:
        return (
            frame.with_columns(key.alias("key"))
            .select("key", *[pl.col(metric).cast(pl.Float64) for metric in metrics])
            .unpivot(index="key", variable_name="metric", value_name="value")
            .with_columns(pl.lit(section).alias("section"))
            .select("section", "key", "metric", "value")
        )

    return pl.concat(
        [
            melt(tables["run_summary"], "run", pl.lit("run"),
                 ["records_in", "records_out", "records_rejected", "dialogues", "turns", "characters", "languages", "rejects"]),
            melt(tables["marginals"], "marginals", pl.format("{}={}", "dimension", pl.col("value").fill_null("null")),
                 ["dialogues", "turns", "characters", "dialogue_share"]),
            melt(tables["funnel_reasons"], "funnel", pl.format("{}/{}", "operator", "reason"), ["rejected"]),
            melt(tables["distribution_summary"], "distribution_summary", pl.format("{}/{}", "metric", "language"),
                 ["count", "mean", "p50", "p90"]),
        ]
    )


def compute_deltas(current: dict[str, pl.DataFrame], previous: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """This run's numbers against a previous run's, one row per (section, key, metric) found in either."""
    keys = ["section", "key", "metric"]
    additive = pl.col("metric").is_in(list(ADDITIVE_METRICS))
    joined = (
        _delta_values(current).rename({"value": "current"})
        .join(_delta_values(previous).rename({"value": "previous"}), on=keys, how="full", coalesce=True)
    )
    current_filled = pl.when(additive).then(pl.col("current").fill_null(0.0)).otherwise(pl.col("current"))
    previous_filled = pl.when(additive).then(pl.col("previous").fill_null(0.0)).otherwise(pl.col("previous"))
    change = current_filled - previous_filled
    return (
        joined.with_columns(
            change.alias("change"),
            pl.when(previous_filled != 0).then(change / previous_filled).otherwise(None).alias("relative_change"),
            pl.lit(current["run_summary"]["pipeline_run_id"][0]).alias("pipeline_run_id"),
            pl.lit(previous["run_summary"]["pipeline_run_id"][0]).alias("previous_run_id"),
        )
        .sort(keys)
    )


def read_stats(run_dir: Path) -> dict[str, pl.DataFrame] | None:
    """The stats a run published under stats/, or None when any table but deltas is missing or lacks a current column."""
    tables = {}
    for name in STATS_MODELS:
        path = run_dir / "stats" / f"{name}.parquet"
        if not path.is_file():
            if name == "deltas":
                continue
            return None
        if not set(stats_schema(name).names) <= set(pq.read_schema(path).names):
            return None  # written by an older version: recompute rather than show a partial picture
        tables[name] = pl.read_parquet(path)
    return tables


def compute_stats(run_dir: Path, previous: Path | None = None, *, manifest: RunManifest | None = None,
                  top: int = TOP_CHARACTERS) -> dict[str, pl.DataFrame]:
    """Every stats table of the run in `run_dir`, with deltas against the run in `previous` when given.

    `manifest` is for a run not published yet (no manifest.json in `run_dir`); otherwise it is read from there.
    The previous run's published stats are used when complete, else they are computed from its folder.
    """
    run_dir = Path(run_dir)
    manifest = manifest or load_manifest(run_dir)
    dialogues = _dialogues(run_dir)
    rejects = _rejects(run_dir)
    run_id = manifest.run_id
    histograms, summaries = distributions(dialogues, run_id)
    tables = {
        "run_summary": run_summary(manifest, dialogues, rejects),
        "composition_shares": composition_shares(dialogues, run_id),
        "marginals": marginals(dialogues, run_id),
        "top_characters": top_characters(dialogues, run_id, top),
        "distributions": histograms,
        "distribution_summary": summaries,
        "funnel": funnel(manifest),
        "funnel_reasons": funnel_reasons(manifest, rejects),
        "duplicate_clusters": duplicate_clusters(rejects, run_id),
    }
    if previous is not None:
        previous_tables = read_stats(Path(previous)) or compute_stats(Path(previous), top=top)
        tables["deltas"] = compute_deltas(tables, previous_tables)
    return {name: _conform(name, frame) for name, frame in tables.items()}


def _conform(name: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Columns in the documented order and types; raises naming the table when a column is missing."""
    schema = stats_schema(name)
    missing = [field.name for field in schema if field.name not in frame.columns]
    if missing:
        raise ValueError(f"stats table {name!r} lacks column(s) {', '.join(missing)}")
    return pl.from_arrow(frame.select(schema.names).to_arrow().cast(schema))  # type: ignore[return-value]


def write_stats(run_dir: Path, tables: dict[str, pl.DataFrame]) -> list[Shard]:
    """Write each table as run_dir/stats/<name>.parquet (atomically), drop stale stats tables, return the shards."""
    unknown = [name for name in tables if name not in STATS_MODELS]
    if unknown:
        raise KeyError(f"unknown stats table(s) {', '.join(unknown)}; known: {', '.join(STATS_MODELS)}")
    run_dir = Path(run_dir)
    folder = run_dir / "stats"
    folder.mkdir(parents=True, exist_ok=True)
    shards = []
    for name in STATS_MODELS:
        path = folder / f"{name}.parquet"
        if name not in tables:
            # e.g. deltas from an earlier `--compare`: a stats folder must describe one comparison or none.
            path.unlink(missing_ok=True)
            continue
        schema = stats_schema(name)
        table = tables[name].select(schema.names).to_arrow().cast(schema).replace_schema_metadata(schema.metadata)
        staging = path.with_suffix(".parquet.tmp")
        pq.write_table(table, staging)
        os.replace(staging, path)
        data = path.read_bytes()
        shards.append(Shard(path=str(path.relative_to(run_dir)), rows=table.num_rows, bytes=len(data), sha256=hashlib.sha256(data).hexdigest()))
    return shards
