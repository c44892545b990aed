"""jobs/cli_report.py: `report` and `stats` from the command line."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from jobs.cli_report import app
from schemas.stats import STATS_MODELS
from tests.run_folders import sample_corpus, sample_rejects, write_run

runner = CliRunner(env={"COLUMNS": "200"})  # rich wraps error boxes at the terminal width


def test_help_describes_both_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "report" in result.output and "stats" in result.output
    for command in ("report", "stats"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "--compare" in result.output


def test_report_writes_the_page_and_prints_its_path(tmp_path: Path):
    write_run(tmp_path / "a", sample_corpus()[:2], run_id="run-a")
    write_run(tmp_path / "b", sample_corpus(), sample_rejects(), run_id="run-b")
    result = runner.invoke(app, ["report", str(tmp_path / "b"), "--compare", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    page = tmp_path / "b" / "report" / "index.html"
    assert str(page) in result.output
    assert "Changes since run run-a" in page.read_text(encoding="utf-8")


def test_stats_writes_every_table(tmp_path: Path):
    write_run(tmp_path / "a", sample_corpus()[:2], run_id="run-a")
    write_run(tmp_path / "b", sample_corpus(), sample_rejects(), run_id="run-b")
    result = runner.invoke(app, ["stats", str(tmp_path / "b"), "--compare", str(tmp_path / "a"), "--top", "1"])
    assert result.exit_code == 0, result.output
    assert {p.stem for p in (tmp_path / "b" / "stats").glob("*.parquet")} == set(STATS_MODELS)
    assert pl.read_parquet(tmp_path / "b" / "stats" / "top_characters.parquet").height == 1


def test_a_folder_that_is_not_a_run_is_named(tmp_path: Path):
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 1
    assert "manifest.json" in result.output and "not a finished run" in result.output
    result = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "missing" in result.output
