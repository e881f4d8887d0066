"""Learner idle fraction of GRPO with async_steps 1 ("no pipeline", drained updates) vs 8 ("pipeline",
in-flight updates), both measured in this run on the smoke_rl setup (random tiny Olmo3, CPU).

    python bench/rl_async.py [--steps 10] [--response-length 4 32]

Idle fraction = the share of a step the learners do no training: waiting for rollouts or for the
weight sync (driver metric `learner_idle_fraction`), averaged over the steps after the first (the
first always waits for a cold batch). Every step trains (zero-std filtering off: the random model's
groups are nearly all zero-reward, and a skipped update would leave the learner nothing to do).

The learner and the engine each run on their own CPU device (placement.cpu_devices_per_node 2: one
core each on a 2-core machine), as they would on separate GPUs. Expect little gain from depth 8 in a
steady state: async_steps 1 already generates step n+1 while step n trains, so a training-bound loop
hides generation at depth 1, and a generation-bound loop waits at any depth. Depth (with in-flight
updates) pays off when generation time varies from step to step (long-tail responses of a real
policy), which fixed-length random-model rollouts do not have. The driver collects and scores the
rollouts that finish while the learners train (stages/rl/driver.py `_learn_while_scoring`); before it
did, the learner waited ~0.08 s per step at any depth for the driver to score 256 samples (idle 0.088).
Measured on the 2-core dev machine (idle async 1 -> async 8): 4 tokens 0.021 -> 0.021 (wait 0.01 s,
train 1.0-1.1 s per step); 32 tokens 0.23 -> 0.17 (wait 0.32 -> 0.28 s, train 1.2-1.6 s); run-to-run
noise on this shared machine is about +-0.05.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(async_steps: int, inflight: bool, steps: int, response_length: int, root: str) -> dict[str, float]:
    """Means over the steps after the first: idle fraction, rollout wait, training, sync and step seconds."""
    from olmo3hpc.catalog import load_recipe
    from olmo3hpc.config import replace_path
    from olmo3hpc.engine.metrics import read_metrics
    from olmo3hpc.stages.rl import train

    run = load_recipe("smoke_rl")
    overrides = {
        "meta.output_root": root, "meta.name": f"async{async_steps}_len{response_length}", "rl.async_steps": async_steps,
        "rl.inflight_updates": inflight, "rl.local_eval_every": 0, "train.checkpoint_every": 0,
        "rollout.response_length": response_length, "rl.pack_length": 96 + response_length,
        "rl.filter_zero_std": False,
        "rl.total_episodes": run.rollout.samples_per_step * steps,
    }
    for path, value in overrides.items():
        run = replace_path(run, path, value)
    train(run)
    later = [r for r in read_metrics(run.meta.run_dir) if r["step"] > 1]
    keys = ("learner_idle_fraction", "time_rollout_wait_s", "time_train_s", "time_weight_sync_s", "step_time_s")
    return {k: statistics.mean(r[k] for r in later) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--response-length", type=int, nargs="+", default=[4, 32])
    args = parser.parse_args()
    ratios = []
    with tempfile.TemporaryDirectory(prefix="rl_async") as root:
        for length in args.response_length:
            base = measure(1, False, args.steps, length, root)
            deep = measure(8, True, args.steps, length, root)
            for name, m in (("async_steps 1 (drained)  ", base), ("async_steps 8 (in-flight)", deep)):
                print(f"{length:3d} tokens, {name}: learner idle {m['learner_idle_fraction']:.3f} (wait "
                      f"{m['time_rollout_wait_s']:.2f} s, train {m['time_train_s']:.2f} s, sync "
                      f"{m['time_weight_sync_s']:.2f} s; step {m['step_time_s']:.2f} s)")
            ratios.append(f"{deep['learner_idle_fraction'] / base['learner_idle_fraction']:.2f}x at {length} tokens")
    print(f"rl_async: learner idle fraction async 8 / async 1 = {', '.join(ratios)}")


if __name__ == "__main__":
    main()
