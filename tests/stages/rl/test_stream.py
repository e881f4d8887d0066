"""The rollout stream: the async_steps bound, per-step hand-out, deferral and exact resume state.

The engines are replaced by an in-process pool that answers every request at once (the engines
themselves are tested in test_engines.py); the stream's bookkeeping is what is under test here.
"""

from __future__ import annotations

import numpy as np

from olmo3hpc.catalog import load_recipe
from olmo3hpc.config import replace_path
from olmo3hpc.data.prompts import Prompt
from olmo3hpc.stages.rl.engines import GenerationResult, Sample
from olmo3hpc.stages.rl.sampler import PromptSampler
from olmo3hpc.stages.rl.stream import RolloutStream


class InstantEngines:
    """Answers each request with one fixed sample; records what was submitted."""

    def __init__(self) -> None:
        self.submitted: list = []
        self._done: list[GenerationResult] = []

    def submit(self, requests) -> None:
        self.submitted.extend(requests)
        self._done.extend(GenerationResult(r.request_id, r.prompt_ids, [Sample([1], [-1.0], "stop", "7", 0, 0)])
                          for r in requests)

    def results(self, timeout_s: float) -> list[GenerationResult]:
        done, self._done = self._done, []
        return done


def _stream(async_steps: int) -> tuple[RolloutStream, InstantEngines]:
    run = replace_path(load_recipe("smoke_rl"), "rl.async_steps", async_steps)
    run = replace_path(run, "rollout.prompts_per_step", 2)
    prompts = [Prompt(np.array([i, i + 1]), ["7"], ["gsm8k"], f"p{i}") for i in range(5)]
    engines = InstantEngines()
    return RolloutStream(run, engines, PromptSampler(5, seed=0), prompts), engines  # type: ignore[arg-type]


def test_generation_runs_at_most_async_steps_ahead():
    stream, engines = _stream(async_steps=3)
    stream.fill(version=0)
    assert stream.next_batch == 4 and len(engines.submitted) == 8  # steps 0..3
    stream.fill(version=0)
    assert len(engines.submitted) == 8  # the bound holds until the policy advances
    stream.fill(version=1)
    assert stream.next_batch == 5


def test_take_hands_out_only_the_step_results_and_defer_moves_leftovers():
    stream, _ = _stream(async_steps=2)
    stream.fill(version=0)
    stream.poll(0.0)
    first = stream.take(0)
    assert [k.step for k, _ in first] == [0, 0]
    assert stream.waiting_for(0) == 0
    stream.defer(1)
    assert sorted(k.step for items in stream.finished.values() for k, _ in items) == [2, 2, 2, 2]


def test_state_requeues_unfinished_prompts_under_their_steps():
    stream, _ = _stream(async_steps=1)
    stream.fill(version=0)
    stream.poll(0.0)
    stream.take(0)
    state = stream.state_dict()
    assert [step for step, _ in state["pending"]] == [1, 1]
    resumed, engines = _stream(async_steps=1)
    resumed.restore(state, version=1)
    assert [r.prompt_ids for r in engines.submitted] == [tuple(stream.prompts[p].ids) for _, p in state["pending"]]
    assert resumed.sampler.state_dict() == stream.sampler.state_dict()
    resumed.fill(version=1)  # steps 0 and 1 were already queued before the checkpoint
    assert resumed.next_batch == 3 and len(engines.submitted) == 4
