"""The job path for real: a two-node Ray cluster on loopback (`ray start`), `chardial submit`, the output."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from schemas.run import RunManifest
from tests.conftest import REPO

pytestmark = pytest.mark.integration
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def two_node_cluster():
    """`ray start --head` plus a second node joined with `ray start --address`, all on 127.0.0.1."""
    temp_dir = tempfile.mkdtemp(prefix="/tmp/cdr")  # short: Ray's socket paths must fit in 107 bytes
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO)}
    env.pop("RAY_ADDRESS", None)
    gcs, dashboard = free_port(), free_port()
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    head = [str(BIN / "ray"), "start", "--head", f"--port={gcs}", "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}",
            "--include-dashboard=true", f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
            f"--metrics-export-port={free_port()}", f"--temp-dir={temp_dir}", *common]
    worker = [str(BIN / "ray"), "start", f"--address=127.0.0.1:{gcs}", f"--metrics-export-port={free_port()}",
              f"--dashboard-agent-listen-port={free_port()}", *common]
    try:
        subprocess.run(head, env=env, check=True, capture_output=True, text=True, timeout=180)
        subprocess.run(worker, env=env, check=True, capture_output=True, text=True, timeout=180)
        yield {"address": f"http://127.0.0.1:{dashboard}", "gcs": f"127.0.0.1:{gcs}", "env": env}
    finally:
        # Stop only this cluster's processes (never `ray stop`, which would end every Ray on the machine).
        mine = [p for p in psutil.process_iter(["cmdline"]) if any(temp_dir in part or f"127.0.0.1:{gcs}" in part for part in (p.info["cmdline"] or []))]
        for process in mine:
            try:
                process.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(mine, timeout=30)


def test_submit_quickstart_to_a_two_node_cluster(two_node_cluster, tmp_path):
    output = tmp_path / "submitted"
    result = subprocess.run(
        [str(BIN / "chardial"), "submit", "pipelines/quickstart.yaml", "--address", two_node_cluster["address"],
         "--output", str(output), "--working-dir", str(REPO), "--env", "RAY_DATA_DISABLE_PROGRESS_BARS=1"],
        cwd=REPO, env=two_node_cluster["env"], capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCEEDED" in result.stderr
    assert "published run" in result.stdout + result.stderr  # the job's own logs were streamed back
    manifest = RunManifest.model_validate_json((output / "manifest.json").read_text())
    assert manifest.ledger.balanced and (manifest.ledger.output, manifest.ledger.rejected) == (10, 4)
    assert manifest.ray["nodes"] == "2", "the job attached to the submitted-to cluster, not an embedded one"
    assert manifest.ray["address"].rsplit(":", 1)[1] == two_node_cluster["gcs"].rsplit(":", 1)[1]


def test_submit_reports_a_failing_job(two_node_cluster, tmp_path):
    result = subprocess.run(
        [str(BIN / "chardial"), "submit", "pipelines/does-not-exist.yaml", "--address", two_node_cluster["address"],
         "--output", str(tmp_path / "x"), "--working-dir", str(REPO)],
        cwd=REPO, env=two_node_cluster["env"], capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 1
    assert "FAILED" in result.stderr
    assert "does-not-exist.yaml: cannot read pipeline" in result.stdout + result.stderr
    assert not (tmp_path / "x").exists()
