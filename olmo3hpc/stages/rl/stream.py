"""The rollout stream: queues prompts on the engines at most `rl.async_steps` policies ahead, and hands
each training step the finished results meant for it.

Every request is tagged with the step it is meant for and the policy version when it was queued.
`fill(version)` queues whole batches (`rollout.prompts_per_step` prompts) for steps up to
`version + async_steps`; that is the bound: a step never trains on a batch queued more than
`async_steps` updates before it (open-instruct semantics, where k=1 overlaps one batch of generation
with training). Active sampling queues single-prompt refills for the current step.

For exact resume the state holds the sampler and every prompt queued but not yet trained on; a resumed
run queues those again first, under their original steps.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from olmo3hpc.config import RLRun
from olmo3hpc.data.prompts import Prompt
from olmo3hpc.stages.rl.engine_pool import EnginePool
from olmo3hpc.stages.rl.engines import GenerationRequest, GenerationResult, SamplingSpec
from olmo3hpc.stages.rl.sampler import PromptSampler


@dataclass(frozen=True)
class RequestKey:
    step: int
    """The training step this prompt's group is meant for."""
    prompt: int
    """Index into the training prompt set."""
    serial: int
    """Unique id (the engine request id; also seeds the sampling)."""
    version: int
    """Policy version when it was queued."""


class RolloutStream:
    def __init__(self, run: RLRun, engines: EnginePool, sampler: PromptSampler, prompts: list[Prompt]) -> None:
        self.run, self.engines, self.sampler, self.prompts = run, engines, sampler, prompts
        self.next_batch = 0
        """Steps whose batch is queued (the next batch is for this step)."""
        self.serial = 0
        self.outstanding: dict[int, RequestKey] = {}
        self.finished: dict[int, list[tuple[RequestKey, GenerationResult]]] = defaultdict(list)

    def fill(self, version: int) -> None:
        """Queue batches for every step up to version + async_steps (the async bound)."""
        while self.next_batch <= version + self.run.rl.async_steps:
            self.queue(self.next_batch, self.sampler.take(self.run.rollout.prompts_per_step), version)
            self.next_batch += 1

    def queue(self, step: int, prompt_indices: list[int], version: int) -> None:
        requests = []
        for index in prompt_indices:
            key = RequestKey(step, index, self.serial, version)
            self.serial += 1
            self.outstanding[key.serial] = key
            seed = self.run.meta.seed * 1_000_003 + key.serial * self.run.rollout.samples_per_prompt
            sampling = SamplingSpec.from_rollout(self.run.rollout, seed=seed)
            requests.append(GenerationRequest(key.serial, tuple(int(t) for t in self.prompts[index].ids), sampling))
        self.engines.submit(requests)

    def poll(self, timeout_s: float) -> None:
        """Move results that finished on the engines into `finished` (waits up to timeout_s)."""
        for result in self.engines.results(timeout_s):
            key = self.outstanding.pop(result.request_id)
            self.finished[key.step].append((key, result))

    def finished_results(self) -> list[tuple[RequestKey, GenerationResult]]:
        """Every finished result not yet taken, whatever step it is meant for."""
        return [item for items in self.finished.values() for item in items]

    def take(self, step: int) -> list[tuple[RequestKey, GenerationResult]]:
        """Finished results meant for `step` (or an earlier step), oldest step first."""
        out: list[tuple[RequestKey, GenerationResult]] = []
        for s in sorted(k for k in self.finished if k <= step):
            out.extend(self.finished.pop(s))
        return out

    def waiting_for(self, step: int) -> int:
        """Requests meant for `step` or earlier still generating."""
        return sum(1 for key in self.outstanding.values() if key.step <= step)

    def defer(self, step: int) -> None:
        """Hand `step`'s unused requests to the next step (active sampling had enough groups)."""
        for serial, key in list(self.outstanding.items()):
            if key.step <= step:
                self.outstanding[serial] = dataclasses.replace(key, step=step + 1)
        for key, result in self.take(step):
            self.finished[step + 1].append((dataclasses.replace(key, step=step + 1), result))

    def drain(self, timeout_s: float) -> None:
        """Wait until nothing is generating (colocated mode, before the engines sleep)."""
        import time

        deadline = time.monotonic() + timeout_s
        while self.outstanding:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.outstanding)} rollouts still generating after {timeout_s:.0f} s")
            self.poll(1.0)

    # ----- checkpoint state --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        unfinished = list(self.outstanding.values()) + [k for items in self.finished.values() for k, _ in items]
        pending = sorted((k.step, k.serial, k.prompt) for k in unfinished)
        return {"sampler": self.sampler.state_dict(), "next_batch": self.next_batch, "serial": self.serial,
                "pending": [[step, prompt] for step, _, prompt in pending]}

    def restore(self, state: dict[str, Any], version: int) -> None:
        """Continue a checkpointed stream: requeue its unfinished prompts under their steps."""
        self.sampler = PromptSampler.from_state(state["sampler"])
        self.next_batch, self.serial = int(state["next_batch"]), int(state["serial"])
        by_step: dict[int, list[int]] = defaultdict(list)
        for step, prompt in state["pending"]:
            by_step[int(step)].append(int(prompt))
        for step in sorted(by_step):
            self.queue(step, by_step[step], version)
