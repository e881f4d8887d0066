"""LearnerGroup: `plan.learners` Ray actors of a stage's `Learner` subclass, one per device, in lockstep.

API (driver side):
    group = LearnerGroup(run, plan, SFTLearner)      # places actors, rank 0 picks MASTER_ADDR/PORT,
                                                    # every rank joins torch.distributed + DeepSpeed
    group.call("method", *args) -> [result_rank0, result_rank1, ...]      same arguments on every rank
    group.call_sharded("method", shards, *args) -> [...]                  rank i gets shards[i]
    group.save_checkpoint(dir) / group.load_checkpoint(dir) / group.export_hf(dir) / group.set_lr(lr)
    group.placement -> [{"rank", "node_index", "ray_node_id", "host", "pid", "cpu_cores"}, ...]  (where ranks run)
    group.write_placement(run_dir, engines=())      # <run_dir>/placement.json {"learners": [...], "engines": [...]}
    group.shutdown()

Placement: rank r lives on the r-th learner slot of the plan, pinned with `resources={"node:<i>": 1}`
and `num_gpus=1` on GPU. If any rank raises or its process dies, the call raises `LearnerError`
naming the rank at once (the other ranks, possibly blocked in a collective, are killed), so the
driver never hangs on a dead peer.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from olmo3hpc.config import Plan, Run
from olmo3hpc.engine import placement
from olmo3hpc.engine.cluster import node_resource
from olmo3hpc.engine.learner import Learner

_ROOT_CAUSE_GRACE_S = 5.0
_POLL_S = 1.0


class LearnerError(RuntimeError):
    """A learner rank failed; the message names the rank, its node and the remote error."""


class LearnerGroup:
    def __init__(self, run: Run, plan: Plan, learner_cls: type[Learner], setup_timeout_s: float | None = None) -> None:
        import ray

        self.run, self.plan = run, plan
        self.slots = _slots(plan)
        _check_nodes(plan)
        remote_cls = ray.remote(learner_cls)
        self.actors = []
        for rank, (node, local_rank) in enumerate(self.slots):
            options: dict[str, Any] = {"resources": {node_resource(node): 1}, "max_restarts": 0,
                                       "num_cpus": 0 if plan.device == "cpu" else 1}
            if plan.device == "gpu":
                options["num_gpus"] = 1
            self.actors.append(remote_cls.options(**options).remote(run, plan, rank, local_rank))
        master_addr, master_port = self._wait([self.actors[0].address.remote()], setup_timeout_s)[0]
        self.setup_info = self.call("setup", master_addr, master_port, timeout_s=setup_timeout_s)
        self.placement = placement.locate(self.setup_info, ("rank",))

    @property
    def world(self) -> int:
        return len(self.actors)

    def call(self, method: str, *args: Any, timeout_s: float | None = None, **kwargs: Any) -> list[Any]:
        """Run `method(*args, **kwargs)` on every rank in parallel; results in rank order."""
        import ray

        arg_refs = [ray.put(a) if _large(a) else a for a in args]  # one object-store copy for all ranks
        return self._wait([getattr(a, method).remote(*arg_refs, **kwargs) for a in self.actors], timeout_s)

    def call_sharded(self, method: str, shards: Sequence[Any], *args: Any, timeout_s: float | None = None) -> list[Any]:
        """Run `method(shards[rank], *args)` on every rank in parallel."""
        if len(shards) != self.world:
            raise ValueError(f"call_sharded({method!r}): {len(shards)} shards for {self.world} learners")
        refs = [getattr(a, method).remote(s, *args) for a, s in zip(self.actors, shards)]
        return self._wait(refs, timeout_s)

    def set_lr(self, lr: float) -> None:
        self.call("set_lr", lr)

    def save_checkpoint(self, path: str) -> None:
        self.call("save_checkpoint", str(path))

    def load_checkpoint(self, path: str) -> None:
        self.call("load_checkpoint", str(path))

    def export_hf(self, path: str) -> str:
        return self.call("export_hf", str(path))[0]

    def describe_placement(self) -> str:
        where = [f"rank {p['rank']} on node {p['node_index']} ({p['host']}, pid {p['pid']})" for p in self.placement]
        return "learners: " + ", ".join(where)

    def write_placement(self, run_dir: str | Path, engines: Sequence[dict[str, Any]] = ()) -> Path:
        """Record where the ranks (and the stage's engines, if any) really run in <run_dir>/placement.json."""
        return placement.write(run_dir, self.placement, engines)

    def shutdown(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []

    def _wait(self, refs: list[Any], timeout_s: float | None) -> list[Any]:
        """Results in order; the first failing rank kills the group and raises LearnerError."""
        import ray

        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(refs)
        pending, deadline = list(refs), None if timeout_s is None else time.monotonic() + timeout_s
        while pending:
            ready, pending = ray.wait(pending, num_returns=1, timeout=_POLL_S)
            for ref in ready:
                try:
                    results[index[ref]] = ray.get(ref)
                except Exception as e:  # RayActorError (dead process) or the rank's own exception
                    self._fail({index[ref]: e}, pending, index)
            if pending and deadline is not None and time.monotonic() > deadline:
                self.shutdown()
                raise LearnerError(f"learners {[index[r] for r in pending]} did not answer within {timeout_s} s")
        return results

    def _fail(self, failures: dict[int, Exception], pending: list[Any], index: dict[Any, int]) -> None:
        """Raise LearnerError naming the root cause. When a rank dies, its peers fail too (their collective
        breaks), sometimes first: give them a moment and name a rank whose process died over the others."""
        import ray

        done, _ = ray.wait(pending, num_returns=len(pending), timeout=_ROOT_CAUSE_GRACE_S) if pending else ([], [])
        for ref in done:
            try:
                ray.get(ref)
            except Exception as e:
                failures[index[ref]] = e
        dead = [r for r, e in failures.items() if isinstance(e, ray.exceptions.RayActorError)]
        rank = min(dead) if dead else next(iter(failures))
        error, others = failures[rank], sorted(set(failures) - {rank})
        node = self.slots[rank][0] if rank < len(self.slots) else "?"
        self.shutdown()
        also = f" (then ranks {others} failed too)" if others else ""
        raise LearnerError(f"learner rank {rank} (node {node}) failed{also}: {type(error).__name__}: {error}") from error


def _check_nodes(plan: Plan) -> None:
    """Fail now, naming the node, instead of leaving actors pending on a node that never joined."""
    import ray

    resources = ray.cluster_resources()
    for node in plan.learner_nodes:
        if resources.get(node_resource(node), 0) < 1:
            have = sorted(k for k in resources if k.startswith("node:") and k[5:].isdigit())
            raise LearnerError(f"plan places learners on node {node}, but the Ray cluster has no resource "
                               f"{node_resource(node)!r} (nodes present: {have}); did every node job start?")
    if plan.device == "gpu" and resources.get("GPU", 0) < plan.learners:
        raise LearnerError(f"plan needs {plan.learners} learner GPUs; the Ray cluster has {resources.get('GPU', 0):g}")


def _slots(plan: Plan) -> list[tuple[int, int]]:
    """(node index, local rank) of each global rank: node-major, as torch.distributed expects."""
    return [(n.index, local) for n in plan.nodes for local in range(n.learners)]


def _large(value: Any) -> bool:
    return not isinstance(value, (int, float, str, bool, type(None)))
