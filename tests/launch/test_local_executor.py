"""Without Slurm the same job runs on this machine: one task per planned node, a real Ray cluster."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import replace_path
from olmo3hpc.launch.jobs import status
from olmo3hpc.launch.options import LaunchOptions
from olmo3hpc.launch.submit import launch

HERE = Path(__file__).resolve().parent


@pytest.mark.slow
def test_local_executor_runs_a_two_node_ray_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), str(HERE.parents[1])]))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    run = load_recipe("smoke_sft")
    for key, value in {"meta.output_root": str(tmp_path), "meta.name": "local2", "slurm.nodes": 2,
                       "slurm.time": "00:10:00", "slurm.signal_delay_s": 30, "ray.object_store_mb": 80}.items():
        run = replace_path(run, key, value)
    result = launch(run, LaunchOptions(executor="local", driver="launch_drivers:actors", quiet=True))
    assert result.executor == "local" and result.job_ids
    pid = int(result.job_ids[0])
    os.waitpid(pid, 0)  # the local controller is our child: wait for it, bounded by pytest's timeout
    report = status(str(result.run_dir))
    assert report.jobs[0].state == "COMPLETED", str(report)
    out = json.loads((result.run_dir / "driver_result.json").read_text())
    assert out["ray_nodes"] == 2 and sorted(r["node_index"] for r in out["reports"]) == ["0", "1"]
