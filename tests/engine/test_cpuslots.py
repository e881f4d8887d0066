"""CPU devices as core slices, and pinning a whole multi-threaded process to one."""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from pathlib import Path

import pytest

from olmo3hpc.engine.cpuslots import CpuSlot, pin


@pytest.mark.parametrize("device, per_node, usable, cores", [
    (0, 2, [0, 1], (0,)),
    (1, 2, [0, 1], (1,)),
    (0, 1, [0, 1], (0, 1)),
    (1, 2, [4, 5, 6, 7], (6, 7)),
    (2, 3, [0, 1, 2, 3, 4, 5, 6], (4, 5, 6)),   # the spare core of an uneven split goes to the last device
    (1, 2, [3], (3,)),                          # fewer cores than devices: devices share
    (2, 4, [0, 1], (0,)),
])
def test_devices_are_consecutive_slices_of_the_usable_cores(device, per_node, usable, cores):
    assert CpuSlot(device, per_node).cores(usable) == cores


def test_a_device_outside_the_node_is_refused():
    with pytest.raises(ValueError, match="CPU device 2 outside 0..1"):
        CpuSlot(2, 2).cores([0, 1])


def _allowed(pid: int) -> set[frozenset[int]]:
    """The CPU mask of every thread of `pid`, as Linux reports it."""
    masks = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        masks.add(frozenset(os.sched_getaffinity(int(task.name))))
    return masks


def _pin_in_child(slot: CpuSlot, out: mp.Queue) -> None:
    import torch

    stop = threading.Event()
    early = threading.Thread(target=stop.wait, daemon=True)  # a thread that exists before pinning
    early.start()
    cores = pin(slot)
    late = threading.Thread(target=stop.wait, daemon=True)   # and one started after
    late.start()
    out.put((cores, _allowed(os.getpid()), torch.get_num_threads()))
    stop.set()


def test_pin_moves_every_thread_and_sizes_torch():
    usable = sorted(os.sched_getaffinity(0))
    slot = CpuSlot(len(usable) - 1, len(usable)) if len(usable) > 1 else CpuSlot(0, 1)
    out: mp.Queue = mp.get_context("spawn").Queue()
    child = mp.get_context("spawn").Process(target=_pin_in_child, args=(slot, out))
    child.start()
    cores, masks, threads = out.get(timeout=120)
    child.join(timeout=60)
    assert cores == slot.cores(usable)
    assert masks == {frozenset(cores)}  # the main thread, the thread started before and the one after
    assert threads == len(cores)
    assert set(os.sched_getaffinity(0)) == set(usable)  # the parent is untouched
