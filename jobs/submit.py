"""Submit a pipeline to a Ray cluster as a Ray job, stream its logs, return its final status."""

from __future__ import annotations

import asyncio
import shlex
import sys
from pathlib import Path

# Never upload environments, outputs or VCS data with the working dir (Ray also honours .gitignore).
UPLOAD_EXCLUDES = [".venv/", ".git/", "out/", "test-artifacts/", "**/__pycache__/", "*.parquet"]


def submit(
    pipeline: str,
    output: str,
    address: str,
    working_dir: Path,
    *,
    overwrite: bool = False,
    env: dict[str, str] | None = None,
    submission_id: str | None = None,
    wait: bool = True,
    stream=sys.stdout,
) -> tuple[str, str]:
    """Submit `python -m jobs.curate PIPELINE --output OUTPUT` with the working dir uploaded.

    Returns (submission id, final status name). PIPELINE is relative to the working dir; OUTPUT is a path
    on the cluster (shared storage on a multi-node cluster).
    """
    from ray.job_submission import JobStatus, JobSubmissionClient

    client = JobSubmissionClient(address)
    entrypoint = ["python", "-m", "jobs.curate", pipeline, "--output", output]
    if overwrite:
        entrypoint.append("--overwrite")
    runtime_env = {"working_dir": str(working_dir), "excludes": UPLOAD_EXCLUDES, "env_vars": dict(env or {})}
    job_id = client.submit_job(entrypoint=shlex.join(entrypoint), runtime_env=runtime_env, submission_id=submission_id)
    print(f"submitted {job_id} to {address}", file=sys.stderr)
    if not wait:
        return job_id, "PENDING"

    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            stream.write(chunk)
            stream.flush()

    asyncio.run(tail())
    status = client.get_job_status(job_id)
    while status not in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED):
        import time

        time.sleep(0.5)
        status = client.get_job_status(job_id)
    return job_id, status.name if hasattr(status, "name") else str(status)
