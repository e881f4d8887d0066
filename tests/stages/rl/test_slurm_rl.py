"""smoke_rl as a real 2-node job on the local Slurm: the learner on one node, the engine on the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from olmo3hpc.config import RLRun, plan, replace_path
from olmo3hpc.engine.metrics import read_metrics
from olmo3hpc.launch.options import LaunchOptions
from olmo3hpc.launch.runlog import read_events
from olmo3hpc.launch.submit import launch
from olmo3hpc.engine import placement
from slurm_helpers import small_run, wait_job

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.usefixtures("slurm_cluster", "job_env")]
_STEPS = 3


def _two_node_run(root: Path) -> RLRun:
    """Node 0 (the Ray head, where the driver runs) hosts the learner; node 1 the engine."""
    run = small_run(root, "rl2node", recipe="smoke_rl", **{
        "placement.cpu_devices_per_node": 1, "placement.learners_per_node": (1, 0), "rollout.prompts_per_step": 4,
        "rollout.samples_per_prompt": 4, "rl.local_eval_every": 0, "train.checkpoint_every": 0})
    return replace_path(run, "rl.total_episodes", run.rollout.samples_per_step * _STEPS)


@pytest.mark.timeout(600)
def test_smoke_rl_on_two_slurm_nodes_engines_apart_from_learners(tmp_path: Path) -> None:
    run = _two_node_run(tmp_path)
    assert [(n.learners, n.engines) for n in plan(run).nodes] == [(1, ()), (0, (0,))]
    result = launch(run, LaunchOptions(executor="slurm", quiet=True))
    state = wait_job(result.job_ids[0], 540)
    logs = "\n".join(f.read_text(errors="replace")[-3000:] for f in sorted((result.run_dir / "logs").glob("*.log")))
    assert state == "COMPLETED", f"job {result.job_ids[0]} ended {state}; logs:\n{logs}"
    where = placement.read(result.run_dir)
    learner_nodes = {e["node_index"] for e in where["learners"]}
    engine_nodes = {e["node_index"] for e in where["engines"]}
    assert learner_nodes == {0} and engine_nodes == {1}, where
    assert {e["ray_node_id"] for e in where["learners"]}.isdisjoint(e["ray_node_id"] for e in where["engines"])
    hosts = {e["node"]: e["host"] for e in read_events(result.run_dir) if e["event"] == "node_start"}
    assert hosts[0] != hosts[1], hosts  # node 0 and node 1 were different Slurm nodes
    assert [r["step"] for r in read_metrics(result.run_dir)] == list(range(1, _STEPS + 1))
    assert (result.run_dir / "hf" / "final" / "model.safetensors").is_file()
