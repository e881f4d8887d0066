"""smoke_sft as a real 2-node job on the local Slurm: one DeepSpeed learner per node, HF export loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from olmo3hpc.config import SFTRun, plan
from olmo3hpc.engine.metrics import read_metrics
from olmo3hpc.launch.options import LaunchOptions
from olmo3hpc.launch.submit import launch
from slurm_helpers import small_run, wait_job

pytestmark = [pytest.mark.slurm, pytest.mark.slow, pytest.mark.usefixtures("slurm_cluster", "job_env")]
_STEPS = 6


def _two_node_run(root: Path) -> SFTRun:
    """Each local node has 1 CPU: one learner per node, so the two ranks talk gloo across nodes."""
    return small_run(root, "sft2node", **{"placement.cpu_devices_per_node": 1, "train.max_steps": _STEPS,
                                          "train.checkpoint_every": 3, "train.micro_batch_size": 2})


@pytest.mark.timeout(600)
def test_smoke_sft_on_two_slurm_nodes_one_learner_each(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    run = _two_node_run(tmp_path)
    assert [n.learners for n in plan(run).nodes] == [1, 1]
    result = launch(run, LaunchOptions(executor="slurm", quiet=True))
    state = wait_job(result.job_ids[0], 540)
    logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted((result.run_dir / "logs").glob("*.log")))
    assert state == "COMPLETED", f"job {result.job_ids[0]} ended {state}; logs:\n{logs}"
    learners = json.loads((result.run_dir / "placement.json").read_text())["learners"]
    assert sorted(e["node_index"] for e in learners) == [0, 1], learners  # where Ray really ran each rank
    assert len({e["ray_node_id"] for e in learners}) == 2, learners
    assert [r["step"] for r in read_metrics(result.run_dir)] == list(range(1, _STEPS + 1))
    assert (result.run_dir / "checkpoints" / "latest").read_text().strip() == f"step_{_STEPS:08d}"
    model = AutoModelForCausalLM.from_pretrained(result.run_dir / "hf" / "final")
    assert model.config.model_type == "olmo3"
