"""Learner idle fraction of GRPO with async_steps 1 ("no pipeline", drained updates) vs 8 ("pipeline",
in-flight updates), both measured in this run on the smoke_rl setup (random tiny Olmo3, CPU).

    python bench/rl_async.py [--steps 10] [--response-length 4]

Idle fraction = the share of a step the learners do no training: waiting for rollouts or for the
weight sync (driver metric `learner_idle_fraction`), averaged over the steps after the first (the
first always waits for a cold batch). The figure is idle(async 8) / idle(async 1); the loop time
of both is printed too. The default response length is the smoke recipe's 4 tokens: measured here,
a step's generation then takes about as long as its training, the regime where pipelining can
remove waiting (at 24 tokens generation took ~3.5x the training time, so the learner waits at any
async depth).

On one CPU machine the engine and the learner share the same cores: training slows down whenever
generation runs beside it, so the idle fraction there barely moves even when the loop gets faster
(measured on the shared 2-core dev machine: idle ratio 0.97x-1.1x over three runs, loop speed-up
0.86x-1.8x, i.e. noise). The idle-fraction gain needs engines on their own devices.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def measure(async_steps: int, inflight: bool, steps: int, response_length: int, root: str) -> tuple[float, float]:
    """(mean idle fraction after step 1, wall seconds of the training loop)."""
    from olmo3hpc.catalog import load_recipe
    from olmo3hpc.config import replace_path
    from olmo3hpc.engine.metrics import read_metrics
    from olmo3hpc.stages.rl import train

    run = load_recipe("smoke_rl")
    overrides = {
        "meta.output_root": root, "meta.name": f"async{async_steps}", "rl.async_steps": async_steps,
        "rl.inflight_updates": inflight, "rl.local_eval_every": 0, "train.checkpoint_every": 0,
        "rollout.response_length": response_length, "rl.pack_length": 96 + response_length,
        "rl.total_episodes": run.rollout.samples_per_step * steps,
    }
    for path, value in overrides.items():
        run = replace_path(run, path, value)
    start = time.perf_counter()
    train(run)
    wall = time.perf_counter() - start
    records = read_metrics(run.meta.run_dir)
    idle = [r["learner_idle_fraction"] for r in records if r["step"] > 1]
    loop = sum(r["step_time_s"] for r in records)
    return statistics.mean(idle), loop if loop else wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--response-length", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rl_async") as root:
        base_idle, base_loop = measure(1, False, args.steps, args.response_length, root)
        fast_idle, fast_loop = measure(8, True, args.steps, args.response_length, root)
    print(f"async_steps 1 (drained): learner idle {base_idle:.3f}, loop {base_loop:.1f} s over {args.steps} steps")
    print(f"async_steps 8 (in-flight): learner idle {fast_idle:.3f}, loop {fast_loop:.1f} s over {args.steps} steps")
    ratio = fast_idle / base_idle if base_idle > 0 else float("nan")
    print(f"loop speed-up async 8 vs 1: {base_loop / fast_loop:.2f}x")
    print(f"figure: learner idle fraction at async_steps 8 / at async_steps 1 = {fast_idle:.3f} / {base_idle:.3f}")
    print(f"rl_async: {ratio:.2f}x (goal < 0.5x)")


if __name__ == "__main__":
    main()
