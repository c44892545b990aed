"""The dashboard in a real browser: headless Debian Chromium loads the file, draws every chart, logs no error."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.report import build_report
from tests.headless_chromium import Browser, find_or_install_chromium
from tests.run_folders import sample_corpus, sample_rejects, write_run

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
READY = 'document.body && document.body.dataset.chartsReady === "true"'

# Per chart: its svg's size and how many data marks (bars) Vega drew in it.
CHARTS = """
[...document.querySelectorAll('.chart')].map((div) => {
  const svg = div.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
  return { id: div.id, width: box.width, height: box.height,
           marks: svg ? svg.querySelectorAll('.mark-rect.role-mark path').length : 0 };
})
"""
# The headline numbers and the funnel table as the browser shows them.
NUMBERS = """
({
  stats: Object.fromEntries([...document.querySelectorAll('[data-stat]')].map((e) => [e.dataset.stat, e.textContent.trim()])),
  funnel: Object.fromEntries([...document.querySelectorAll('table[data-table="funnel"] tbody tr')].map((tr) => [
    tr.dataset.row, Object.fromEntries([...tr.querySelectorAll('td')].map((td) => [td.dataset.col, td.textContent.trim()]))])),
})
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    binary, why_not = find_or_install_chromium()
    if binary is None:
        pytest.skip(f"no headless browser: {why_not}")
    return binary


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_dashboard_renders_in_chromium_without_errors(chromium: str, tmp_path: Path):
    write_run(tmp_path / "previous", sample_corpus()[:3], sample_rejects()[:2], run_id="run-a")
    manifest = write_run(tmp_path / "current", sample_corpus(), sample_rejects(), run_id="run-b")
    page = build_report(tmp_path / "current", tmp_path / "previous")
    with Browser(chromium) as browser:
        browser.load(page.as_uri(), READY)
        charts = browser.evaluate(CHARTS)
        numbers = browser.evaluate(NUMBERS)
        rendered = browser.evaluate("Number(document.body.dataset.chartsRendered)")
        browser.screenshot(ARTIFACTS / "report.png")
        assert browser.console_errors() == []
        assert browser.console_warnings() == []
        assert browser.requested_urls() == [page.as_uri()]  # nothing but the file itself

    assert len(charts) >= 10 and rendered == len(charts)
    for chart in charts:
        assert chart["width"] > 100 and chart["height"] > 50 and chart["marks"] > 0, chart
    assert {"composition-scenario", "composition-source", "language-marginal", "funnel-steps", "turns-per-dialogue",
            "chars-per-turn", "quality-scores", "delta-composition"} <= {chart["id"] for chart in charts}

    stats = numbers["stats"]
    assert (_number(stats["records_in"]), _number(stats["records_out"]), _number(stats["records_rejected"])) == (
        manifest.ledger.input, manifest.ledger.output, manifest.ledger.rejected)
    assert stats["balanced"] == "balanced"
    for step in manifest.ledger.operators:
        row = numbers["funnel"][step.operator]
        assert (_number(row["input"]), _number(row["rejected"]), _number(row["output"])) == (step.input, step.rejected, step.output)
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


def test_the_browser_check_catches_errors_and_fetches(chromium: str, tmp_path: Path):
    # The same check on a page that breaks a chart and tries a network fetch: both must be reported.
    write_run(tmp_path, sample_corpus(), sample_rejects())
    page = build_report(tmp_path)
    broken = page.read_text(encoding="utf-8").replace('"mark":', '"mark_broken":', 1)
    # In <head>, so the fetch is refused (and logged) before the charts report ready.
    broken = broken.replace("</title>", '</title><script>fetch("http://127.0.0.1:9/beacon").catch(() => {});</script>', 1)
    page.write_text(broken, encoding="utf-8")
    with Browser(chromium) as browser:
        browser.load(page.as_uri(), READY)
        errors = browser.console_errors()
        rendered = browser.evaluate("Number(document.body.dataset.chartsRendered)")
        total = browser.evaluate("document.querySelectorAll('.chart').length")
    assert rendered == total - 1
    assert any("failed to render" in error for error in errors), errors
    assert any("Content Security Policy" in error for error in errors), errors
