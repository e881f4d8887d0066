"""Rewards through the registry: routing by `dataset`, x10 scale, and failures scored 0 with the sample id."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import replace_path
from olmo3hpc.data.prompts import Prompt
from olmo3hpc.stages.rl.scoring import GroupScorer


def _prompt(dataset: list[str], truth: list) -> Prompt:
    return Prompt(np.array([1, 2]), truth, dataset, "user: What is 3 + 4?")


def test_rewards_are_routed_by_dataset_and_scaled():
    scorer = GroupScorer(load_recipe("smoke_rl"))
    try:
        rewards = scorer.score(_prompt(["gsm8k"], ["7"]), ["It is 7.", "It is 8.", "3 + 4 = 7"], ["a", "b", "c"])
        assert rewards == [10.0, 0.0, 10.0]
        both = scorer.score(_prompt(["gsm8k", "string_matcher"], ["7", "7"]), ["7", "so 7"], ["d", "e"])
        assert both == [20.0, 10.0]  # string_matcher needs the whole answer to be "7"
    finally:
        scorer.close()


def test_failing_or_slow_verifier_scores_zero_and_names_the_sample(caplog: pytest.LogCaptureFixture):
    run = load_recipe("smoke_rl")
    scorer = GroupScorer(run)
    slow = GroupScorer(replace_path(run, "reward.verifier_timeout_s", 0.5))
    try:
        with caplog.at_level(logging.WARNING):
            assert scorer.score(_prompt(["no_such_verifier"], ["7"]), ["7"], ["step3/prompt1/sample0"]) == [0.0]
            # a tower of powers keeps sympy busy for seconds: the verifier overruns its 0.5 s
            tower = r"\boxed{9^{9^{9^{9^{9}}}}}"
            assert slow.score(_prompt(["math"], ["7"]), [tower], ["step4/prompt2/sample5"]) == [0.0]
        assert "step3/prompt1/sample0" in caplog.text and "step4/prompt2/sample5" in caplog.text
        assert scorer.failures == 1 and slow.failures == 1
        assert scorer.score(_prompt(["gsm8k"], ["7"]), ["7"], ["ok"]) == [10.0]  # scoring goes on
    finally:
        scorer.close()
        slow.close()
