"""Rewards of prompt groups through the reward package (routing by each row's `dataset` field).

reward = sum over the row's (verifier, label) pairs of verification_reward x score (open-instruct
`apply_verifiable_reward`). The reward package's `RewardScorer` runs verifiers beside the driver; a
verifier that raises or overruns `reward.verifier_timeout_s` scores 0 for that sample, logged with the
sample id, and the run continues. The code service / LLM judge are started only when the prompts'
verifiers need them, and stopped with the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

from olmo3hpc.config import RLRun
from olmo3hpc.data.prompts import Prompt
from olmo3hpc.rewards.registry import Sample, SampleReward
from olmo3hpc.rewards.services import RewardServices, needed_services


class GroupScorer:
    def __init__(self, run: RLRun, prompts: Sequence[Prompt] = ()) -> None:
        names = {name for prompt in prompts for name in prompt.dataset}
        self.services = RewardServices(run.reward)
        self.services.start(*needed_services(names, run.reward.remap))
        self.scorer = self.services.scorer()
        self.failures = 0
        """Samples with a verifier that raised or timed out (each scored 0 for that verifier)."""

    def score(self, prompt: Prompt, texts: list[str], sample_ids: list[str]) -> list[float]:
        return self.score_groups([(prompt, texts, sample_ids)])[0]

    def score_groups(self, groups: Sequence[tuple[Prompt, list[str], list[str]]]) -> list[list[float]]:
        """Rewards of several groups, scored concurrently: (prompt, completions, sample ids) each."""
        return [self.rewards(future) for future in [self.submit(*group) for group in groups]]

    def submit(self, prompt: Prompt, texts: list[str], sample_ids: list[str]) -> Future[list[SampleReward]]:
        """Start scoring one group and return at once; `rewards(future)` waits for it."""
        return self.scorer.submit([_sample(prompt, text, sid) for text, sid in zip(texts, sample_ids)])

    def rewards(self, future: Future[list[SampleReward]]) -> list[float]:
        results = future.result()
        self.failures += sum(1 for r in results if r.errors)
        return [r.reward for r in results]

    def close(self) -> None:
        self.scorer.close()
        self.services.stop()


def _sample(prompt: Prompt, text: str, sample_id: str) -> Sample:
    dataset = prompt.dataset[0] if len(prompt.dataset) == 1 else list(prompt.dataset)
    truth = prompt.ground_truth[0] if len(prompt.ground_truth) == 1 else list(prompt.ground_truth)
    return Sample(id=sample_id, prediction=text, dataset=dataset, ground_truth=truth, query=prompt.raw_prompt)
