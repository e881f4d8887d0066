"""Seeded training order over epochs, addressable by step (so a resumed run sees the same batches).

API:
    order = TrainOrder(num_items, items_per_step, epochs, seed, max_steps=0)
    order.total_steps          optimizer steps (whole steps only; the short tail of the data is dropped)
    order.step_items(step)     item indices of 0-based step `step` (a permutation per epoch, seed+epoch)
    order.epoch_at(step)       fractional epochs completed after `step` steps

Items are whatever a stage trains on: SFT packed rows, DPO pairs. Epoch e uses permutation
`np.random.default_rng(seed + e)`; fractional `epochs` take the first part of the last permutation.
"""

from __future__ import annotations

import numpy as np


class TrainOrder:
    def __init__(self, num_items: int, items_per_step: int, epochs: float, seed: int, max_steps: int = 0) -> None:
        if num_items < items_per_step:
            raise ValueError(
                f"{num_items} training items cannot fill one step of {items_per_step} "
                "(micro_batch_size x grad_accum x learners); add data or shrink the batch"
            )
        self.num_items, self.items_per_step, self.seed = num_items, items_per_step, seed
        by_epochs = int(num_items * epochs) // items_per_step if epochs > 0 else 0
        self.total_steps = min(by_epochs, max_steps) if (max_steps and by_epochs) else (max_steps or by_epochs)
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng(self.seed + epoch).permutation(self.num_items)}
        return self._perms[epoch]

    def step_items(self, step: int) -> np.ndarray:
        start = step * self.items_per_step
        out = []
        for pos in range(start, start + self.items_per_step):
            epoch, i = divmod(pos, self.num_items)
            out.append(self._perm(epoch)[i])
        return np.asarray(out, dtype=np.int64)

    def epoch_at(self, steps_done: int) -> float:
        return steps_done * self.items_per_step / self.num_items
