"""The prompt sampler: epochs, exclusions, exact state round trip."""

from __future__ import annotations

import json

import pytest

from olmo3hpc.stages.rl.sampler import PromptSampler, SamplerExhausted


def test_each_epoch_is_a_permutation_and_epochs_differ():
    s = PromptSampler(num_prompts=10, seed=3)
    first, second = s.take(10), s.take(10)
    assert sorted(first) == sorted(second) == list(range(10))
    assert first != second and s.epoch == 1


def test_exclusion_applies_from_the_next_epoch():
    s = PromptSampler(num_prompts=6, seed=0)
    first = s.take(2)
    s.exclude(first[0])
    rest = s.take(4)
    assert len(set(first + rest)) == 6  # the current epoch still contains it
    assert first[0] not in s.take(5) and s.epoch == 1


def test_state_round_trip_draws_the_same_future():
    s = PromptSampler(num_prompts=7, seed=5)
    s.take(4)
    s.exclude(2)
    s.take(6)  # crosses into epoch 1, where 2 is gone
    s.exclude(4)  # pending until epoch 2
    state = json.loads(json.dumps(s.state_dict()))
    resumed = PromptSampler.from_state(state)
    assert resumed.take(20) == s.take(20)


def test_all_excluded_raises():
    s = PromptSampler(num_prompts=2, seed=0)
    s.exclude(0)
    s.exclude(1)
    s.take(2)
    with pytest.raises(SamplerExhausted):
        s.next()
