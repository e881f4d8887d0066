"""Data preparation of one training step: scored prompt groups -> training samples + step metrics.

A group is one prompt's `samples_per_prompt` completions with their rewards. Groups are judged
(zero-std filtering, all-zero / all-solved counts), advantages are computed per group, truncated
completions are optionally masked out afterwards (DAPO overlong filtering), and the step's rollout
metrics are summarised. Pure: no Ray, no model.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from olmo3hpc.config import RLRun
from olmo3hpc.stages.rl.advantages import GroupVerdict, group_advantages, judge_group
from olmo3hpc.stages.rl.batch import Sample as TrainSample
from olmo3hpc.stages.rl.engines import Sample as EngineSample


@dataclass(frozen=True)
class ScoredGroup:
    prompt_index: int
    prompt_ids: list[int]
    samples: list[EngineSample]
    rewards: np.ndarray
    verdict: GroupVerdict
    submitted_version: int
    """Policy version when the prompt was queued (the async bound is enforced on it)."""


def score_group(prompt_index: int, prompt_ids: list[int], samples: list[EngineSample], rewards: list[float],
                submitted_version: int, run: RLRun) -> ScoredGroup:
    arr = np.asarray(rewards, dtype=np.float64)
    verdict = judge_group(arr, run.reward.verification_reward, run.rl.filter_zero_std)
    return ScoredGroup(prompt_index, list(prompt_ids), samples, arr, verdict, submitted_version)


def training_samples(groups: list[ScoredGroup], run: RLRun) -> tuple[list[TrainSample], int]:
    """Samples with their group advantages; also the count of truncated samples masked out."""
    out: list[TrainSample] = []
    masked = 0
    for group in groups:
        advantages = group_advantages(group.rewards, run.rl.advantage_normalization)
        for sample, adv in zip(group.samples, advantages):
            if run.rl.mask_truncated_completions and sample.finish_reason != "stop":
                masked += 1
                continue
            if not sample.token_ids:
                continue  # nothing to train on (an engine may return an empty completion)
            out.append(TrainSample(group.prompt_ids, list(sample.token_ids), list(sample.logprobs), float(adv)))
    return out, masked


def rollout_metrics(seen: list[ScoredGroup], kept: list[ScoredGroup], step: int) -> dict[str, float]:
    """Reward, filtering, length and staleness figures of the groups a step saw and trained on."""
    rewards = np.concatenate([g.rewards for g in seen]) if seen else np.zeros(0)
    kinds = Counter(g.verdict.kind for g in seen)
    lengths = [len(s.token_ids) for g in seen for s in g.samples]
    truncated = sum(s.finish_reason != "stop" for g in seen for s in g.samples)
    starts = [s.version_start for g in kept for s in g.samples if s.version_start >= 0]
    return {
        "reward_mean": float(rewards.mean()) if rewards.size else 0.0,
        "reward_std": float(rewards.std()) if rewards.size else 0.0,
        "groups_seen": float(len(seen)),
        "groups_trained": float(len(kept)),
        "groups_filtered": float(sum(not g.verdict.keep for g in seen)),
        "groups_all_zero": float(kinds["all_zero"]),
        "groups_all_solved": float(kinds["all_solved"]),
        "groups_all_equal": float(kinds["all_equal"]),
        "response_length_mean": float(np.mean(lengths)) if lengths else 0.0,
        "response_length_max": float(max(lengths)) if lengths else 0.0,
        "truncated_fraction": truncated / len(lengths) if lengths else 0.0,
        "staleness_max": float(step - min(starts)) if starts else 0.0,
        "staleness_mean": float(step - np.mean(starts)) if starts else 0.0,
        "staleness_submitted_max": float(max((step - g.submitted_version for g in kept), default=0)),
    }

