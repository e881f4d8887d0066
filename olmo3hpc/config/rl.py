"""GRPO algorithm knobs (open-instruct grpo_fast semantics at the OLMo 3 run commits)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from olmo3hpc.config.base import ConfigError


@dataclass(frozen=True)
class RLConfig:
    total_episodes: int = 10_000_000
    """Generated samples to train on; steps = total_episodes // (prompts_per_step * samples_per_prompt)."""
    num_epochs: int = 1
    """Passes over each step's batch."""
    num_mini_batches: int = 1
    """Optimizer steps per training step."""
    pack_length: int = 0
    """Tokens per packed learner row; 0 = rollout.max_prompt_length + rollout.response_length."""
    clip_lower: float = 0.2
    """Lower ratio clip (1 - clip_lower)."""
    clip_higher: float = 0.2
    """Upper ratio clip (1 + clip_higher; DAPO clip-higher)."""
    tis_cap: float = 0.0
    """Truncated importance sampling cap against the engines' log-probs (0 = off)."""
    advantage_normalization: Literal["standard", "centered"] = "standard"
    """standard: (r - mean) / (std + 1e-8); centered (Dr. GRPO): r - mean."""
    kl_beta: float = 0.0
    """KL-to-reference coefficient (0 in every OLMo 3 run: no reference model is loaded)."""
    kl_estimator: Literal["k1", "k2", "k3", "k4"] = "k3"
    """KL estimator when kl_beta > 0."""
    filter_zero_std: bool = True
    """Drop groups whose rewards are all equal."""
    active_sampling: bool = False
    """Keep pulling results until prompts_per_step non-filtered groups (needs async_steps > 1)."""
    no_resampling_pass_rate: float | None = None
    """Exclude prompts whose mean score / max score reaches this from later epochs (None = off)."""
    mask_truncated_completions: bool = False
    """Drop samples that did not stop on their own (DAPO overlong filtering)."""
    async_steps: int = 1
    """Generation may run up to this many policy versions ahead of training."""
    inflight_updates: bool = False
    """Load new weights while requests are mid-generation (PipelineRL) instead of draining first."""
    local_eval_every: int = 0
    """Greedy eval on data.eval_mixer_list every N steps (0 = off)."""

    def validate(self) -> None:
        if self.active_sampling and self.async_steps < 2:
            raise ConfigError("rl.active_sampling: needs rl.async_steps > 1 (as in open-instruct)")
        if self.async_steps < 1:
            raise ConfigError("rl.async_steps: must be >= 1")
        if min(self.clip_lower, self.clip_higher, self.tis_cap, self.kl_beta) < 0:
            raise ConfigError("rl: clip ranges, tis_cap and kl_beta must be >= 0")
        if self.no_resampling_pass_rate is not None and not 0 < self.no_resampling_pass_rate <= 1:
            raise ConfigError("rl.no_resampling_pass_rate: must be in (0, 1] or None")
