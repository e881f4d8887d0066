"""Suite-wide fixtures: the real local Slurm cluster (slurm/local/up.sh) and the environment its jobs inherit."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UP = REPO / "slurm" / "local" / "up.sh"
LAUNCH_TESTS = REPO / "tests" / "launch"  # test drivers (launch_drivers.py) the jobs import


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Ensure the local 2-node cluster is up: up.sh is idempotent (~0.1 s when it already is) and
    repairs a half-up cluster. Never touches a Slurm that is not the local test cluster."""
    if shutil.which("sinfo") is None:
        pytest.skip("no Slurm here: `sinfo` is not on PATH (CI runs slurm/local/up.sh as root first)")
    conf = Path("/etc/slurm/slurm.conf")
    if conf.exists() and "ClusterName=localci" not in conf.read_text():
        pytest.skip(f"the Slurm configured in {conf} is not the local test cluster (ClusterName=localci)")
    proc = subprocess.run(["bash", str(UP)], capture_output=True, text=True, timeout=600)
    if proc.returncode:
        pytest.fail(f"slurm/local/up.sh failed:\n{proc.stdout}\n{proc.stderr}")


@pytest.fixture
def job_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The submitting environment the jobs inherit: test drivers importable, Ray auth explicit."""
    path = [str(LAUNCH_TESTS), str(REPO), os.environ.get("PYTHONPATH")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, path)))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
