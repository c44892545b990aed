"""The run dashboard: one self-contained HTML file of charts and tables over a run's stats.

Charts are Vega-Lite specs built with Altair and rendered in the page by Vega, whose JavaScript is
inlined from vl-convert's bundle: the file opens offline, and its Content-Security-Policy forbids any
fetch, so nothing is loaded at view time. Each chart has a table beside it with the same numbers.
"""

from __future__ import annotations

import functools
import html
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import altair as alt
import jinja2
import polars as pl
import vl_convert

from pipelines.stats import compute_deltas, compute_stats, load_manifest, read_stats
from schemas.records import CATEGORIES, SCENARIOS, SOURCES
from schemas.run import RunManifest
from schemas.stats import ALL_LANGUAGES

CHART_WIDTH = 440
TOP_CHARACTERS_SHOWN = 20
# Counts are whole numbers: no 0.2-step ticks on small runs.
COUNT_AXIS = alt.Axis(tickMinStep=1, format=",d")
VEGA_LITE_VERSION = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one inline script (about 0.9 MB), built once per process."""
    return vl_convert.javascript_bundle(vl_version=VEGA_LITE_VERSION)


Format = Callable[[object], str]


def count(value: object) -> str:
    """An integer with thousands separators."""
    return "–" if value is None else f"{int(value):,}"  # type: ignore[call-overload]


def share(value: object) -> str:
    """A 0..1 share as a percentage."""
    return "–" if value is None else f"{float(value):.1%}"  # type: ignore[arg-type]


def number(value: object) -> str:
    """A measurement with two decimals (drops them for whole numbers)."""
    if value is None:
        return "–"
    value = float(value)  # type: ignore[arg-type]
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"


def signed(value: object) -> str:
    """A change, with its sign."""
    if value is None:
        return "–"
    value = float(value)  # type: ignore[arg-type]
    return f"{value:+,.0f}" if value.is_integer() else f"{value:+,.4f}"


@dataclass
class Column:
    """A table column: the frame column, its header and how its values are shown."""

    name: str
    header: str
    format: Format = str
    numeric: bool = True


@dataclass
class Table:
    """An HTML table beside a chart; `key` names each row (data-row) so tests and scrapers can find it."""

    name: str
    frame: pl.DataFrame
    columns: Sequence[Column]
    key: str | None = None

    def render(self) -> str:
        head = "".join(f'<th class="{"num" if c.numeric else ""}">{html.escape(c.header)}</th>' for c in self.columns)
        rows = []
        for row in self.frame.iter_rows(named=True):
            key = f' data-row="{html.escape(str(row[self.key]))}"' if self.key else ""
            cells = "".join(
                f'<td data-col="{c.name}" class="{"num" if c.numeric else ""}">'
                f'{html.escape("–" if row[c.name] is None else c.format(row[c.name]))}</td>'
                for c in self.columns
            )
            rows.append(f"<tr{key}>{cells}</tr>")
        body = "".join(rows) or f'<tr><td colspan="{len(self.columns)}" class="empty">no rows</td></tr>'
        return f'<table data-table="{self.name}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


@dataclass
class Panel:
    """One chart (or a note when there is nothing to chart) with its table."""

    id: str
    title: str
    table: Table
    chart: alt.TopLevelMixin | None = None
    note: str = ""


@dataclass
class Section:
    """A titled group of panels."""

    id: str
    title: str
    intro: str
    panels: list[Panel] = field(default_factory=list)


def _charted(panel_id: str, title: str, table: Table, chart: alt.TopLevelMixin, has_data: bool, note: str) -> Panel:
    """A panel with its chart, or with `note` in the chart's place when there is no data to chart."""
    return Panel(panel_id, title, table, chart if has_data else None, "" if has_data else note)


def _order(values: Sequence[str], known: Sequence[str]) -> list[str]:
    """Known values in schema order, then any others alphabetically."""
    present = set(values)
    return [v for v in known if v in present] + sorted(present - set(known))


def _tooltip(*fields: str) -> list[alt.Tooltip]:
    return [alt.Tooltip(f) for f in fields]


def _stacked(composition: pl.DataFrame, by: str, known: Sequence[str]) -> Panel:
    """Dialogues per category, stacked by `by` (scenario or source)."""
    grouped = composition.group_by("category", by).agg(pl.col("dialogues").sum()).sort("category", by)
    categories = _order(grouped["category"].to_list(), CATEGORIES)
    stacks = _order(grouped[by].to_list(), known)
    chart = (
        alt.Chart(grouped)
        .mark_bar()
        .encode(
            x=alt.X("dialogues:Q", title="Dialogues", axis=COUNT_AXIS, stack="zero"),
            y=alt.Y("category:N", sort=categories, title=None),
            color=alt.Color(f"{by}:N", sort=stacks, title=by.capitalize()),
            tooltip=_tooltip("category:N", f"{by}:N", "dialogues:Q"),
        )
        .properties(width=CHART_WIDTH, height=max(60, 34 * len(categories)))
    )
    pivot = (
        grouped.pivot(on=by, index="category", values="dialogues").fill_null(0) if grouped.height else pl.DataFrame({"category": []})
    )
    pivot = pivot.with_columns(pl.sum_horizontal(stacks).alias("total") if stacks else pl.lit(0).alias("total"))
    pivot = pivot.sort(pl.col("category").replace_strict(categories, list(range(len(categories))), default=len(categories)))
    columns = [Column("category", "category", numeric=False), *[Column(s, s, count) for s in stacks], Column("total", "total", count)]
    return _charted(f"composition-{by}", f"Dialogues per category, by {by}", Table(f"composition_{by}", pivot, columns, key="category"),
                 chart, bool(grouped.height), "The corpus is empty.")


def _marginal(marginals: pl.DataFrame, dimension: str, title: str) -> Panel:
    rows = marginals.filter(pl.col("dimension") == dimension).with_columns(pl.col("value").fill_null("(none)"))
    chart = (
        alt.Chart(rows)
        .mark_bar()
        .encode(
            x=alt.X("dialogues:Q", title="Dialogues", axis=COUNT_AXIS),
            y=alt.Y("value:N", sort="-x", title=None),
            color=alt.Color("value:N", legend=None),
            tooltip=[alt.Tooltip("value:N", title=dimension), alt.Tooltip("dialogues:Q"), alt.Tooltip("dialogue_share:Q", format=".1%"),
                     alt.Tooltip("characters:Q")],
        )
        .properties(width=CHART_WIDTH, height=max(40, 30 * rows.height))
    )
    columns = [Column("value", dimension, numeric=False), Column("dialogues", "dialogues", count), Column("dialogue_share", "share", share),
               Column("turns", "turns", count), Column("characters", "characters", count)]
    return _charted(f"{dimension}-marginal", title, Table(f"marginals_{dimension}", rows, columns, key="value"),
                 chart, bool(rows.height), "The corpus is empty.")


def _histogram(bins: pl.DataFrame, title: str, panel_id: str, color: str, color_title: str, summary: pl.DataFrame) -> Panel:
    """Shares per fixed bin, one bar per `color` value side by side; the table holds the summary statistics."""
    labels = bins.sort("bin_index")["label"].unique(maintain_order=True).to_list()
    chart = (
        alt.Chart(bins)
        .mark_bar()
        .encode(
            x=alt.X("label:N", sort=labels, title=None, axis=alt.Axis(labelAngle=-40)),
            xOffset=alt.XOffset(f"{color}:N"),
            y=alt.Y("share:Q", title="Share", axis=alt.Axis(format="%")),
            color=alt.Color(f"{color}:N", title=color_title),
            tooltip=[alt.Tooltip(f"{color}:N", title=color_title), alt.Tooltip("label:N", title="bin"), alt.Tooltip("count:Q"),
                     alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(width=CHART_WIDTH, height=200)
    )
    columns = [Column("metric", "metric", numeric=False), Column("language", "language", numeric=False), Column("count", "n", count),
               Column("mean", "mean", number), Column("p10", "p10", number), Column("p50", "median", number),
               Column("p90", "p90", number), Column("max", "max", number)]
    keyed = summary.with_columns(pl.format("{}/{}", "metric", "language").alias("key"))
    has_data = bins["count"].sum() > 0
    return _charted(panel_id, title, Table(panel_id, keyed, columns, key="key"), chart, bool(has_data), "No values to chart.")


def composition_section(stats: dict[str, pl.DataFrame]) -> Section:
    """Category x scenario and x source stacks, language and split shares."""
    composition, marginals = stats["composition_shares"], stats["marginals"]
    return Section("composition", "Composition", "What the published corpus is made of: dialogues per character category, "
                   "stacked by scenario and by source, and the split by language and by train/validation/test.",
                   [_stacked(composition, "scenario", SCENARIOS), _stacked(composition, "source", SOURCES),
                    _marginal(marginals, "language", "Dialogues per language"), _marginal(marginals, "split", "Dialogues per split")])


def _characters_per_category(marginals: pl.DataFrame) -> Panel:
    categories = marginals.filter(pl.col("dimension") == "category")
    chart = (
        alt.Chart(categories)
        .mark_bar()
        .encode(
            x=alt.X("characters:Q", title="Distinct characters", axis=COUNT_AXIS),
            y=alt.Y("value:N", sort=list(CATEGORIES), title=None),
            color=alt.Color("value:N", legend=None),
            tooltip=_tooltip("value:N", "characters:Q"),
        )
        .properties(width=CHART_WIDTH, height=max(40, 34 * categories.height))
    )
    columns = [Column("value", "category", numeric=False), Column("characters", "characters", count),
               Column("character_share", "share", share), Column("dialogues", "dialogues", count)]
    table = Table("characters_per_category", categories, columns, key="value")
    return _charted("characters-per-category", "Characters per category", table, chart, bool(categories.height), "The corpus is empty.")


def _top_characters(top_characters: pl.DataFrame) -> Panel:
    top = top_characters.head(TOP_CHARACTERS_SHOWN)
    chart = (
        alt.Chart(top)
        .mark_bar()
        .encode(
            x=alt.X("dialogues:Q", title="Dialogues", axis=COUNT_AXIS),
            y=alt.Y("name:N", sort="-x", title=None),
            color=alt.Color("category:N", sort=list(CATEGORIES), title="Category"),
            tooltip=_tooltip("name:N", "category:N", "dialogues:Q", "character_id:N"),
        )
        .properties(width=CHART_WIDTH, height=max(40, 20 * top.height))
    )
    columns = [Column("rank", "#", count), Column("name", "character", numeric=False), Column("category", "category", numeric=False),
               Column("dialogues", "dialogues", count), Column("dialogue_share", "share", share),
               Column("cumulative_share", "cumulative", share)]
    table = Table("top_characters", top, columns, key="character_id")
    return _charted("top-characters", f"Top {TOP_CHARACTERS_SHOWN} characters by dialogues", table, chart, bool(top.height),
                    "The corpus is empty.")


def characters_section(stats: dict[str, pl.DataFrame]) -> Section:
    """Top characters, the dialogues-per-character tail, characters per category."""
    per_character = stats["distributions"].filter((pl.col("metric") == "dialogues_per_character") & (pl.col("language") != ALL_LANGUAGES))
    summary = stats["distribution_summary"].filter(pl.col("metric") == "dialogues_per_character")
    return Section("characters", "Characters", "Who the dialogues are with: the characters with the most dialogues, and how many "
                   "dialogues each character has (the long tail).",
                   [_top_characters(stats["top_characters"]),
                    _histogram(per_character, "Dialogues per character (share of each language's characters)", "dialogues-per-character",
                               "language", "Language", summary),
                    _characters_per_category(stats["marginals"])])


def funnel_section(stats: dict[str, pl.DataFrame], manifest: RunManifest) -> Section:
    """Rows left after each step, removals by reason, duplicate cluster sizes."""
    steps = stats["funnel"]
    ledger = manifest.ledger
    flow = pl.concat([
        pl.DataFrame({"stage": ["records read"], "rows": [ledger.input], "order": [-1]}),
        steps.select(pl.format("{}. after {}", "step", "operator").alias("stage"), pl.col("output").alias("rows"), pl.col("step").alias("order")),
    ], how="vertical_relaxed")
    stages = flow.sort("order")["stage"].to_list()
    chart = (
        alt.Chart(flow)
        .mark_bar()
        .encode(x=alt.X("rows:Q", title="Live rows", axis=COUNT_AXIS), y=alt.Y("stage:N", sort=stages, title=None),
                tooltip=_tooltip("stage:N", "rows:Q"))
        .properties(width=CHART_WIDTH, height=max(60, 30 * flow.height))
    )
    step_columns = [Column("step", "step", count), Column("operator", "operator", numeric=False), Column("input", "in", count),
                    Column("rejected", "removed", count), Column("output", "out", count), Column("rejected_share", "removed %", share)]
    reasons = stats["funnel_reasons"].with_columns(pl.format("{}/{}", "operator", "reason").alias("key"))
    reason_chart = (
        alt.Chart(reasons)
        .mark_bar()
        .encode(x=alt.X("rejected:Q", title="Rows removed", axis=COUNT_AXIS), y=alt.Y("operator:N", sort=steps["operator"].to_list(), title=None),
                color=alt.Color("reason:N", title="Reason"), tooltip=_tooltip("operator:N", "reason:N", "rejected:Q", "rejects_rows:Q"))
        .properties(width=CHART_WIDTH, height=max(40, 34 * reasons["operator"].n_unique()))
    )
    reason_columns = [Column("operator", "operator", numeric=False), Column("reason", "reason", numeric=False),
                      Column("rejected", "removed", count), Column("rejects_rows", "in rejects/", count),
                      Column("share_of_input", "of input", share)]
    dupes = stats["duplicate_clusters"].with_columns(pl.format("{}/{}", "operator", "cluster_size").alias("key"))
    dupe_chart = (
        alt.Chart(dupes)
        .mark_bar()
        .encode(x=alt.X("cluster_size:O", title="Cluster size (kept + removed)", axis=alt.Axis(labelAngle=0)), xOffset=alt.XOffset("operator:N"),
                y=alt.Y("clusters:Q", title="Clusters", axis=COUNT_AXIS), color=alt.Color("operator:N", title="Operator"),
                tooltip=_tooltip("operator:N", "cluster_size:O", "clusters:Q", "removed:Q"))
        .properties(width=CHART_WIDTH, height=200)
    )
    dupe_columns = [Column("operator", "operator", numeric=False), Column("cluster_size", "size", count),
                    Column("clusters", "clusters", count), Column("removed", "removed", count)]
    return Section("funnel", "Funnel", "Every record read either reached the corpus or was removed by one step, for a reason "
                   "(from the run's ledger; the 'in rejects/' column counts the published reject rows).",
                   [Panel("funnel-steps", "Rows left after each step", Table("funnel", steps, step_columns, key="operator"), chart),
                    _charted("funnel-reasons", "Rows removed, by operator and reason", Table("funnel_reasons", reasons, reason_columns, key="key"),
                          reason_chart, bool(reasons.height), "No row was removed."),
                    _charted("duplicate-clusters", "Duplicate cluster sizes", Table("duplicate_clusters", dupes, dupe_columns, key="key"),
                          dupe_chart, bool(dupes.height), "No duplicates were removed.")])


def lengths_section(stats: dict[str, pl.DataFrame]) -> Section:
    """Turns per dialogue and characters per turn."""
    bins, summary = stats["distributions"], stats["distribution_summary"]
    per_language = pl.col("language") != ALL_LANGUAGES
    turns = bins.filter((pl.col("metric") == "turns_per_dialogue") & per_language)
    chars = bins.filter(pl.col("metric").is_in(["chars_per_user_turn", "chars_per_character_turn"]) & (pl.col("language") == ALL_LANGUAGES))
    chars = chars.with_columns(pl.col("metric").str.replace("chars_per_", "").str.replace("_turn", "").alias("role"))
    return Section("lengths", "Lengths", "How long dialogues and turns are. Turn length counts Unicode characters, so compare "
                   "languages by their own rows.",
                   [_histogram(turns, "Turns per dialogue (share of each language's dialogues)", "turns-per-dialogue", "language",
                               "Language", summary.filter(pl.col("metric") == "turns_per_dialogue")),
                    _histogram(chars, "Characters per turn, user vs character turns", "chars-per-turn", "role", "Role",
                               summary.filter(pl.col("metric").str.starts_with("chars_per_")))])


def quality_section(stats: dict[str, pl.DataFrame]) -> Section:
    """Score histograms per quality dimension."""
    bins = stats["distributions"].filter(pl.col("metric").str.starts_with("quality.") & (pl.col("language") == ALL_LANGUAGES))
    scored = bins.group_by("metric").agg(pl.col("count").sum()).filter(pl.col("count") > 0)["metric"].to_list()
    bins = bins.filter(pl.col("metric").is_in(scored)).with_columns(pl.col("metric").str.replace("quality.", "").alias("dimension"))
    summary = stats["distribution_summary"].filter(pl.col("metric").str.starts_with("quality.") & (pl.col("language") == ALL_LANGUAGES))
    labels = bins.sort("bin_index")["label"].unique(maintain_order=True).to_list()
    chart = (
        alt.Chart(bins)
        .mark_bar()
        .encode(x=alt.X("label:N", sort=labels, title="Score", axis=alt.Axis(labelAngle=-40)), y=alt.Y("share:Q", title="Share of scored", axis=alt.Axis(format="%")),
                tooltip=[alt.Tooltip("dimension:N"), alt.Tooltip("label:N", title="score"), alt.Tooltip("count:Q", title="dialogues"),
                         alt.Tooltip("share:Q", format=".1%")])
        .properties(width=160, height=110)
        .facet(facet=alt.Facet("dimension:N", title=None), columns=3)
    )
    columns = [Column("metric", "dimension", numeric=False), Column("count", "scored", count), Column("missing", "unscored", count),
               Column("mean", "mean", number), Column("p10", "p10", number), Column("p50", "median", number), Column("p90", "p90", number)]
    return Section("quality", "Quality", "Scores (1-5) on CharacterGLM's dimensions, where a scoring stage filled them in.",
                   [_charted("quality-scores", "Quality score distributions", Table("quality", summary, columns, key="metric"),
                          chart, bool(scored), "No dialogue in this run has quality scores.")])


def deltas_section(deltas: pl.DataFrame) -> Section:
    """This run against the previous one."""
    previous_run = deltas["previous_run_id"][0] if deltas.height else "?"
    run = deltas.filter(pl.col("section") == "run")
    composition = deltas.filter((pl.col("section") == "marginals") & (pl.col("metric") == "dialogues") & (pl.col("change") != 0))
    chart = (
        alt.Chart(composition)
        .mark_bar()
        .encode(x=alt.X("change:Q", title="Change in dialogues", axis=COUNT_AXIS), y=alt.Y("key:N", sort="-x", title=None),
                color=alt.condition("datum.change > 0", alt.value("#2e7d32"), alt.value("#c62828")),
                tooltip=_tooltip("key:N", "previous:Q", "current:Q", "change:Q"))
        .properties(width=CHART_WIDTH, height=max(40, 22 * composition.height))
    )
    run_columns = [Column("metric", "number", numeric=False), Column("previous", "previous", number), Column("current", "this run", number),
                   Column("change", "change", signed), Column("relative_change", "change %", share)]
    composition_columns = [Column("key", "slice", numeric=False), *run_columns[1:]]
    funnel = deltas.filter((pl.col("section") == "funnel") & (pl.col("change") != 0))
    funnel_columns = [Column("key", "operator/reason", numeric=False), *run_columns[1:]]
    return Section("deltas", f"Changes since run {previous_run}", "This run against the previous one: counts, composition and removals.",
                   [_charted("delta-composition", "Change in dialogues per slice",
                          Table("deltas_composition", composition, composition_columns, key="key"),
                          chart, bool(composition.height), "The composition did not change."),
                    Panel("delta-run", "Headline numbers", Table("deltas_run", run, run_columns, key="metric"), None, ""),
                    Panel("delta-funnel", "Change in rows removed", Table("deltas_funnel", funnel, funnel_columns, key="key"), None,
                          "" if funnel.height else "Removals did not change.")])


_TEMPLATE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True, undefined=jinja2.StrictUndefined
).get_template("report.html.jinja")


def render_report(manifest: RunManifest, stats: dict[str, pl.DataFrame]) -> str:
    """The dashboard page for one run's stats (with a deltas section when `stats` has deltas)."""
    sections = [composition_section(stats), characters_section(stats), funnel_section(stats, manifest), lengths_section(stats),
                quality_section(stats)]
    if "deltas" in stats and stats["deltas"].height:
        sections.insert(0, deltas_section(stats["deltas"]))
    specs = {panel.id: panel.chart.to_dict() for section in sections for panel in section.panels if panel.chart is not None}
    summary = stats["run_summary"].row(0, named=True)
    reasons = stats["funnel_reasons"]
    mismatched = reasons.filter(pl.col("rejected") != pl.col("rejects_rows"))
    return _TEMPLATE.render(
        manifest=manifest,
        summary=summary,
        sections=sections,
        warnings=[
            *([] if manifest.ledger.balanced else ["The ledger does not balance: records read != published + rejected."]),
            *[f"{r['operator']}/{r['reason']}: the ledger counts {r['rejected']:,} removed rows but rejects/ holds {r['rejects_rows']:,}."
              for r in mismatched.iter_rows(named=True)],
        ],
        count=count,
        # `</` would end the script element early; JSON allows the escaped form.
        specs_json=json.dumps(specs, ensure_ascii=False).replace("</", "<\\/"),
        bundle=vega_bundle(),
    )


def build_report(run_dir: Path, compare: Path | None = None, *, manifest: RunManifest | None = None,
                 stats: dict[str, pl.DataFrame] | None = None) -> Path:
    """Write run_dir/report/index.html from the run's published stats (computed when absent); returns its path.

    A pipeline finishing a run passes the `manifest` and the `stats` it just computed, so nothing is read back
    (and run_dir need not hold manifest.json yet).
    """
    run_dir = Path(run_dir)
    manifest = manifest or load_manifest(run_dir)
    stats = dict(stats) if stats is not None else (read_stats(run_dir) or compute_stats(run_dir, manifest=manifest))
    if compare is not None:
        stats["deltas"] = compute_deltas(stats, read_stats(Path(compare)) or compute_stats(Path(compare)))
    page = render_report(manifest, stats)
    path = run_dir / "report" / "index.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".html.tmp")
    staging.write_text(page, encoding="utf-8")
    os.replace(staging, path)
    return path
