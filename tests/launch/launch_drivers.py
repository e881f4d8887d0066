"""Stage-like drivers the launcher tests run on the Ray head (`LaunchOptions.driver`).

They obey the same contract as a stage: connect to RAY_ADDRESS, honour the preemption flag at
step boundaries, checkpoint atomically in the run directory, exit REQUEUE_EXIT_CODE to requeue.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from olmo3hpc.engine import preempt

STEPS = int(os.environ.get("OLMO3HPC_TEST_STEPS", "12"))


def _run_dir(run) -> Path:
    return Path(run.meta.run_dir).absolute()


def actors(run) -> int:
    """One actor pinned on each planned node through its `node:<k>` resource."""
    import ray

    ray.init(address=os.environ["RAY_ADDRESS"], include_dashboard=False, logging_level="ERROR")

    @ray.remote(num_cpus=0)
    class Where:
        def report(self) -> dict:
            return {"node_index": os.environ.get("OLMO3HPC_NODE_INDEX"), "node_id": ray.get_runtime_context().get_node_id(),
                    "slurm_vars": sorted(k for k in os.environ if k.startswith("SLURM_")),
                    "hf_token_visible": bool(os.environ.get("HF_TOKEN"))}

    n = run.slurm.nodes
    handles = [Where.options(resources={f"node:{k}": 1}).remote() for k in range(n)]
    reports = ray.get([h.report.remote() for h in handles], timeout=120)
    alive = [x for x in ray.nodes() if x["Alive"]]
    hold = float(os.environ.get("OLMO3HPC_TEST_HOLD_S", "0"))
    result = {"ray_nodes": len(alive), "reports": reports, "address": os.environ["RAY_ADDRESS"],
              "driver_hf_token_visible": bool(os.environ.get("HF_TOKEN")),
              "wandb_run_id": os.environ.get("WANDB_RUN_ID")}
    index = os.environ.get("OLMO3HPC_ARRAY_INDEX")
    result["array_index"] = index
    name = "driver_result.json" if index is None else f"driver_result_{index}.json"
    (_run_dir(run) / name).write_text(json.dumps(result))
    if hold:  # keep the cluster busy (tests kill a worker during this window)
        deadline = time.time() + hold
        while time.time() < deadline:
            ray.get([h.report.remote() for h in handles], timeout=30)
            time.sleep(0.5)
    ray.shutdown()
    return 0


def counter(run) -> int:
    """A deterministic 'training' run: state_{t+1} = f(state_t, t); checkpoint every 3 steps."""
    preempt.install()
    run_dir = _run_dir(run)
    step, value = _resume(run_dir)
    metrics = run_dir / "metrics.jsonl"
    step_s = float(os.environ.get("OLMO3HPC_TEST_STEP_S", "0.5"))
    while step < STEPS:
        value = (value * 31 + step + 7) % 1_000_003
        step += 1
        time.sleep(step_s)  # stands in for the step's compute
        with metrics.open("a") as f:
            f.write(json.dumps({"step": step, "time": time.time(), "value": float(value),
                                "wandb_run_id": os.environ.get("WANDB_RUN_ID"),
                                "restart": int(os.environ.get("OLMO3HPC_RESTART", "0"))}) + "\n")
        if step % 3 == 0 or preempt.requested():
            _checkpoint(run_dir, step, value)
        if preempt.requested():
            print(f"preempted at step {step}: checkpointed, asking for requeue", flush=True)
            sys.exit(preempt.REQUEUE_EXIT_CODE)
    (run_dir / "final.json").write_text(json.dumps({"step": step, "value": value}))
    return 0


def _checkpoint(run_dir: Path, step: int, value: int) -> None:
    ckpt = run_dir / "checkpoints" / f"step_{step:08d}"
    ckpt.mkdir(parents=True, exist_ok=True)
    (ckpt / "trainer_state.json").write_text(json.dumps({"step": step, "value": value}))
    latest = run_dir / "checkpoints" / ".latest.tmp"
    latest.write_text(ckpt.name)
    os.replace(latest, run_dir / "checkpoints" / "latest")


def _resume(run_dir: Path) -> tuple[int, int]:
    latest = run_dir / "checkpoints" / "latest"
    if not latest.exists():
        return 0, 1
    state = json.loads((run_dir / "checkpoints" / latest.read_text().strip() / "trainer_state.json").read_text())
    print(f"resuming from step {state['step']}", flush=True)
    return state["step"], state["value"]


def expected_counter(steps: int = STEPS) -> dict:
    value = 1
    for step in range(steps):
        value = (value * 31 + step + 7) % 1_000_003
    return {"step": steps, "value": value}
