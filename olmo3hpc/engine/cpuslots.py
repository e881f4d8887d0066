"""CPU "devices": on a CPU run the plan counts `placement.cpu_devices_per_node` devices per node, and each
device is a fixed slice of the node's usable cores. A learner or an engine pins its whole process to its
slice, so actors placed on different devices do not compete for the same cores, as they would not on
separate GPUs (without this, a learner and an engine on a 2-core machine both spread over both cores and
the rollout/learning overlap of `async_steps` cannot show).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CpuSlot:
    device: int
    """Index of the CPU device on its node (learners take 0..L-1; separate-mode engines follow them)."""
    devices_per_node: int

    def cores(self, usable: Sequence[int] | None = None) -> tuple[int, ...]:
        """This device's cores: the usable cores split into equal consecutive slices. With fewer cores than
        devices, devices share cores round-robin; spare cores of an uneven split go to the last device."""
        if not 0 <= self.device < self.devices_per_node:
            raise ValueError(f"CPU device {self.device} outside 0..{self.devices_per_node - 1}")
        cores = sorted(os.sched_getaffinity(0) if usable is None else usable)
        if not cores:
            raise ValueError("no usable CPU cores")
        if len(cores) < self.devices_per_node:
            return (cores[self.device % len(cores)],)
        size = len(cores) // self.devices_per_node
        end = len(cores) if self.device == self.devices_per_node - 1 else (self.device + 1) * size
        return tuple(cores[self.device * size : end])


def pin(slot: CpuSlot) -> tuple[int, ...]:
    """Bind every thread of this process to `slot`'s cores and size torch's intra-op pool to match.

    All existing threads are re-pinned (os.sched_setaffinity(0) moves only the calling thread, and a Ray
    actor already runs several); threads started later inherit the mask.
    """
    import torch

    cores = slot.cores()
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), cores)
        except (ProcessLookupError, PermissionError):  # a thread that exited meanwhile
            continue
    torch.set_num_threads(len(cores))
    return cores
