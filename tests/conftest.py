"""Shared fixtures: one small real Ray cluster per test session, paths to bundled and shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
# Tests never reach a real LLM endpoint a developer may have configured; LLM tests start a loopback server.
for _name in ("CHARDIAL_LLM_BASE_URL", "OPENAI_BASE_URL", "CHARDIAL_LLM_API_KEY", "OPENAI_API_KEY"):
    os.environ.pop(_name, None)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("CHARACTERDIAL_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray cluster (2 CPUs, small object store), shared by every test that needs one."""
    import ray

    if not ray.is_initialized():
        ray.init(
            address="local",
            num_cpus=2,
            object_store_memory=512 * 1024**2,
            include_dashboard=False,
            log_to_driver=False,
            runtime_env={"env_vars": {"RAY_AUTH_MODE": "disabled"}},
        )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set CHARACTERDIAL_SHARED_DATA)")
    return SHARED_DATA
