"""GPU placement and derived batch arithmetic, computed before anything is written or submitted.

The plan is pure: the login node uses it to refuse an impossible layout, the job uses it to place
learner and engine actors, and `olmo3hpc show` prints it. Stages read it; nothing mutates it.
"""

from __future__ import annotations

from dataclasses import dataclass

from olmo3hpc.config.base import ConfigError
from olmo3hpc.config.runs import RLRun, Run, SFTRun


class PlanError(ConfigError):
    """The requested layout cannot run on the requested allocation."""


# Bytes per parameter of mixed-precision AdamW state: bf16 params (2) + bf16 grads (2) + fp32 master,
# exp_avg, exp_avg_sq (12). ZeRO-1 shards the 12, ZeRO-2 also the grads, ZeRO-3 everything.
_PARAM, _GRAD, _OPTIM = 2.0, 2.0, 12.0
_USABLE_GPU_FRACTION = 0.8  # the rest is activations, NCCL buffers and fragmentation


@dataclass(frozen=True)
class NodePlan:
    index: int
    learners: int
    """Learner ranks (one device each) on this node."""
    engines: tuple[int, ...]
    """Engine ids whose tensor-parallel ranks all sit on this node."""
    judge: int
    """Devices reserved for the judge server."""


@dataclass(frozen=True)
class Plan:
    stage: str
    device: str
    """`gpu` or `cpu`."""
    devices_per_node: int
    mode: str
    nodes: tuple[NodePlan, ...]
    tensor_parallel: int
    grad_accum: int
    """Micro-batches per optimizer step on each learner."""
    training_steps: int
    """RL steps from total_episodes; 0 for SFT/DPO (known once the data is tokenized)."""
    learner_state_gb: float
    """Estimated per-learner parameter+gradient+optimizer memory."""

    @property
    def learners(self) -> int:
        return sum(n.learners for n in self.nodes)

    @property
    def engines(self) -> int:
        return sum(len(n.engines) for n in self.nodes)

    @property
    def learner_nodes(self) -> tuple[int, ...]:
        return tuple(n.index for n in self.nodes if n.learners)

    def describe(self) -> str:
        lines = [f"plan: {self.stage} on {len(self.nodes)} node(s) x {self.devices_per_node} {self.device}(s), mode {self.mode}"]
        for n in self.nodes:
            engines = f", engines {list(n.engines)} (tp {self.tensor_parallel})" if n.engines else ""
            judge = f", judge {n.judge}" if n.judge else ""
            lines.append(f"  node {n.index}: learners {n.learners}{engines}{judge}")
        lines.append(f"  learners {self.learners}, grad_accum {self.grad_accum}, ~{self.learner_state_gb:.1f} GB state/learner")
        if self.training_steps:
            lines.append(f"  training steps {self.training_steps}")
        return "\n".join(lines)


def plan(run: Run) -> Plan:
    """Place learners, engines and the judge; derive accumulation; raise PlanError if impossible."""
    run.validate()
    per_node = run.slurm.gpus_per_node or run.placement.cpu_devices_per_node
    learners = _learners_per_node(run, per_node)
    tp, engines, judge = 1, [()] * run.slurm.nodes, [0] * run.slurm.nodes
    if isinstance(run, RLRun):
        tp = run.rollout.tensor_parallel
        judge = _place_judge(run, learners, per_node)
        engines = _place_engines(run, learners, judge, per_node)
    nodes = tuple(NodePlan(i, learners[i], engines[i], judge[i]) for i in range(run.slurm.nodes))
    world = sum(learners)
    state_gb = _learner_state_gb(run, world)
    _check_memory(run, state_gb)
    return Plan(
        stage=run.stage,
        device="gpu" if run.slurm.gpus_per_node else "cpu",
        devices_per_node=per_node,
        mode=run.placement.mode if isinstance(run, RLRun) else "separate",
        nodes=nodes,
        tensor_parallel=tp,
        grad_accum=_grad_accum(run, world),
        training_steps=run.rl.total_episodes // run.rollout.samples_per_step if isinstance(run, RLRun) else 0,
        learner_state_gb=state_gb,
    )


def _learners_per_node(run: Run, per_node: int) -> list[int]:
    nodes, given = run.slurm.nodes, run.placement.learners_per_node
    if not given:
        if isinstance(run, RLRun) and run.placement.mode == "separate":
            raise PlanError("placement.learners_per_node: required for RL in separate mode, e.g. `8 8`")
        return [per_node] * nodes
    if len(given) > nodes:
        raise PlanError(f"placement.learners_per_node: {len(given)} entries for slurm.nodes {nodes}")
    if any(n < 0 or n > per_node for n in given):
        raise PlanError(f"placement.learners_per_node: {list(given)} exceeds {per_node} devices per node")
    counts = list(given) + [0] * (nodes - len(given))
    if not sum(counts):
        raise PlanError("placement.learners_per_node: no learners placed")
    return counts


def _place_judge(run: RLRun, learners: list[int], per_node: int) -> list[int]:
    """The judge takes whole free devices from the last nodes (it never shares with learners)."""
    need, judge = run.reward.judge_gpus, [0] * len(learners)
    for i in reversed(range(len(learners))):
        free = per_node - (learners[i] if run.placement.mode == "separate" else 0)
        take = min(need, free - free % run.reward.judge_tensor_parallel)
        judge[i], need = take, need - take
    if need:
        raise PlanError(f"reward.judge_gpus: {run.reward.judge_gpus} do not fit beside the learners")
    return judge


def _place_engines(run: RLRun, learners: list[int], judge: list[int], per_node: int) -> list[tuple[int, ...]]:
    tp, wanted = run.rollout.tensor_parallel, run.rollout.num_engines
    if run.slurm.gpus_per_node and per_node % tp:
        raise PlanError(f"rollout.tensor_parallel: {tp} does not divide {per_node} GPUs per node")
    colocated = run.placement.mode == "colocated"
    placed: list[tuple[int, ...]] = []
    next_id = 0
    for i in range(len(learners)):
        free = (learners[i] if colocated else per_node - learners[i]) - judge[i]
        count = min(max(free, 0) // tp, wanted - next_id)
        placed.append(tuple(range(next_id, next_id + count)))
        next_id += count
    if next_id < wanted:
        total = len(learners) * per_node
        used = sum(judge) + (0 if colocated else sum(learners))
        raise PlanError(
            f"{wanted} engines x tp {tp} do not fit: learners {sum(learners)} + engines {wanted * tp}"
            f" + judge {sum(judge)} devices on {len(learners)} nodes x {per_node} = {total}"
            f" ({total - used} free{' learner devices for colocated engines' if colocated else ''})"
        )
    return placed


def _learner_state_gb(run: Run, world: int) -> float:
    stage, ds = run.deepspeed.zero_stage, run.deepspeed
    optim = 0.0 if ds.offload_optimizer else _OPTIM / (world if stage >= 1 else 1)
    grad = _GRAD / (world if stage >= 2 else 1)
    param = 0.0 if ds.offload_params else _PARAM / (world if stage >= 3 else 1)
    return run.model.params_b * (optim + grad + param)


def _check_memory(run: Run, state_gb: float) -> None:
    if not run.slurm.gpus_per_node:
        return
    budget = run.slurm.gpu_mem_gb * _USABLE_GPU_FRACTION
    if state_gb > budget:
        fix = "add learners (nodes or placement.learners_per_node)"
        fix += " or offload (deepspeed.offload_optimizer)" if run.deepspeed.zero_stage == 3 else " or use deepspeed.zero_stage 3"
        raise PlanError(
            f"a {run.model.params_b:g}B learner group needs ~{state_gb:.0f} GB per GPU with ZeRO-"
            f"{run.deepspeed.zero_stage} over its learners, more than {budget:.0f} GB usable of "
            f"{run.slurm.gpu_mem_gb} GB: {fix}"
        )


def _grad_accum(run: Run, world: int) -> int:
    if not isinstance(run, SFTRun) or not run.train.global_batch_tokens:
        return run.train.grad_accum
    per_micro_step = run.data.max_seq_length * run.train.micro_batch_size * world
    accum, rest = divmod(run.train.global_batch_tokens, per_micro_step)
    if rest or not accum:
        raise PlanError(
            f"train.global_batch_tokens {run.train.global_batch_tokens} is not a multiple of "
            f"max_seq_length {run.data.max_seq_length} x micro_batch_size {run.train.micro_batch_size} "
            f"x {world} learners = {per_micro_step}"
        )
    return accum


__all__ = ["Plan", "NodePlan", "PlanError", "plan"]
