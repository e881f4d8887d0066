"""Helpers for launcher tests on the local Slurm cluster (submit shapes, wait for states)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import Run, replace_path


def small_run(root: Path, name: str, nodes: int = 2, recipe: str = "smoke_sft", **overrides: object) -> Run:
    """A smoke recipe on `nodes` CPU nodes of 1 CPU each, sized for the 2-core CI machine."""
    run = load_recipe(recipe)
    values = {"meta.output_root": str(root), "meta.name": name, "slurm.nodes": nodes, "slurm.cpus_per_node": 1,
              "slurm.time": "00:10:00", "slurm.signal_delay_s": 30, "slurm.max_requeues": 2,
              "ray.ready_timeout_s": 120.0, "ray.object_store_mb": 80, **overrides}
    for key, value in values.items():
        run = replace_path(run, key, value)
    return run


def slurm_state(job_id: str) -> str:
    q = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True).stdout.strip()
    if q:
        return q
    a = subprocess.run(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State"], capture_output=True, text=True)
    return (a.stdout.strip().split() or ["UNKNOWN"])[0]


def wait_job(job_id: str, timeout_s: float) -> str:
    """Poll until the job left the queue; its final state (sacct) or the last seen one at timeout."""
    deadline = time.monotonic() + timeout_s
    state = "UNKNOWN"
    while time.monotonic() < deadline:
        state = slurm_state(job_id)
        if state not in {"PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "UNKNOWN", "REQUEUE_HOLD"}:
            return state
        time.sleep(0.5)
    return state


def wait_for(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
