"""Learner rank 0 -> every rollout engine: weight broadcast and the gate that decides when it lands.

Protocol (driver side; `engines` are `engines.make_engine_actor` handles):
    group = SyncGroup(host=<learner 0 ip>, port=free_port(), world_size=1 + engines * tp, backend=...)
    # once, concurrently (the TCP store rendezvous needs every rank):
    #   learner rank 0: sender = WeightSender(group)         -> rank 0
    #   engine i:       actor.init_weight_sync(group, 1 + i * tp)  (vLLM adds its TP rank)
    # every update, concurrently:
    #   refs = [e.receive_weights.remote(param_manifest(model), version) for e in engines]
    #   every learner rank: broadcast_params(model, sender if rank == 0 else None, gather_whole_model)
    #   ray.get(refs + learner_refs, timeout=...)
Backend: "nccl" on GPU (learner rank 0 + every engine TP worker), "gloo" on CPU. The group is a
standalone torch ProcessGroup over its own TCP store, so it coexists with DeepSpeed's default group.

`UpdateGate` serialises weight loads against generation: drained updates wait until no request is
active (and hold new ones back); in-flight updates only wait for the current step to end.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class SyncGroup:
    host: str
    """Address of learner rank 0 (the TCP store master)."""
    port: int
    """Free TCP port on `host` for the group's store."""
    world_size: int
    """1 (learner rank 0) + every engine TP worker."""
    backend: Literal["gloo", "nccl"] = "gloo"
    timeout_s: float = 1800.0


@dataclass(frozen=True)
class ParamMeta:
    name: str
    """Hugging Face parameter name (what `load_weights` / `load_state_dict` expect)."""
    dtype: str
    shape: tuple[int, ...]


def free_port(host: str = "") -> int:
    """A TCP port that is free right now on this host (race-prone by nature; used at startup only)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class WeightGroup:
    """A joined sync group. Holds the TCP store too: rank 0's store server dies with its object."""

    pg: dist.ProcessGroup
    store: dist.Store
    rank: int

    def broadcast(self, tensor: torch.Tensor) -> None:
        """In place: rank 0's tensor is sent, every other rank's is overwritten."""
        self.pg.broadcast([tensor], dist.BroadcastOptions()).wait()


def open_group(group: SyncGroup, rank: int) -> WeightGroup:
    """Join `group` as `rank`; rank 0 hosts the TCP store. Blocks until all ranks joined."""
    if not 0 <= rank < group.world_size:
        raise ValueError(f"weight sync rank {rank} outside world_size {group.world_size}")
    timeout = timedelta(seconds=group.timeout_s)
    store = dist.TCPStore(group.host, group.port, group.world_size, is_master=rank == 0, timeout=timeout)
    prefixed = dist.PrefixStore("olmo3hpc-weights", store)
    if group.backend == "gloo":
        pg = dist.ProcessGroupGloo(prefixed, rank, group.world_size, timeout)
    else:
        from torch.distributed.distributed_c10d import ProcessGroupNCCL

        pg = ProcessGroupNCCL(prefixed, rank, group.world_size)
    return WeightGroup(pg, store, rank)


class WeightSender:
    """Learner rank 0's end of the group."""

    def __init__(self, group: SyncGroup) -> None:
        self.group = group
        self.group_handle = open_group(group, 0)
        self.device = torch.device("cuda", torch.cuda.current_device()) if group.backend == "nccl" else None

    def send(self, tensor: torch.Tensor) -> None:
        data = tensor.detach()
        if self.device is not None and data.device != self.device:
            data = data.to(self.device)
        self.group_handle.broadcast(data.contiguous())


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """DeepSpeed engines wrap the HF model as `.module`; names must be the HF ones."""
    return getattr(model, "module", model)


def param_manifest(model: torch.nn.Module) -> list[ParamMeta]:
    """Names, dtypes and full shapes (ZeRO-3 partitions report `ds_shape`) in broadcast order."""
    metas = []
    for name, param in _unwrap(model).named_parameters():
        shape = tuple(getattr(param, "ds_shape", param.shape))
        metas.append(ParamMeta(name, str(param.dtype).removeprefix("torch."), shape))
    return metas


def broadcast_params(model: torch.nn.Module, sender: WeightSender | None, gather_whole_model: bool = True) -> int:
    """Broadcast every parameter in `param_manifest` order; returns the count.

    Every learner rank must call this under ZeRO-3 (gathering is collective across learners); only
    rank 0 passes a `sender`. `gather_whole_model=False` gathers one parameter at a time (32B runs).
    """
    params = list(_unwrap(model).named_parameters())
    zero3 = any(hasattr(p, "ds_id") for _, p in params)
    if not zero3:
        for _, param in params:
            if sender is not None:
                sender.send(param)
        return len(params)
    import deepspeed

    if gather_whole_model:
        with deepspeed.zero.GatheredParameters([p for _, p in params], modifier_rank=None):
            for _, param in params:
                if sender is not None:
                    sender.send(param)
        return len(params)
    for _, param in params:
        with deepspeed.zero.GatheredParameters([param], modifier_rank=None):
            if sender is not None:
                sender.send(param)
    return len(params)


def receive_params(
    group: WeightGroup, manifest: Sequence[ParamMeta], device: torch.device
) -> Iterator[tuple[str, torch.Tensor]]:
    """Engine end: yields (name, tensor) as each broadcast arrives, so loading can stream."""
    for meta in manifest:
        tensor = torch.empty(meta.shape, dtype=getattr(torch, meta.dtype), device=device)
        group.broadcast(tensor)
        yield meta.name, tensor


class UpdateGate:
    """Decides when a weight load may run relative to generation, and owns the policy version."""

    def __init__(self, inflight: bool) -> None:
        self.inflight = inflight
        self.version = 0
        self.steps = 0
        self.busy_s = 0.0
        """Seconds with at least one request in generation."""
        self._busy_since = 0.0
        self._cond = threading.Condition()
        self._active = 0
        self._stepping = False
        self._waiting_updates = 0
        self._updating = False

    def may_admit(self) -> bool:
        """New requests may start (held back while a drained update waits for the engine to empty)."""
        with self._cond:
            return self.inflight or self._waiting_updates == 0

    def wait_admit(self, timeout_s: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.inflight or self._waiting_updates == 0, timeout_s)

    @contextmanager
    def active(self) -> Iterator[None]:
        """Marks requests as in generation for the duration (drained updates wait for zero)."""
        with self._cond:
            if self._active == 0:
                self._busy_since = time.monotonic()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if self._active == 0:
                    self.busy_s += time.monotonic() - self._busy_since
                self._cond.notify_all()

    @contextmanager
    def step(self) -> Iterator[int]:
        """One generation step; yields the policy version the step runs under."""
        with self._cond:
            # In-flight: yield to a waiting update at this boundary (else the loop could starve it).
            # Drained: waiting updates need the running requests to finish, so only a running load blocks.
            self._cond.wait_for(lambda: not self._updating and (not self.inflight or self._waiting_updates == 0))
            self._stepping = True
        try:
            yield self.version
        finally:
            with self._cond:
                self._stepping = False
                self.steps += 1
                self._cond.notify_all()

    def update(self, load: Callable[[], object], version: int) -> int:
        """Run `load` at a safe point and then publish `version`; returns it."""
        with self._cond:
            self._waiting_updates += 1
            self._cond.wait_for(
                lambda: not self._updating and not self._stepping and (self.inflight or self._active == 0)
            )
            self._updating = True
        try:
            load()
            self.version = version
        finally:
            with self._cond:
                self._updating = False
                self._waiting_updates -= 1
                self._cond.notify_all()
        return version
