"""GRPO reinforcement learning stage: `train(run)` runs the driver on the Ray head (see driver.py)."""

from __future__ import annotations

from typing import Any


def train(run: Any) -> None:
    """olmo3hpc.stages.rl.driver.train, imported on call so `stages.rl.engines` etc. import light."""
    from olmo3hpc.stages.rl.driver import train as _train

    _train(run)


__all__ = ["train"]
