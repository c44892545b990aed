"""pipelines/report.py: the dashboard page's content, self-containment and chart specs (the browser test is separate)."""

from __future__ import annotations

import json
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import vl_convert

from pipelines.report import VEGA_LITE_VERSION, build_report, vega_bundle
from pipelines.stats import compute_stats, write_stats
from schemas.run import RunManifest
from tests.run_folders import sample_corpus, sample_rejects, write_run


class PageTables(HTMLParser):
    """Collects data-stat values and every data-table as {row key: {column: text}}."""

    def __init__(self) -> None:
        super().__init__()
        self.stats: dict[str, str] = {}
        self.tables: dict[str, dict[str, dict[str, str]]] = {}
        self.urls: list[str] = []
        self._stat: str | None = None
        self._table: str | None = None
        self._row: str | None = None
        self._col: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]
        if "data-stat" in attributes:
            self._stat = attributes["data-stat"]
        if tag == "table" and "data-table" in attributes:
            self._table = attributes["data-table"]
            self.tables[self._table or ""] = {}
        if tag == "tr" and self._table and "data-row" in attributes:
            self._row = attributes["data-row"]
            self.tables[self._table][self._row or ""] = {}
        if tag == "td" and self._row is not None:
            self._col = attributes.get("data-col")

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "tr":
            self._row = None
        elif tag == "td":
            self._col = None
        elif tag == "div":
            self._stat = None

    def handle_data(self, data: str) -> None:
        if self._stat:
            self.stats[self._stat] = data.strip()
        if self._table and self._row is not None and self._col:
            self.tables[self._table][self._row][self._col] = data.strip()


def _parse(path: Path) -> tuple[str, PageTables]:
    page = path.read_text(encoding="utf-8")
    parser = PageTables()
    parser.feed(page)
    return page, parser


def _number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    previous, current = tmp_path / "previous", tmp_path / "current"
    write_run(previous, sample_corpus()[:3], sample_rejects()[:2], run_id="run-a")
    write_run(current, sample_corpus(), sample_rejects(), run_id="run-b")
    return previous, current


def test_report_is_one_self_contained_file(runs: tuple[Path, Path]):
    _, current = runs
    path = build_report(current)
    assert path == current / "report" / "index.html"
    assert sorted(p.name for p in path.parent.iterdir()) == ["index.html"]
    page, parsed = _parse(path)
    assert vega_bundle() in page  # the renderer is inlined
    ours = page.replace(vega_bundle(), "")  # the bundle builds `url(#gradient)` fills; our markup and CSS load nothing
    assert not re.search(r"<script[^>]*\ssrc=|<link\b|<iframe\b|<img\b|@import|url\(", ours, flags=re.IGNORECASE)
    assert all(url.startswith("#") for url in parsed.urls), parsed.urls
    assert "default-src 'none'" in page  # the browser itself refuses any fetch


def test_report_numbers_equal_the_manifest_and_corpus(runs: tuple[Path, Path]):
    _, current = runs
    manifest = RunManifest.model_validate_json((current / "manifest.json").read_text())
    _, parsed = _parse(build_report(current))
    assert _number(parsed.stats["records_in"]) == manifest.ledger.input
    assert _number(parsed.stats["records_out"]) == manifest.ledger.output
    assert _number(parsed.stats["records_rejected"]) == manifest.ledger.rejected
    assert _number(parsed.stats["characters"]) == len({d.character_id for d in sample_corpus()})
    funnel = parsed.tables["funnel"]
    for step in manifest.ledger.operators:
        row = funnel[step.operator]
        assert (_number(row["input"]), _number(row["rejected"]), _number(row["output"])) == (step.input, step.rejected, step.output)
    reasons = parsed.tables["funnel_reasons"]
    expected = {f"{step.operator}/{reason}": n for step in manifest.ledger.operators for reason, n in step.by_reason.items()}
    assert {key: _number(row["rejected"]) for key, row in reasons.items()} == expected
    by_scenario = parsed.tables["composition_scenario"]
    assert {category: _number(row["total"]) for category, row in by_scenario.items()} == dict(
        Counter(d.character.category for d in sample_corpus())
    )
    languages = parsed.tables["marginals_language"]
    assert {language: _number(row["dialogues"]) for language, row in languages.items()} == dict(Counter(d.language for d in sample_corpus()))


def test_every_chart_spec_renders_bars(runs: tuple[Path, Path]):
    previous, current = runs
    page, _ = _parse(build_report(current, previous))
    specs = json.loads(re.search(r'<script id="chart-specs" type="application/json">(.*?)</script>', page, flags=re.DOTALL).group(1))
    chart_divs = re.findall(r'<div class="chart" id="([\w-]+)"', page)
    assert sorted(specs) == sorted(chart_divs)
    assert {"composition-scenario", "composition-source", "language-marginal", "funnel-steps", "turns-per-dialogue", "quality-scores",
            "delta-composition"} <= set(specs)
    for chart_id, spec in specs.items():
        svg = vl_convert.vegalite_to_svg(spec, vl_version=VEGA_LITE_VERSION)
        bars = re.findall(r'<g class="mark-rect role-mark[^"]*"[^>]*>(.*?)</g>', svg, flags=re.DOTALL)
        assert any("<path" in group for group in bars), f"{chart_id}: no bar drawn"


def test_compare_adds_the_deltas_section(runs: tuple[Path, Path]):
    previous, current = runs
    page, _ = _parse(build_report(current))
    assert 'id="deltas"' not in page
    page, parsed = _parse(build_report(current, previous))
    assert "Changes since run run-a" in page
    dialogues = parsed.tables["deltas_run"]["dialogues"]
    assert (_number(dialogues["previous"]), _number(dialogues["current"]), dialogues["change"]) == (3, 6, "+3")


def test_report_reads_published_stats(runs: tuple[Path, Path]):
    _, current = runs
    tables = compute_stats(current)
    write_stats(current, tables)
    stats_file = current / "stats" / "marginals.parquet"
    marginals = pq.read_table(stats_file).to_pylist()
    for row in marginals:
        if row["dimension"] == "language" and row["value"] == "en":
            row["dialogues"] = 4242  # a recognisable number only the published file holds
    pq.write_table(pq.read_table(stats_file).from_pylist(marginals, schema=pq.read_schema(stats_file)), stats_file)
    _, parsed = _parse(build_report(current))
    assert parsed.tables["marginals_language"]["en"]["dialogues"] == "4,242"


def test_an_empty_corpus_gives_notes_not_charts(tmp_path: Path):
    write_run(tmp_path, [], sample_rejects())
    page, parsed = _parse(build_report(tmp_path))
    assert "The corpus is empty." in page
    assert "No dialogue in this run has quality scores." in page
    assert _number(parsed.stats["records_out"]) == 0
    assert 'id="funnel-steps"' in page  # the funnel still has something to show


def test_warnings_for_an_unbalanced_ledger_and_reject_mismatch(tmp_path: Path):
    manifest = write_run(tmp_path, sample_corpus(), sample_rejects())
    manifest.ledger.balanced = False
    (tmp_path / "manifest.json").write_text(manifest.model_dump_json(), encoding="utf-8")
    pq.write_table(pq.read_table(tmp_path / "rejects" / "part-00000.parquet").slice(0, 1), tmp_path / "rejects" / "part-00001.parquet")
    page, parsed = _parse(build_report(tmp_path))
    assert parsed.stats["balanced"] == "UNBALANCED"
    assert "read.jsonl/invalid_json: the ledger counts 1 removed rows but rejects/ holds 2." in page


def test_a_pipeline_builds_the_report_before_publishing_the_manifest(tmp_path: Path):
    manifest = write_run(tmp_path, sample_corpus(), sample_rejects(), run_id="run-staged")
    (tmp_path / "manifest.json").unlink()  # a staging folder: the manifest is written last
    stats = compute_stats(tmp_path, manifest=manifest)
    write_stats(tmp_path, stats)
    page, parsed = _parse(build_report(tmp_path, manifest=manifest, stats=stats))
    assert "run-staged" in page
    assert _number(parsed.stats["records_in"]) == manifest.ledger.input
