"""`chardial quality train` / `eval` on a real labelled Parquet file."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from jobs.cli_quality import app
from tests.operators.quality.labelled import labelled_table

runner = CliRunner()


@pytest.fixture
def labelled_parquet(tmp_path: Path) -> Path:
    path = tmp_path / "labels" / "part-0.parquet"
    path.parent.mkdir()
    pq.write_table(labelled_table(500), path)
    return path


def test_train_then_eval(labelled_parquet: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "qc"
    result = runner.invoke(app, ["train", str(labelled_parquet), "--out", str(model_dir), "--dimension", "overall"])
    assert result.exit_code == 0, result.output
    assert "500 labelled dialogue(s) from 1 file(s)" in result.output and "held-out agreement" in result.output
    info = json.loads((model_dir / "model.json").read_text())
    assert info["dimensions"] == ["overall"] and len(info["training_data"]["hash"]) == 64
    assert info["version"] in result.output

    report = tmp_path / "agreement.json"
    result = runner.invoke(app, ["eval", str(model_dir), str(labelled_parquet), "--json", str(report)])
    assert result.exit_code == 0, result.output
    agreement = json.loads(report.read_text())
    assert agreement["model"] == info["version"] and agreement["agreement"]["overall"]["n"] == 500
    assert agreement["agreement"]["overall"]["spearman"] > 0.6


def test_errors_name_the_path(tmp_path: Path) -> None:
    result = runner.invoke(app, ["train", str(tmp_path / "missing.parquet"), "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "missing.parquet: no such file or folder" in result.output
    result = runner.invoke(app, ["eval", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 2 and "not a quality model folder" in result.output
    result = runner.invoke(app, ["train", str(tmp_path), "--out", str(tmp_path / "m"), "--dimension", "charm"])
    assert result.exit_code == 2 and "unknown ['charm']" in result.output
