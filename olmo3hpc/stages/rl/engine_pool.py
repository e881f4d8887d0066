"""The driver's handle on every rollout engine actor: placement, requests, weight sync, failures.

Engines are placed where the plan puts them (`plan.nodes[i].engines`, pinned with the `node:<i>`
resource). Any call that finds an engine dead or failed raises `EngineError` naming the engine and
its error, promptly: results are polled with short timeouts, never waited on without a bound.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from olmo3hpc.config import NodePlan, Plan, RLRun
from olmo3hpc.engine import placement
from olmo3hpc.engine.cluster import node_resource
from olmo3hpc.engine.cpuslots import CpuSlot
from olmo3hpc.stages.rl.engines import EngineSpec, GenerationRequest, GenerationResult, make_engine_actor
from olmo3hpc.stages.rl.weight_sync import SyncGroup

_POLL_S = 0.2
ENGINE_NAME_PREFIX = "olmo3hpc-engine-"
"""Engine actors are named `<prefix><engine index>-<random>` (find them with ray.util.list_named_actors)."""


class EngineError(RuntimeError):
    """A rollout engine died or failed; the message names it and carries its error."""


class EnginePool:
    def __init__(self, run: RLRun, plan: Plan, ready_timeout_s: float = 600.0) -> None:
        self.run, self.plan = run, plan
        self.actors: list[Any] = []
        for node in plan.nodes:
            for k, index in enumerate(node.engines):
                spec = EngineSpec(model=run.model, rollout=run.rollout, engine_index=index, seed=run.meta.seed,
                                  device="gpu" if plan.device == "gpu" else "cpu",
                                  inflight_updates=run.rl.inflight_updates, output_root=run.meta.output_root,
                                  init_seed=run.meta.seed, cpu_slot=_cpu_slot(plan, node, k))
                options: dict[str, Any] = {"resources": {node_resource(node.index): 1}, "max_restarts": 0,
                                           "name": f"{ENGINE_NAME_PREFIX}{index}-{uuid.uuid4().hex[:8]}"}
                if plan.device == "cpu":
                    options["num_cpus"] = 0  # CPU runs share the cores; the plan already counted devices
                self.actors.append(make_engine_actor(spec, options))
        self._get([a.ready.remote() for a in self.actors], ready_timeout_s, "start")
        self._next = 0

    @property
    def size(self) -> int:
        return len(self.actors)

    # ----- generation --------------------------------------------------------------------------------
    def submit(self, requests: Sequence[GenerationRequest]) -> None:
        """Queue requests round-robin over the engines (streaming mode)."""
        per_engine: list[list[GenerationRequest]] = [[] for _ in self.actors]
        for request in requests:
            per_engine[self._next % self.size].append(request)
            self._next += 1
        refs = [(i, a.submit.remote(reqs)) for i, (a, reqs) in enumerate(zip(self.actors, per_engine)) if reqs]
        self._get([r for _, r in refs], 60.0, "submit", [i for i, _ in refs])

    def results(self, timeout_s: float) -> list[GenerationResult]:
        """Whatever finished on any engine, waiting up to timeout_s in total."""
        refs = [a.results.remote(1 << 30, timeout_s) for a in self.actors]
        return [r for batch in self._get(refs, timeout_s + 60.0, "results") for r in batch]

    def generate(self, requests: Sequence[GenerationRequest], timeout_s: float = 3600.0) -> list[GenerationResult]:
        """Blocking generation spread over the engines; results in request order (local eval)."""
        shards = [list(requests[i :: self.size]) for i in range(self.size)]
        refs = [(i, a.generate.remote(s, timeout_s)) for i, (a, s) in enumerate(zip(self.actors, shards)) if s]
        outputs = self._get([r for _, r in refs], timeout_s + 60.0, "generate", [i for i, _ in refs])
        by_engine = dict(zip([i for i, _ in refs], outputs))
        ordered: list[GenerationResult] = []
        for k in range(len(requests)):
            ordered.append(by_engine[k % self.size][k // self.size])
        return ordered

    # ----- weights and memory ------------------------------------------------------------------------
    def join_weight_sync(self, group: SyncGroup) -> list[Any]:
        """Start every engine joining the broadcast group; the caller joins learner rank 0, then waits."""
        tp = self.run.rollout.tensor_parallel
        return [a.init_weight_sync.remote(group, 1 + i * tp) for i, a in enumerate(self.actors)]

    def receive_weights(self, manifest: Any, version: int) -> list[Any]:
        """Start every engine receiving one broadcast (refs to wait on with `wait`)."""
        return [a.receive_weights.remote(manifest, version) for a in self.actors]

    def sleep(self) -> None:
        self._get([a.sleep.remote() for a in self.actors], 600.0, "sleep")

    def wake_up(self) -> None:
        self._get([a.wake_up.remote() for a in self.actors], 600.0, "wake_up")

    def wait(self, refs: list[Any], timeout_s: float, what: str) -> list[Any]:
        return self._get(refs, timeout_s, what)

    def placement(self) -> list[dict[str, Any]]:
        """Where each engine really runs, in engine order (engine/placement.py entries)."""
        return placement.locate(self._get([a.whereabouts.remote() for a in self.actors], 60.0, "whereabouts"),
                                ("engine",))

    def check_alive(self) -> None:
        """Raise EngineError if any engine is dead (a cheap ping)."""
        self._get([a.version.remote() for a in self.actors], 60.0, "ping")

    def shutdown(self) -> None:
        import ray

        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []

    # ----- failure handling --------------------------------------------------------------------------
    def _get(self, refs: list[Any], timeout_s: float, what: str, engines: list[int] | None = None) -> list[Any]:
        """Results in order; the first failure (or the timeout) raises EngineError naming the engine."""
        import ray

        engines = engines if engines is not None else list(range(len(refs)))
        index = {ref: i for i, ref in enumerate(refs)}
        out: list[Any] = [None] * len(refs)
        pending, deadline = list(refs), time.monotonic() + timeout_s
        while pending:
            ready, pending = ray.wait(pending, num_returns=len(pending), timeout=_POLL_S)
            for ref in ready:
                try:
                    out[index[ref]] = ray.get(ref)
                except Exception as e:  # RayActorError (died) or the engine's own exception
                    raise EngineError(f"rollout engine {engines[index[ref]]} failed during {what}: "
                                      f"{type(e).__name__}: {_first_line(e)}") from e
            if pending and time.monotonic() > deadline:
                names = [engines[index[r]] for r in pending]
                raise EngineError(f"rollout engine(s) {names} did not answer {what} within {timeout_s:.0f} s")
        return out


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)


def _cpu_slot(plan: Plan, node: NodePlan, k: int) -> CpuSlot | None:
    """The CPU device of the node's k-th engine: after the node's learners when separate, on the learners'
    own devices when colocated (the engine sleeps while they train)."""
    if plan.device != "cpu":
        return None
    first = 0 if plan.mode == "colocated" else node.learners
    return CpuSlot(first + k * plan.tensor_parallel, plan.devices_per_node)
