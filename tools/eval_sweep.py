#!/usr/bin/env python
"""Evaluate every checkpoint of a run on a benchmark suite as a Slurm job array (= `olmo3hpc eval-sweep`).

    tools/eval_sweep.py --checkpoints runs/my_rl --suite sample [--gpus 1] [--engine vllm]
    tools/eval_sweep.py --checkpoints 'runs/*/hf/final' --suite math --output eval/finals
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # usable from a checkout without installing

import tyro  # noqa: E402

from olmo3hpc.tools.eval_sweep import EvalSweepArgs, eval_sweep  # noqa: E402

if __name__ == "__main__":
    outcome = eval_sweep(tyro.cli(EvalSweepArgs))
    print(f"{outcome.finished}/{outcome.total} cells finished ({outcome.submitted} submitted now): "
          f"{outcome.sweep_dir / 'results.md'}")
