"""Step data preparation: group judgement, advantages, truncation masking and rollout metrics."""

from __future__ import annotations


import pytest

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import RLRun, replace_path
from olmo3hpc.stages.rl.engines import Sample
from olmo3hpc.stages.rl.groups import rollout_metrics, score_group, training_samples


@pytest.fixture(scope="module")
def run() -> RLRun:
    return load_recipe("smoke_rl")


def _samples(finishes: list[str], version: int = 0) -> list[Sample]:
    return [Sample([5, 6], [-0.1, -0.2], f, "7", version, version) for f in finishes]


def test_mixed_group_gets_standard_advantages(run: RLRun):
    group = score_group(3, [1, 2], _samples(["stop"] * 4), [10.0, 0.0, 0.0, 10.0], 0, run)
    samples, masked = training_samples([group], run)
    assert group.verdict.keep and masked == 0
    assert [round(s.advantage, 6) for s in samples] == [1.0, -1.0, -1.0, 1.0]
    assert samples[0].query == [1, 2] and samples[0].response == [5, 6] and samples[0].logprobs == [-0.1, -0.2]


def test_truncated_completions_are_masked_after_advantages(run: RLRun):
    masking = replace_path(run, "rl.mask_truncated_completions", True)
    group = score_group(0, [1], _samples(["stop", "length", "stop", "length"]), [10.0, 10.0, 0.0, 0.0], 0, masking)
    samples, masked = training_samples([group], masking)
    assert masked == 2
    assert [round(s.advantage, 6) for s in samples] == [1.0, -1.0]  # computed over the whole group


def test_metrics_count_filtered_groups_and_staleness(run: RLRun):
    solved = score_group(0, [1], _samples(["stop"] * 2, version=1), [10.0, 10.0], 1, run)
    zero = score_group(1, [1], _samples(["length"] * 2, version=1), [0.0, 0.0], 1, run)
    mixed = score_group(2, [1], _samples(["stop"] * 2, version=2), [10.0, 0.0], 2, run)
    m = rollout_metrics([solved, zero, mixed], [mixed], step=3)
    assert (m["groups_all_solved"], m["groups_all_zero"], m["groups_filtered"], m["groups_trained"]) == (1, 1, 2, 1)
    assert m["reward_mean"] == pytest.approx(30 / 6)
    assert m["truncated_fraction"] == pytest.approx(2 / 6)
    assert m["staleness_max"] == 1.0 and m["staleness_submitted_max"] == 1.0
