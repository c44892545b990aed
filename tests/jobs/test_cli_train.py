"""The `export` and `train` commands, driven through typer's runner."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
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
    qwen = load_config(CONFIGS / "sft-qwen2.5-7b-gpu.yaml", "sft")
    assert (qwen.model.path, qwen.scaling.use_gpu, qwen.lora.r) == ("Qwen/Qwen2.5-7B-Instruct", True, 64)
    assert load_config(CONFIGS / "dpo-qwen2.5-7b-gpu.yaml", "dpo").args["beta"] == 0.1


def test_shipped_configs_use_only_real_trainer_arguments():
    pytest.importorskip("trl", reason="needs the train extra (trl) to know its arguments")
    from jobs.train import check_trainer_args
    from jobs.train_config import load_config

    for path in sorted(CONFIGS.glob("*.yaml")):
        config = load_config(path)
        check_trainer_args(config.kind, config.args)


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


@pytest.fixture(scope="module")
def job_cluster():
    """A private one-node Ray cluster with a dashboard (the Jobs server), on loopback and free ports.

    `ray start --block` in the foreground: terminating that one process shuts down everything it started,
    without `ray stop`, which would stop every Ray instance of this user on the machine.
    """
    pytest.importorskip("ray.dashboard", reason="job submission needs ray[default] (the dashboard)")
    port, dashboard, agent, agent_grpc, metrics, client, runtime_env = _free_ports(7)
    temp_dir = tempfile.mkdtemp(prefix="rtj", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = os.environ | {"RAY_AUTH_MODE": "disabled", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
               f"--port={port}", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", f"--dashboard-agent-listen-port={agent}",
               f"--dashboard-agent-grpc-port={agent_grpc}", f"--metrics-export-port={metrics}", f"--ray-client-server-port={client}",
               f"--runtime-env-agent-port={runtime_env}", "--num-cpus=1", f"--temp-dir={temp_dir}", "--include-dashboard=true"]  # fmt: skip
    head = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"http://127.0.0.1:{dashboard}"
    try:
        from ray.job_submission import JobSubmissionClient

        deadline = time.monotonic() + 120
        while True:  # the Jobs API answers once the dashboard and its agent are up
            try:
                JobSubmissionClient(address).list_jobs()
                break
            except Exception:
                if time.monotonic() > deadline or head.poll() is not None:
                    raise
                time.sleep(2)
        yield address
    finally:
        head.terminate()
        head.wait(timeout=60)
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.integration
def test_train_submit_runs_the_job_on_the_cluster_and_exits_with_its_status(job_cluster, tmp_path):
    result = runner.invoke(
        app,
        ["train", "sft", "--config", str(CONFIGS / "sft-tiny-cpu.yaml"), "--data", str(tmp_path / "none"), "--output", str(tmp_path / "run"),
         "--submit", job_cluster, "--follow"],
    )  # fmt: skip
    # The job ran `python -m jobs.train` on the cluster, which refused the missing export; --follow relays it.
    assert result.exit_code == 1, result.output
    assert "python -m jobs.train sft --config jobs/configs/sft-tiny-cpu.yaml" in result.output
    assert "no train.parquet" in result.output and "failed" in result.output
