"""Learning-rate schedule: linear warmup, then linear / cosine decay to `final_lr_ratio`, or constant.

API: lr_at(optim_cfg, step, total_steps) -> float. `step` is the 0-based index of the optimizer step
about to run, so step 0 of a warmup of W steps uses lr/W (OLMo-core LinearWithWarmup; never lr 0).
"""

from __future__ import annotations

import math

from olmo3hpc.config import OptimConfig


def lr_at(optim: OptimConfig, step: int, total_steps: int) -> float:
    """Learning rate of 0-based optimizer step `step` out of `total_steps`."""
    warmup = optim.warmup_for(total_steps)
    if step < warmup:
        return optim.lr * (step + 1) / warmup
    if optim.schedule == "constant":
        return optim.lr
    final = optim.lr * optim.final_lr_ratio
    span = max(total_steps - warmup, 1)
    progress = min(max(step - warmup, 0) / span, 1.0)
    if optim.schedule == "cosine":
        return final + (optim.lr - final) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return optim.lr + (final - optim.lr) * progress
