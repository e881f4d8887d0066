"""Which prompt comes next: a seeded permutation per epoch, minus prompts excluded by no-resampling.

The whole state (epoch, position in the epoch's order, excluded prompt ids) is JSON-able so a
resumed run draws exactly the prompts the preempted one would have drawn. The order is recomputed
from (seed, epoch) rather than stored, and an exclusion takes effect at the next epoch boundary,
as in open-instruct (the current epoch's order is fixed when the epoch starts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


class SamplerExhausted(RuntimeError):
    """Every prompt is excluded; there is nothing left to sample."""


@dataclass
class PromptSampler:
    num_prompts: int
    seed: int
    epoch: int = 0
    position: int = 0
    excluded: set[int] = field(default_factory=set)
    _order: list[int] = field(default_factory=list, repr=False)
    _excluded_at_epoch_start: frozenset[int] = field(default_factory=frozenset, repr=False)

    def __post_init__(self) -> None:
        if self.num_prompts < 1:
            raise ValueError("PromptSampler: the prompt set is empty (all prompts filtered or no data)")
        self._start_epoch(self.epoch, self.position)

    def _start_epoch(self, epoch: int, position: int = 0) -> None:
        self.epoch, self.position = epoch, position
        self._excluded_at_epoch_start = frozenset(self.excluded)
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.num_prompts).tolist()
        self._order = [i for i in order if i not in self._excluded_at_epoch_start]
        if not self._order:
            raise SamplerExhausted(f"all {self.num_prompts} prompts are excluded by no-resampling")

    def next(self) -> int:
        """The next prompt index (starting a new epoch when the current order is used up)."""
        if self.position >= len(self._order):
            self._start_epoch(self.epoch + 1)
        index = self._order[self.position]
        self.position += 1
        return index

    def take(self, count: int) -> list[int]:
        return [self.next() for _ in range(count)]

    def exclude(self, index: int) -> None:
        """Drop a prompt from every later epoch (no-resampling of solved prompts)."""
        self.excluded.add(index)

    def state_dict(self) -> dict:
        return {
            "num_prompts": self.num_prompts,
            "seed": self.seed,
            "epoch": self.epoch,
            "position": self.position,
            "excluded": sorted(self.excluded),
            "excluded_at_epoch_start": sorted(self._excluded_at_epoch_start),
        }

    @classmethod
    def from_state(cls, state: dict) -> "PromptSampler":
        """Rebuild exactly: the epoch's order is recomputed from the exclusions in force when it began."""
        sampler = cls.__new__(cls)
        sampler.num_prompts, sampler.seed = int(state["num_prompts"]), int(state["seed"])
        sampler.excluded = set(state["excluded_at_epoch_start"])
        sampler._start_epoch(int(state["epoch"]), int(state["position"]))
        sampler.excluded = set(state["excluded"])
        return sampler
