"""The `export` and `train` commands, driven through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from jobs.cli_train import app
from tests.jobs.corpus_fixtures import standard_corpus

runner = CliRunner()
CONFIGS = Path(__file__).resolve().parents[2] / "jobs" / "configs"


def test_every_command_has_help():
    for command in (["export", "sft"], ["export", "dpo"], ["train", "sft"], ["train", "dpo"]):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.output


def test_export_sft_and_dpo_write_the_files_and_print_the_counts(tmp_path):
    corpus = standard_corpus(tmp_path / "run")
    result = runner.invoke(app, ["export", "sft", str(corpus), "--out", str(tmp_path / "sft")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "sft" / "export.json").read_text())["rows"] == {"train": 12, "validation": 8}
    result = runner.invoke(app, ["export", "dpo", str(corpus), "--out", str(tmp_path / "dpo"), "--unassigned", "error"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dpo" / "train.parquet").is_file()


def test_export_errors_are_one_clear_line_and_exit_code_2(tmp_path):
    result = runner.invoke(app, ["export", "sft", str(tmp_path / "missing"), "--out", str(tmp_path / "sft")])
    assert result.exit_code == 2
    assert "no corpus/*.parquet found" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["export", "sft", str(tmp_path), "--out", str(tmp_path / "sft"), "--unassigned", "maybe"])
    assert result.exit_code == 2 and "--unassigned must be train, skip or error" in result.output


def test_train_refuses_a_bad_config_or_a_missing_start_before_starting_ray(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("kind: sft\nmodel: {path: a, tiny: {}}\nargs: {output_dir: x}\n", encoding="utf-8")
    result = runner.invoke(app, ["train", "sft", "--config", str(config), "--data", str(tmp_path), "--output", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "bad.yaml: model: Value error, give exactly one of model.path, model.run, model.tiny (got path, tiny)" in result.output

    result = runner.invoke(
        app, ["train", "sft", "--config", str(CONFIGS / "dpo-tiny-cpu.yaml"), "--data", str(tmp_path), "--output", str(tmp_path / "run")]
    )
    assert result.exit_code == 2 and "this is a dpo config, not sft" in result.output

    result = runner.invoke(
        app, ["train", "dpo", "--config", str(CONFIGS / "dpo-tiny-cpu.yaml"), "--data", str(tmp_path), "--output", str(tmp_path / "run")]
    )
    assert result.exit_code == 2 and "no starting model" in result.output and "--init-from" in result.output


def test_shipped_configs_validate():
    from jobs.train_config import load_config

    assert load_config(CONFIGS / "sft-tiny-cpu.yaml", "sft").model.tiny is not None
    assert load_config(CONFIGS / "dpo-tiny-cpu.yaml", "dpo").model is None
