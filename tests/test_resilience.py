"""Crashes: a driver killed mid-write publishes nothing; a Ray worker killed mid-run loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from jobs.loadgen import generate
from schemas.run import RunManifest
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def make_inputs(folder: Path, files: int = 4, per_file: int = 400) -> None:
    folder.mkdir(parents=True)
    for i in range(files):
        generate(folder / f"part-{i:03d}.jsonl", per_file, seed=100 + i, duplicate_rate=0.03, bad_rate=0.02, characters=40)


def pipeline(tmp_path: Path, marker: Path | None, on_file: str = "part-003") -> Path:
    pause = f"  - op: 'tests.chaos:PauseOnce'\n    marker_dir: '{marker}'\n    on_file: {on_file}\n" if marker else ""
    text = (
        "name: chaos\nsources: [{op: read.jsonl, paths: [inputs/]}]\noperators:\n"
        "  - op: normalize.text\n" + pause + "  - op: filters.length\n  - op: split.by_character\n"
        "execution: {rows_per_block: 100}\n"
    )
    path = tmp_path / f"p-{'pause' if marker else 'clean'}.yaml"
    path.write_text(text)
    return path


def start(spec: Path, output: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_DATA_DISABLE_PROGRESS_BARS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "jobs.curate", str(spec), "--output", str(output), "--num-cpus", "2", *extra],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def wait_for(predicate, seconds: float, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        if process.poll() is not None:
            raise AssertionError(f"the run ended early:\n{process.stdout.read()}")
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError(f"timed out:\n{process.stdout.read()}")


def finish(process: subprocess.Popen, seconds: float = 300) -> str:
    out, _ = process.communicate(timeout=seconds)
    assert process.returncode == 0, out
    return out


def corpus(output: Path) -> pl.DataFrame:
    return pl.read_parquet(str(output / "corpus" / "*.parquet")).drop("pipeline_run_id").sort("dialogue_id")


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("chaos")
    make_inputs(tmp_path / "inputs")
    output = tmp_path / "clean"
    finish(start(pipeline(tmp_path, None), output))
    return tmp_path, output


def test_driver_killed_mid_write_publishes_nothing_and_rerun_completes(clean_run):
    tmp_path, clean = clean_run
    output = tmp_path / "crashed"
    marker = tmp_path / "marker-driver"
    process = start(pipeline(tmp_path, marker), output)
    staged = lambda: list(tmp_path.glob(".crashed.staging-*/corpus/tmp-*.parquet"))  # noqa: E731
    wait_for(lambda: (marker / "paused").exists() and staged(), 240, process)
    os.killpg(process.pid, signal.SIGKILL)  # the driver and its embedded Ray, mid-run
    process.wait()
    assert not output.exists(), "a killed run must not leave a published output"
    assert list(tmp_path.glob(".crashed.staging-*")), "the staged files stay until the next run cleans them"

    finish(start(pipeline(tmp_path, marker), output))  # the marker exists: no pause this time
    manifest = RunManifest.model_validate_json((output / "manifest.json").read_text())
    assert manifest.ledger.balanced
    assert corpus(output).equals(corpus(clean))
    assert not list(tmp_path.glob(".crashed.staging-*")), "the dead run's staging folder was cleaned"


def test_ray_worker_sigkill_mid_run_is_retried_without_loss(clean_run):
    tmp_path, clean = clean_run
    output = tmp_path / "worker-killed"
    marker = tmp_path / "marker-worker"
    process = start(pipeline(tmp_path, marker), output)
    wait_for(lambda: (marker / "paused").exists(), 240, process)
    worker = int((marker / "paused").read_text())
    assert worker != process.pid
    os.kill(worker, signal.SIGKILL)
    finish(process)
    manifest = RunManifest.model_validate_json((output / "manifest.json").read_text())
    clean_manifest = RunManifest.model_validate_json((clean / "manifest.json").read_text())
    assert manifest.ledger.balanced
    assert (manifest.ledger.input, manifest.ledger.output, manifest.ledger.rejected) == (
        clean_manifest.ledger.input, clean_manifest.ledger.output, clean_manifest.ledger.rejected)
    assert corpus(output).equals(corpus(clean))
    rejects = lambda d: pl.read_parquet(str(d / "rejects" / "*.parquet")).drop("pipeline_run_id").sort("input_file", "input_line")  # noqa: E731
    assert rejects(output).drop("input_file").equals(rejects(clean).drop("input_file"))
