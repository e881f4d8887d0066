"""Group advantages, zero-std filtering and the no-resampling rule (pure numpy, per prompt group).

One group = the `samples_per_prompt` completions of one prompt, with their summed verifier rewards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

Normalization = Literal["standard", "centered"]
_STD_EPS = 1e-8


def group_advantages(rewards: np.ndarray, mode: Normalization) -> np.ndarray:
    """Advantages of one group: standard (r - mean) / (std + 1e-8), or centered (Dr. GRPO) r - mean.

    The std is the population std of the group (numpy's default, as open-instruct computes it).
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    centered = rewards - rewards.mean()
    if mode == "centered":
        return centered
    if mode == "standard":
        return centered / (rewards.std() + _STD_EPS)
    raise ValueError(f"rl.advantage_normalization: unknown mode {mode!r}; use standard or centered")


@dataclass(frozen=True)
class GroupVerdict:
    """What the data-preparation step decides about one group."""

    keep: bool
    """False when the group is filtered (all rewards equal, filtering on)."""
    kind: Literal["mixed", "all_zero", "all_solved", "all_equal"]
    """mixed = rewards differ; all_zero / all_solved / all_equal = the constant-reward cases."""
    pass_rate: float
    """Mean reward / max possible reward (the no-resampling criterion)."""


def judge_group(rewards: np.ndarray, max_reward: float, filter_zero_std: bool) -> GroupVerdict:
    """Classify a group by its rewards and decide whether it trains."""
    rewards = np.asarray(rewards, dtype=np.float64)
    pass_rate = float(rewards.mean() / max_reward) if max_reward > 0 else 0.0
    if rewards.size and np.all(rewards == rewards[0]):
        if rewards[0] == 0:
            kind = "all_zero"
        elif rewards[0] >= max_reward:
            kind = "all_solved"
        else:
            kind = "all_equal"
        return GroupVerdict(keep=not filter_zero_std, kind=kind, pass_rate=pass_rate)
    return GroupVerdict(keep=True, kind="mixed", pass_rate=pass_rate)


def should_exclude(pass_rate: float, threshold: float | None) -> bool:
    """No-resampling: a prompt solved at least this often leaves the sampler from the next epoch on."""
    return threshold is not None and pass_rate >= threshold
